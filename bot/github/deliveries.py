"""Catch-up: redeliver the App's webhook deliveries that failed recently and never succeeded."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.errors import GitHubError
from bot.github.models import WebhookDelivery

if TYPE_CHECKING:
    from bot.github.calls import DeliveryClient

logger = logging.getLogger(__name__)

DEFAULT_WINDOW = timedelta(days=3)
"""GitHub keeps deliveries for 3 days; older ones cannot be redelivered."""


def recent_deliveries(
    gateway: DeliveryClient, since: datetime, max_pages: int = 50
) -> list[WebhookDelivery]:
    """Deliveries made at or after `since`, following the cursor until older ones appear."""
    collected: list[WebhookDelivery] = []
    cursor: str | None = None
    for _ in range(max_pages):
        page = gateway.list_deliveries(cursor)
        collected.extend(d for d in page.deliveries if d.delivered_at >= since)
        reached_older = any(d.delivered_at < since for d in page.deliveries)
        if page.next_cursor is None or reached_older or not page.deliveries:
            return collected
        cursor = page.next_cursor
    logger.warning("stopped listing deliveries after %d pages", max_pages)
    return collected


def deliveries_to_redeliver(deliveries: list[WebhookDelivery]) -> list[WebhookDelivery]:
    """One failed delivery per guid (the newest) for guids that have no successful attempt."""
    succeeded = {d.guid for d in deliveries if d.ok}
    chosen: dict[str, WebhookDelivery] = {}
    for delivery in deliveries:
        if delivery.ok or delivery.guid in succeeded:
            continue
        current = chosen.get(delivery.guid)
        if current is None or delivery.delivered_at > current.delivered_at:
            chosen[delivery.guid] = delivery
    return sorted(chosen.values(), key=lambda d: d.delivered_at)


def catch_up(
    gateway: DeliveryClient, now: datetime | None = None, window: timedelta = DEFAULT_WINDOW
) -> list[int]:
    """Redeliver failed deliveries within `window` before `now`; returns the ids redelivered."""
    now = now if now is not None else gateway.clock()
    failed = deliveries_to_redeliver(recent_deliveries(gateway, now - window))
    redelivered: list[int] = []
    for delivery in failed:
        try:
            gateway.redeliver(delivery.id)
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
