"""Retries: 5xx with backoff, primary and secondary rate limits, bounded attempts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bot.github.client import GitHubGateway
from bot.shared.errors import GitHubError
from tests.helpers.fake_github import FakeGitHub, error
from tests.unit.github.support import FakeClock

REPO = "/repos/octo/widgets"
TOKENS = "/app/installations/77/access_tokens"


def test_server_error_is_retried_with_backoff_then_succeeds(
    fake_github: FakeGitHub, gateway: GitHubGateway, clock: FakeClock
) -> None:
    fake_github.default_branch = "trunk"
    fake_github.script("GET", REPO, error(502, "Server Error"), error(503, "Service Unavailable"))

    repo = gateway.installation(77).repository("octo/widgets")

    assert repo.default_branch == "trunk"
    assert len(fake_github.calls("GET", REPO)) == 3
    assert len(clock.slept) == 2
    assert 1.0 <= clock.slept[0] < 2.0 <= clock.slept[1] < 4.0


def test_server_errors_exhausted_raise_github_error_with_status_and_hint(
    fake_github: FakeGitHub, gateway: GitHubGateway, clock: FakeClock
) -> None:
    fake_github.script("GET", REPO, *[error(500, "Server Error")] * gateway.retry.max_attempts)

    with pytest.raises(GitHubError) as caught:
        gateway.installation(77).repository("octo/widgets")

    assert caught.value.status == 500
    assert "githubstatus" in caught.value.hint
    assert len(fake_github.calls("GET", REPO)) == gateway.retry.max_attempts == 4
    assert len(clock.slept) == 3


@pytest.mark.parametrize("status", [403, 429], ids=["403", "429"])
def test_primary_rate_limit_waits_until_reset(
    fake_github: FakeGitHub, gateway: GitHubGateway, clock: FakeClock, status: int
) -> None:
    reset = int((datetime.now(UTC) + timedelta(seconds=120)).timestamp())
    limited = httpx.Response(
        status,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
        json={"message": "API rate limit exceeded for installation ID 77."},
    )
    fake_github.script("GET", REPO, limited)

    gateway.installation(77).repository("octo/widgets")

    assert len(fake_github.calls("GET", REPO)) == 2
    # until the reset (120s from when the test began, 1s lost to rounding), plus 1s of slack;
    # githubkit reads the real clock, so a slow machine waits a few seconds less
    assert len(clock.slept) == 1 and 110.0 <= clock.slept[0] <= 121.5


@pytest.mark.parametrize("status", [403, 429], ids=["403", "429"])
def test_secondary_rate_limit_honours_retry_after(
    fake_github: FakeGitHub, gateway: GitHubGateway, clock: FakeClock, status: int
) -> None:
    limited = httpx.Response(
        status,
        headers={"retry-after": "30", "x-ratelimit-remaining": "4000"},
        json={"message": "You have exceeded a secondary rate limit."},
    )
    fake_github.script("GET", REPO, limited)

    gateway.installation(77).repository("octo/widgets")

    assert len(fake_github.calls("GET", REPO)) == 2
    assert clock.slept == [30.0]


def test_rate_limit_reset_beyond_the_longest_wait_fails_at_once(
    fake_github: FakeGitHub, gateway: GitHubGateway, clock: FakeClock
) -> None:
    reset = int((datetime.now(UTC) + timedelta(hours=1)).timestamp())
    limited = httpx.Response(
        403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
        json={"message": "API rate limit exceeded"},
    )
    fake_github.script("GET", REPO, limited)

    with pytest.raises(GitHubError) as caught:
        gateway.installation(77).repository("octo/widgets")

    assert caught.value.status == 403
    assert "rate limit" in caught.value.hint
    assert clock.slept == []


def test_client_error_is_not_retried(
    fake_github: FakeGitHub, gateway: GitHubGateway, clock: FakeClock
) -> None:
    no_commits = [{"resource": "PullRequest", "code": "custom", "message": "No commits"}]
    fake_github.script("POST", f"{REPO}/pulls", error(422, "Validation Failed", no_commits))

    with pytest.raises(GitHubError) as caught:
        gateway.installation(77).pulls.create_draft(
            "octo/widgets", title="t", body="b", head="draftsmith/x", base="main"
        )

    assert caught.value.status == 422
    assert "No commits" in caught.value.message
    assert len(fake_github.calls("POST", f"{REPO}/pulls")) == 1 and clock.slept == []
    assert fake_github.pulls == {}


def test_network_errors_are_retried_then_reported(
    fake_github: FakeGitHub, gateway: GitHubGateway, clock: FakeClock
) -> None:
    refused = [httpx.ConnectError("connection refused")] * gateway.retry.max_attempts
    fake_github.script("POST", TOKENS, *refused)

    with pytest.raises(GitHubError) as caught:
        gateway.installation(77).token()

    assert caught.value.status is None
    assert "DRAFTSMITH_GITHUB_API_URL" in caught.value.hint
    assert len(fake_github.calls("POST", TOKENS)) == 4 and len(clock.slept) == 3
