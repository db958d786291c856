"""The local pipeline (`draftsmith run`) on a repository, with the model scripted at its HTTP
boundary: the one set-up the language pipeline tests share."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from bot.runtime.local import run_local_pipeline
from bot.shared.config import Settings
from bot.store.runs import Store
from bot.store.tables import Run
from tests.helpers.local_runs import local_settings
from tests.helpers.scripted_model import ScriptedModel, serve_model


@dataclass
class LocalRun:
    """What one local pipeline run left: its exit code, the store and its run."""

    code: int
    store: Store
    run: Run
    settings: Settings
    output: str

    def artifact(self, name: str) -> Any:
        """A stored JSON artifact of the run (`testoutcome.r0`, `testreport.r0`, ...)."""
        return json.loads(self.store.get_artifact(self.run.id, name).content)


RunPipeline = Callable[..., LocalRun]


@pytest.fixture
def local_pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunPipeline:
    """run(repo, script, request="...", before=None) -> LocalRun, on a fresh store and work dir.

    `before(settings)` runs first (to seed a cache, say)."""

    def run(
        repo: Path,
        script: dict[str, list[Any]],
        request: str = "Add subtract",
        before: Callable[[Settings], None] | None = None,
    ) -> LocalRun:
        settings = local_settings(tmp_path)
        if before is not None:
            before(settings)
        store = Store(settings.database_url)
        console = Console(record=True, width=200)
        with serve_model(ScriptedModel(script)) as url:
            monkeypatch.setenv("OPENAI_BASE_URL", url)
            monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000000000000")
            code = run_local_pipeline(settings, repo, request, console, store=store)
        runs = store.list_runs()
        assert len(runs) == 1
        return LocalRun(code, store, runs[0], settings, console.export_text())

    return run
