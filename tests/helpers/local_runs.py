"""The local pipeline (`draftsmith run`) on a repository made of given files, with a scripted model
at the HTTP boundary, and what a run stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from bot.runtime.local import run_local_pipeline
from bot.shared.config import Settings
from bot.store.runs import Store
from bot.store.tables import Run
from tests.helpers.repos import make_repo
from tests.helpers.scripted_model import ScriptedModel, serve_model

Outcome = tuple[int, Store, Run, ScriptedModel]


def local_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings of a local run under `tmp_path`: SQLite store, work dir, the scripted model."""
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        work_dir=tmp_path / "work",
        model="scripted-model",
        **overrides,
    )


def run_locally(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    files: dict[str, str],
    script: dict[str, list[Any]],
    request: str,
) -> Outcome:
    """One local run on a repository of `files`: (exit code, store, the run, the model)."""
    repo = make_repo(tmp_path / "repo", files)
    settings = local_settings(tmp_path)
    store = Store(settings.database_url)
    model = ScriptedModel(script)
    with serve_model(model) as url:
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000000000000")
        code = run_local_pipeline(settings, repo, request, Console(width=200), store=store)
    (only,) = store.list_runs()
    return code, store, only, model


def outcome_of(store: Store, run: Run) -> dict[str, Any]:
    """The run's last test outcome (bot.agents.tester.TestOutcome, as stored)."""
    artifact = store.get_artifact(run.id, f"testoutcome.r{run.revision}")
    assert artifact is not None
    return dict(json.loads(artifact.content))


def evidence_of(store: Store, run: Run) -> str:
    """The evidence report the run wrote (the PR body's text)."""
    artifact = store.get_artifact(run.id, "evidence_path")
    assert artifact is not None
    return Path(artifact.content).read_text()
