"""Fixtures for the GitHub gateway: an App key, a fake clock, and GitHub's API mocked with respx.

Every request the gateway sends through the `github_api` router is checked, when the test ends,
against the REST routes of `@octokit/openapi` (tests/fixtures/github/routes.json). GitHub itself is
`fake_github` (tests/helpers/fake_github.py), served through that router: a test sets its state,
or scripts a failure with `fake_github.script(...)`, rather than declaring routes of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import respx

from bot.github.client import GitHubGateway
from tests.helpers.fake_github import FakeGitHub
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
def fake_github(github_api: respx.MockRouter) -> FakeGitHub:
    """GitHub's state for octo/widgets, served through `github_api`."""
    return FakeGitHub().install(github_api)


@pytest.fixture
def gateway(private_key: str, clock: FakeClock) -> GitHubGateway:
    """A gateway for App 42 on api.github.com that never really sleeps."""
    return GitHubGateway(42, private_key, API)
