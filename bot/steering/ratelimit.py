"""Per-installation rate limits on runs and comment commands, counted in the run store.

The limits come from the policy (`max_runs_per_hour_per_installation`,
`max_commands_per_hour_per_installation`, `max_commands_per_hour_per_sender`); a limit of 0
allows none. Commands are counted by the order GitHub's deliveries were received, so every worker
reaches the same verdict for the same delivery, and only the first command over a limit in a
window gets a reply. The installation's count leaves out commands that could never act (from
people without write access, or past their sender's limit): a flood from one account cannot
spend a team's budget.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.policy.decide import Policy
from bot.store.runs import Store
from bot.store.tables import as_aware, utcnow

logger = logging.getLogger(__name__)

WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Verdict:
    """Whether an action may go ahead, whether to tell the sender so, and why."""

    allowed: bool
    reply: bool
    detail: str
    count: int = 0  # this delivery's place among those counted in the window (0: not counted)


ALLOWED = Verdict(True, False, "within the rate limit")


class RateLimiter:
    """Decides, from the store's counts, whether an installation may start a run or a command."""

    def __init__(self, store: Store, policy: Policy) -> None:
        self.store = store
        self.policy = policy

    def command(self, installation_id: int | None, delivery_id: str) -> Verdict:
        """The verdict on the comment command of delivery `delivery_id`."""
        if installation_id is None:
            return ALLOWED
        at = self._received(delivery_id)
        count = self.store.count_command_deliveries(installation_id, since=at - WINDOW, until=at)
        limit = self.policy.max_commands_per_hour_per_installation
        if count <= limit:
            return ALLOWED
        detail = f"command {count} this hour on installation {installation_id} (limit {limit})"
        log = {"delivery_id": delivery_id}
        logger.warning("comment command rate-limited: %s", detail, extra=log)
        return Verdict(False, count == limit + 1, detail)

    def sender(self, installation_id: int | None, login: str, delivery_id: str) -> Verdict:
        """The verdict on one more comment command from `login` (counted with all of theirs)."""
        if installation_id is None:
            return ALLOWED
        at = self._received(delivery_id)
        count = self.store.count_command_deliveries(
            installation_id, since=at - WINDOW, until=at, sender=login
        )
        limit = self.policy.max_commands_per_hour_per_sender
        if count <= limit:
            return Verdict(True, False, "within the sender's rate limit", count)
        detail = f"command {count} this hour from {login} (limit {limit})"
        logger.warning(
            "comment command rate-limited: %s", detail, extra={"delivery_id": delivery_id}
        )
        return Verdict(False, count == limit + 1, detail, count)

    def _received(self, delivery_id: str) -> datetime:
        delivery = self.store.get_delivery(delivery_id)
        received = as_aware(delivery.received_at) if delivery is not None else None
        return received or utcnow()

    def run(self, installation_id: int | None) -> Verdict:
        """The verdict on starting one more run for the installation now."""
        if installation_id is None:
            return ALLOWED
        count = self.store.count_runs_since(installation_id, utcnow() - WINDOW)
        limit = self.policy.max_runs_per_hour_per_installation
        if count < limit:
            return ALLOWED
        detail = f"{count} runs in the last hour for installation {installation_id} (limit {limit})"
        logger.warning("run rate-limited: %s", detail)
        return Verdict(False, True, detail)
