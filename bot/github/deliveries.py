"""Catch-up: redeliver the App's webhook deliveries that failed recently and never succeeded."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from bot.github.answers import read_list
from bot.github.models import delivery_ok
from bot.github.objects import HookDelivery
from bot.github.transport import API_VERSION, GitHubClient
from bot.shared.errors import GitHubError

logger = logging.getLogger(__name__)

DEFAULT_WINDOW = timedelta(days=3)
"""GitHub keeps deliveries for 3 days; older ones cannot be redelivered."""


def recent_deliveries(
    app: GitHubClient, since: datetime, max_items: int = 5_000
) -> list[HookDelivery]:
    """Deliveries made at or after `since`, newest first, following GitHub's cursor pagination."""
    rest = app.rest(API_VERSION)
    collected: list[HookDelivery] = []
    pages = app.rest.paginate(
        rest.apps.list_webhook_deliveries,
        map_func=lambda response: read_list(HookDelivery, response, "GET app/hook/deliveries"),
        per_page=100,
    )
    for delivery in pages:
        if delivery.delivered_at < since:
            return collected
        collected.append(delivery)
        if len(collected) >= max_items:
            logger.warning("stopped listing deliveries after %d", max_items)
            break
    return collected


def deliveries_to_redeliver(deliveries: list[HookDelivery]) -> list[HookDelivery]:
    """One failed delivery per guid (the newest) for guids that have no successful attempt."""
    succeeded = {d.guid for d in deliveries if delivery_ok(d)}
    chosen: dict[str, HookDelivery] = {}
    for delivery in deliveries:
        if delivery_ok(delivery) or delivery.guid in succeeded:
            continue
        current = chosen.get(delivery.guid)
        if current is None or delivery.delivered_at > current.delivered_at:
            chosen[delivery.guid] = delivery
    return sorted(chosen.values(), key=lambda d: d.delivered_at)


def redeliver_failed(
    app: GitHubClient, now: datetime | None = None, window: timedelta = DEFAULT_WINDOW
) -> list[int]:
    """Redeliver failed deliveries within `window` before `now`; returns the ids redelivered."""
    now = now if now is not None else datetime.now(UTC)
    failed = deliveries_to_redeliver(recent_deliveries(app, now - window))
    rest = app.rest(API_VERSION)
    redelivered: list[int] = []
    for delivery in failed:
        try:
            rest.apps.redeliver_webhook_delivery(delivery.id)
        except GitHubError as exc:  # one refused delivery must not block the others
            logger.error(
                "could not redeliver %s (delivery %d): %s", delivery.guid, delivery.id, exc
            )
            continue
        redelivered.append(delivery.id)
        logger.info(
            "redelivered %s (%s.%s, delivery %d, status %s %d)",
            delivery.guid,
            delivery.event,
            delivery.action,
            delivery.id,
            delivery.status,
            delivery.status_code,
        )
    return redelivered
