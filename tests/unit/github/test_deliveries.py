"""Webhook deliveries: cursor pagination with the App JWT, and catch-up redelivery."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import respx

from bot.github.client import GitHubGateway, catch_up
from bot.github.deliveries import recent_deliveries
from bot.github.models import delivery_ok
from tests.helpers import github_objects as objects
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


def test_recent_deliveries_use_the_app_jwt_and_follow_the_cursor(
    github_api: respx.MockRouter, gateway: GitHubGateway
) -> None:
    route = github_api.get(DELIVERIES)
    route.side_effect = lambda request: (
        respx.MockResponse(200, json=[delivery(2, "g2", START - timedelta(hours=2))])
        if request.url.params.get("cursor") == "v1_abc"
        else respx.MockResponse(200, json=[delivery(1, "g1", START)], headers=_next("v1_abc"))
    )

    found = recent_deliveries(gateway.app, since=START - timedelta(days=1))

    assert route.calls[0].request.headers["Authorization"].startswith("Bearer ")
    assert route.calls[0].request.url.params["per_page"] == "100"
    assert route.calls[1].request.url.params["cursor"] == "v1_abc"
    assert [(d.id, d.guid, delivery_ok(d)) for d in found] == [(1, "g1", True), (2, "g2", True)]


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
    github_api: respx.MockRouter, gateway: GitHubGateway
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

    assert catch_up(gateway, now=START) == [1]
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
