"""Fixtures for the GitHub gateway: an App key, a fake clock, and GitHub's API mocked with respx.

Every request the gateway sends through the `github_api` router is checked, when the test ends,
against the REST routes of `@octokit/openapi` (tests/fixtures/github/routes.json).
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import respx

from bot.github.client import GitHubGateway
from tests.unit.github.support import API, FakeClock, check_calls_documented


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """A fake clock githubkit sleeps on between retries (it calls `time.sleep` itself)."""
    fake = FakeClock()
    monkeypatch.setattr("githubkit.core.time", SimpleNamespace(sleep=fake.sleep))
    return fake


@pytest.fixture
def github_api() -> Iterator[respx.MockRouter]:
    """api.github.com mocked at the HTTP level; unknown routes are checked at the end."""
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as router:
        yield router
        check_calls_documented(router)


@pytest.fixture
def gateway(private_key: str, clock: FakeClock) -> GitHubGateway:
    """A gateway for App 42 on api.github.com that never really sleeps."""
    return GitHubGateway(42, private_key, API)
