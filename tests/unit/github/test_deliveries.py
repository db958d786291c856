"""Webhook deliveries: cursor pagination with the App JWT, and catch-up redelivery."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from bot.github.client import GitHubGateway, catch_up
from bot.github.deliveries import recent_deliveries
from bot.github.models import delivery_ok
from tests.helpers import github_objects as objects
from tests.helpers.fake_github import FakeGitHub, error
from tests.unit.github.support import API, START

DELIVERIES = "/app/hook/deliveries"


def delivery(
    id_: int,
    guid: str,
    at: datetime,
    *,
    status: str = "OK",
    code: int = 200,
    redelivery: bool = False,
) -> dict[str, object]:
    """A hook-delivery-item, as in GitHub's example."""
    return objects.delivery(
        id_,
        guid,
        at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        status=status,
        code=code,
        redelivery=redelivery,
    )


def _next(cursor: str) -> dict[str, str]:
    return {"Link": f'<{API}{DELIVERIES}?per_page=100&cursor={cursor}>; rel="next"'}


def _pages(api: FakeGitHub, *pages: list[dict[str, Any]]) -> None:
    """GitHub's answers to the listing, one page each, cursor-linked (`v1_page2`, ...)."""
    answers = [
        httpx.Response(
            200, json=page, headers=_next(f"v1_page{n + 2}") if n + 1 < len(pages) else {}
        )
        for n, page in enumerate(pages)
    ]
    api.script("GET", DELIVERIES, *answers)


def _redeliverable(api: FakeGitHub, *pages: list[dict[str, Any]]) -> list[str]:
    """The deliveries GitHub keeps (to redeliver); the guids it redelivers, in order."""
    redelivered: list[str] = []

    def deliver(guid: str, event: str, payload: dict[str, Any]) -> int:
        redelivered.append(guid)
        return 202

    api.hook_deliveries = [item for page in pages for item in page]
    api.hook_payloads = {str(item["guid"]): ("issues", {}) for item in api.hook_deliveries}
    api.deliver = deliver
    return redelivered


def test_recent_deliveries_use_the_app_jwt_and_follow_the_cursor(
    fake_github: FakeGitHub, gateway: GitHubGateway
) -> None:
    _pages(
        fake_github,
        [delivery(1, "g1", START)],
        [delivery(2, "g2", START - timedelta(hours=2))],
    )

    found = recent_deliveries(gateway.app, since=START - timedelta(days=1))

    first, second = fake_github.calls("GET", DELIVERIES)
    assert first.headers["Authorization"].startswith("Bearer ")
    assert first.url.params["per_page"] == "100"
    assert second.url.params["cursor"] == "v1_page2"
    assert [(d.id, d.guid, delivery_ok(d)) for d in found] == [(1, "g1", True), (2, "g2", True)]


def test_catch_up_redelivers_only_failed_deliveries_that_never_succeeded(
    fake_github: FakeGitHub, gateway: GitHubGateway
) -> None:
    hour = timedelta(hours=1)
    first_page = [
        delivery(10, "ok", START - hour),
        delivery(11, "failed-then-redelivered-ok", START - 2 * hour, redelivery=True),
        delivery(
            12, "failed-twice", START - 3 * hour, code=502, status="Bad Gateway", redelivery=True
        ),
        delivery(13, "timed-out", START - 4 * hour, code=0, status="Timed out"),
    ]
    second_page = [
        delivery(
            20,
            "failed-then-redelivered-ok",
            START - 5 * hour,
            code=500,
            status="Internal Server Error",
        ),
        delivery(21, "failed-twice", START - 6 * hour, code=502, status="Bad Gateway"),
        delivery(22, "refused-signature", START - 7 * hour, code=401, status="Unauthorized"),
        delivery(
            23,
            "too-old",
            START - timedelta(days=3, hours=1),
            code=500,
            status="Internal Server Error",
        ),
    ]
    _pages(fake_github, first_page, second_page)
    guids = _redeliverable(fake_github, first_page, second_page)

    redelivered = catch_up(gateway, now=START)

    # oldest first; one attempt per guid (the newest failed one); ok and too-old guids skipped
    assert redelivered == [22, 13, 12]
    assert [r.url.path for r in fake_github.calls("POST", rf"{DELIVERIES}/\d+/attempts")] == [
        f"{DELIVERIES}/{id_}/attempts" for id_ in (22, 13, 12)
    ]
    assert guids == ["refused-signature", "timed-out", "failed-twice"]
    assert len(fake_github.calls("GET", DELIVERIES)) == 2


def test_catch_up_stops_paging_at_the_window(
    fake_github: FakeGitHub, gateway: GitHubGateway
) -> None:
    page = [
        delivery(1, "recent", START - timedelta(hours=1), code=500, status="failed"),
        delivery(2, "old", START - timedelta(days=4), code=500, status="failed"),
    ]
    _pages(fake_github, page, [delivery(3, "older", START - timedelta(days=5))])
    guids = _redeliverable(fake_github, page)

    assert catch_up(gateway, now=START) == [1]
    assert guids == ["recent"]
    assert len(fake_github.calls("GET", DELIVERIES)) == 1


def test_catch_up_continues_past_a_refused_redelivery(
    fake_github: FakeGitHub, gateway: GitHubGateway, caplog: pytest.LogCaptureFixture
) -> None:
    page = [
        delivery(1, "a", START - timedelta(hours=1), code=500, status="failed"),
        delivery(2, "b", START - timedelta(hours=2), code=500, status="failed"),
    ]
    _pages(fake_github, page)
    guids = _redeliverable(fake_github, page)
    fake_github.script("POST", f"{DELIVERIES}/2/attempts", error(422, "Validation Failed", []))

    assert catch_up(gateway, now=START) == [1]
    assert guids == ["a"]
    assert "could not redeliver b" in caplog.text
