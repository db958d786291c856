"""Retries: 5xx with backoff, primary and secondary rate limits, bounded attempts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from bot.github.client import GitHubGateway
from bot.shared.errors import GitHubError
from tests.helpers.github_objects import repository
from tests.unit.github.support import FakeClock, token_body

REPO = "/repos/octo/widgets"
REPO_BODY = repository()


@pytest.fixture
def tokens(github_api: respx.MockRouter) -> respx.Route:
    """The installation token endpoint, always answering."""
    return github_api.post("/app/installations/77/access_tokens").respond(201, json=token_body())


@pytest.mark.usefixtures("tokens")
def test_server_error_is_retried_with_backoff_then_succeeds(
    github_api: respx.MockRouter, gateway: GitHubGateway, clock: FakeClock
) -> None:
    route = github_api.get(REPO).mock(
        side_effect=[
            httpx.Response(502, json={"message": "Server Error"}),
            httpx.Response(503, json={"message": "Service Unavailable"}),
            httpx.Response(200, json=REPO_BODY),
        ]
    )

    repo = gateway.installation(77).repository("octo/widgets")

    assert repo.default_branch == "main"
    assert route.call_count == 3
    assert len(clock.slept) == 2
    assert 1.0 <= clock.slept[0] < 2.0 <= clock.slept[1] < 4.0


@pytest.mark.usefixtures("tokens")
def test_server_errors_exhausted_raise_github_error_with_status_and_hint(
    github_api: respx.MockRouter, gateway: GitHubGateway, clock: FakeClock
) -> None:
    route = github_api.get(REPO).respond(500, json={"message": "Server Error"})

    with pytest.raises(GitHubError) as caught:
        gateway.installation(77).repository("octo/widgets")

    assert caught.value.status == 500
    assert "githubstatus" in caught.value.hint
    assert route.call_count == gateway.retry.max_attempts == 4
    assert len(clock.slept) == 3


@pytest.mark.parametrize("status", [403, 429], ids=["403", "429"])
@pytest.mark.usefixtures("tokens")
def test_primary_rate_limit_waits_until_reset(
    github_api: respx.MockRouter, gateway: GitHubGateway, clock: FakeClock, status: int
) -> None:
    reset = int((datetime.now(UTC) + timedelta(seconds=120)).timestamp())
    limited = httpx.Response(
        status,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
        json={"message": "API rate limit exceeded for installation ID 77."},
    )
    route = github_api.get(REPO).mock(side_effect=[limited, httpx.Response(200, json=REPO_BODY)])

    gateway.installation(77).repository("octo/widgets")

    assert route.call_count == 2
    # until the reset (120s from when the test began, 1s lost to rounding), plus 1s of slack;
    # githubkit reads the real clock, so a slow machine waits a few seconds less
    assert len(clock.slept) == 1 and 110.0 <= clock.slept[0] <= 121.5


@pytest.mark.parametrize("status", [403, 429], ids=["403", "429"])
@pytest.mark.usefixtures("tokens")
def test_secondary_rate_limit_honours_retry_after(
    github_api: respx.MockRouter, gateway: GitHubGateway, clock: FakeClock, status: int
) -> None:
    limited = httpx.Response(
        status,
        headers={"retry-after": "30", "x-ratelimit-remaining": "4000"},
        json={"message": "You have exceeded a secondary rate limit."},
    )
    route = github_api.get(REPO).mock(side_effect=[limited, httpx.Response(200, json=REPO_BODY)])

    gateway.installation(77).repository("octo/widgets")

    assert route.call_count == 2
    assert clock.slept == [30.0]


@pytest.mark.usefixtures("tokens")
def test_rate_limit_reset_beyond_the_longest_wait_fails_at_once(
    github_api: respx.MockRouter, gateway: GitHubGateway, clock: FakeClock
) -> None:
    reset = int((datetime.now(UTC) + timedelta(hours=1)).timestamp())
    github_api.get(REPO).respond(
        403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
        json={"message": "API rate limit exceeded"},
    )

    with pytest.raises(GitHubError) as caught:
        gateway.installation(77).repository("octo/widgets")

    assert caught.value.status == 403
    assert "rate limit" in caught.value.hint
    assert clock.slept == []


@pytest.mark.usefixtures("tokens")
def test_client_error_is_not_retried(
    github_api: respx.MockRouter, gateway: GitHubGateway, clock: FakeClock
) -> None:
    route = github_api.post(f"{REPO}/pulls").respond(
        422,
        json={
            "message": "Validation Failed",
            "errors": [{"resource": "PullRequest", "code": "custom", "message": "No commits"}],
        },
    )

    with pytest.raises(GitHubError) as caught:
        gateway.installation(77).pulls.create_draft(
            "octo/widgets", title="t", body="b", head="draftsmith/x", base="main"
        )

    assert caught.value.status == 422
    assert "No commits" in caught.value.message
    assert route.call_count == 1 and clock.slept == []


def test_network_errors_are_retried_then_reported(
    github_api: respx.MockRouter, gateway: GitHubGateway, clock: FakeClock
) -> None:
    route = github_api.post("/app/installations/77/access_tokens").mock(
        side_effect=httpx.ConnectError("connection refused")
    )

    with pytest.raises(GitHubError) as caught:
        gateway.installation(77).token()

    assert caught.value.status is None
    assert "DRAFTSMITH_GITHUB_API_URL" in caught.value.hint
    assert route.call_count == 4 and len(clock.slept) == 3
