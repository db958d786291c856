"""Webhook deliveries: cursor pagination with the App JWT, and catch-up redelivery."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import respx

from bot.github.client import GitHubGateway
from bot.github.deliveries import catch_up
from tests.unit.github.support import API, START, FakeClock

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
    return {
        "id": id_,
        "guid": guid,
        "delivered_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "redelivery": redelivery,
        "duration": 0.27,
        "status": status,
        "status_code": code,
        "event": "issues",
        "action": "labeled",
        "installation_id": 77,
        "repository_id": 456,
        "throttled_at": None,
    }


def _next(cursor: str) -> dict[str, str]:
    return {"Link": f'<{API}{DELIVERIES}?per_page=100&cursor={cursor}>; rel="next"'}


def test_list_deliveries_uses_the_app_jwt_and_returns_the_next_cursor(
    github_api: respx.MockRouter, gateway: GitHubGateway
) -> None:
    route = github_api.get(DELIVERIES).respond(
        200, json=[delivery(1, "g1", START)], headers=_next("v1_abc")
    )

    page = gateway.list_deliveries()

    assert route.calls.last.request.headers["Authorization"].startswith("Bearer ")
    assert route.calls.last.request.url.params["per_page"] == "100"
    assert page.next_cursor == "v1_abc"
    assert [(d.id, d.guid, d.ok) for d in page.deliveries] == [(1, "g1", True)]


def test_catch_up_redelivers_only_failed_deliveries_that_never_succeeded(
    github_api: respx.MockRouter, gateway: GitHubGateway
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
    pages = github_api.get(DELIVERIES)
    pages.side_effect = lambda request: (
        respx.MockResponse(200, json=second_page)
        if request.url.params.get("cursor") == "v1_page2"
        else respx.MockResponse(200, json=first_page, headers=_next("v1_page2"))
    )
    redeliver = github_api.post(url__regex=r"/app/hook/deliveries/\d+/attempts$").respond(
        202, json={}
    )

    redelivered = catch_up(gateway, now=START)

    # oldest first; one attempt per guid (the newest failed one); ok and too-old guids skipped
    assert redelivered == [22, 13, 12]
    assert [call.request.url.path for call in redeliver.calls] == [
        f"{DELIVERIES}/{id_}/attempts" for id_ in (22, 13, 12)
    ]
    assert pages.call_count == 2


def test_catch_up_stops_paging_at_the_window(
    github_api: respx.MockRouter, gateway: GitHubGateway, clock: FakeClock
) -> None:
    pages = github_api.get(DELIVERIES).respond(
        200,
        json=[
            delivery(1, "recent", START - timedelta(hours=1), code=500, status="failed"),
            delivery(2, "old", START - timedelta(days=4), code=500, status="failed"),
        ],
        headers=_next("v1_more"),
    )
    github_api.post(f"{DELIVERIES}/1/attempts").respond(202, json={})

    assert catch_up(gateway) == [1]  # `now` defaults to the gateway's clock
    assert pages.call_count == 1


def test_catch_up_continues_past_a_refused_redelivery(
    github_api: respx.MockRouter, gateway: GitHubGateway, caplog: pytest.LogCaptureFixture
) -> None:
    github_api.get(DELIVERIES).respond(
        200,
        json=[
            delivery(1, "a", START - timedelta(hours=1), code=500, status="failed"),
            delivery(2, "b", START - timedelta(hours=2), code=500, status="failed"),
        ],
    )
    github_api.post(f"{DELIVERIES}/2/attempts").respond(
        422, json={"message": "Validation Failed", "errors": [], "documentation_url": ""}
    )
    github_api.post(f"{DELIVERIES}/1/attempts").respond(202, json={})

    assert catch_up(gateway, now=START) == [1]
    assert "could not redeliver b" in caplog.text
