"""Leases with a heartbeat: a dead worker's run or delivery is taken over within seconds.

A run lock (`runs.locked_by`/`locked_until`) and a delivery being handled (`deliveries.outcome =
processing`, `processed_at`) are leases of `ttl_s` seconds that the holder renews every
`ttl_s / 3` while it works (`Heartbeat`). A worker killed at any instant stops renewing; the
reaper of any live worker, on any host, then takes the work back:

- a run whose lock expired is unlocked and queued again;
- an unfinished, unlocked run nobody touched for `stale_s` is queued again (its queue message
  was taken by a worker that died before claiming it);
- a delivery left `processing` without a heartbeat, or `dispatched` for `stale_s` without being
  claimed, is dispatched again.

Each takeover is one conditional UPDATE ... RETURNING, so two reapers never take the same work;
a duplicate queue message is harmless (the run lock and the delivery claim refuse the second).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from types import TracebackType

from sqlalchemy import update

from bot.run.states import ACTIVE
from bot.shared.errors import DraftsmithError
from bot.store.runs import Store
from bot.store.tables import Delivery, Run, utcnow
from bot.store.vocabulary import DeliveryState

logger = logging.getLogger(__name__)


class Heartbeat:
    """Calls `beat` every `interval_s` in a daemon thread while the `with` block runs."""

    def __init__(self, interval_s: float, beat: Callable[[], bool], what: str) -> None:
        self.interval_s = interval_s
        self.beat = beat
        self.what = what
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat {what}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval_s + 5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                held = self.beat()
            except DraftsmithError as exc:
                logger.warning("heartbeat of %s not recorded: %s", self.what, exc)
                continue
            if not held:
                logger.error(
                    "%s: the lease was lost (another worker took it over after a missed "
                    "heartbeat); this worker's result may be discarded",
                    self.what,
                )


@dataclass(frozen=True)
class Reaped:
    """Work the reaper took back: runs to queue again and deliveries to dispatch again."""

    runs: list[int] = field(default_factory=list)
    deliveries: list[str] = field(default_factory=list)


class Leases:
    """Claims, renews and takes over leases on runs and deliveries in the run store."""

    def __init__(self, store: Store, *, ttl_s: float, stale_s: float) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.stale_s = stale_s

    @property
    def heartbeat_s(self) -> float:
        """How often a holder renews its lease."""
        return max(self.ttl_s / 3, 0.2)

    # runs ------------------------------------------------------------------------------------
    def claim_run(self, run_id: int, owner: str) -> bool:
        """Take the run's lock unless another holder's lease is still alive."""
        return self.store.claim_run(run_id, owner, ttl_s=self.ttl_s)

    def renew_run(self, run_id: int, owner: str) -> bool:
        """Extend `owner`'s lock on the run; False when `owner` no longer holds it."""
        with self.store.session() as s:
            result = s.execute(
                update(Run)
                .where(Run.id == run_id, Run.locked_by == owner)
                .values(locked_until=utcnow() + timedelta(seconds=self.ttl_s))
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def run_heartbeat(self, run_id: int, owner: str) -> Heartbeat:
        """Renew the run's lock while the `with` block runs."""
        return Heartbeat(self.heartbeat_s, lambda: self.renew_run(run_id, owner), f"run {run_id}")

    # deliveries --------------------------------------------------------------------------------
    def renew_delivery(self, delivery_id: str) -> bool:
        """Note that the delivery being handled is still alive."""
        with self.store.session() as s:
            result = s.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id, Delivery.outcome == DeliveryState.processing)
                .values(processed_at=utcnow())
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def delivery_heartbeat(self, delivery_id: str) -> Heartbeat:
        """Renew the delivery's lease while the `with` block runs."""
        return Heartbeat(
            self.heartbeat_s, lambda: self.renew_delivery(delivery_id), f"delivery {delivery_id}"
        )

    # takeover ----------------------------------------------------------------------------------
    def reap(self) -> Reaped:
        """Take back runs and deliveries of dead workers (see the module docstring)."""
        now = utcnow()
        expired = now - timedelta(seconds=self.ttl_s)
        stale = now - timedelta(seconds=self.stale_s)
        with self.store.session() as s:
            dead_locks = s.scalars(
                update(Run)
                .where(
                    Run.status.in_(sorted(ACTIVE)),
                    Run.locked_by.is_not(None),
                    Run.locked_until < now,
                )
                .values(locked_by=None, locked_until=None, updated_at=now)
                .returning(Run.id)
            ).all()
            lost = s.scalars(
                update(Run)
                .where(
                    Run.status.in_(sorted(ACTIVE)), Run.locked_by.is_(None), Run.updated_at < stale
                )
                .values(updated_at=now)
                .returning(Run.id)
            ).all()
            deliveries = s.scalars(
                update(Delivery)
                .where(
                    (
                        (Delivery.outcome == DeliveryState.processing)
                        & (Delivery.processed_at < expired)
                    )
                    | (
                        (Delivery.outcome == DeliveryState.dispatched)
                        & (Delivery.processed_at < stale)
                    )
                )
                .values(outcome=DeliveryState.dispatched, processed_at=now)
                .returning(Delivery.id)
            ).all()
        if dead_locks:
            logger.warning("took over %d run(s) of dead workers: %s", len(dead_locks), dead_locks)
        if lost:
            logger.warning("queued again %d run(s) whose message was lost: %s", len(lost), lost)
        if deliveries:
            logger.warning("dispatched again %d delivery(ies) of dead workers", len(deliveries))
        return Reaped(sorted({*dead_locks, *lost}), list(deliveries))
