"""End-to-end fixtures: a Draftsmith runtime with a fake GitHub at the HTTP boundary."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.shared.config import Settings
from tests.helpers.draftsmith import WEBHOOK_SECRET, RunWatcher
from tests.helpers.fake_github import FakeGitHub
from tests.helpers.repos import PYTHON_FILES

__all__ = ["WEBHOOK_SECRET", "RunWatcher"]


@pytest.fixture
def settings(tmp_path: Path, private_key: str) -> Settings:
    """Settings of one test installation: SQLite store and queue in tmp_path."""
    return Settings(
        github_app_id=4242,
        github_private_key=SecretStr(private_key),
        webhook_secret=SecretStr(WEBHOOK_SECRET),
        database_url=f"sqlite:///{tmp_path / 'draftsmith.db'}",
        queue_url=f"sqlite:///{tmp_path / 'queue.db'}",
        work_dir=tmp_path / "work",
        workers=2,
        catchup_interval_s=0,
    )


@pytest.fixture
def remote(tmp_path: Path, fake_github: FakeGitHub) -> str:
    """A bare repository serving as GitHub's git remote (a file:// clone URL) and behind the
    fake's Git Data API."""
    return fake_github.serve_remote(tmp_path, PYTHON_FILES)


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """GitHub's API for octo/widgets, served at the HTTP boundary."""
    github = FakeGitHub(repo="octo/widgets")
    with github.mock():
        yield github
