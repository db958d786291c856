"""End-to-end fixtures: a Draftsmith runtime with a fake GitHub at the HTTP boundary."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.config import Settings
from bot.runtime import Runtime
from bot.store.tables import Run
from tests.helpers.fake_github import FakeGitHub

WEBHOOK_SECRET = "e2e-webhook-secret-0123456789abcdef"


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


class RunWatcher:
    """Signals when a run stops advancing (terminal or waiting), without polling."""

    def __init__(self, runtime: Runtime) -> None:
        self.settled = threading.Event()
        self.runs: list[Run] = []
        original = runtime.advance
        self.deliveries_done = threading.Event()
        original_delivery = runtime.handle_delivery

        def advance(run_id: int) -> None:
            original(run_id)
            run = runtime.store.get_run(run_id)
            if run.status not in ("queued", "running"):
                self.runs.append(run)
                self.settled.set()

        def handle_delivery(delivery_id: str) -> None:
            original_delivery(delivery_id)
            self.deliveries_done.set()

        runtime.queue.bind(handle_delivery, advance)


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """GitHub's API for octo/widgets, served at the HTTP boundary."""
    github = FakeGitHub(repo="octo/widgets")
    with github.mock():
        yield github
