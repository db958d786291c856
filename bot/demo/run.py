"""The demo's run: the bundled project as a git repository, the recording as the model."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import yaml
from rich.console import Console

from bot.demo.recorded import MODEL_NAME, RecordedModel, load_answers, serve_recording
from bot.runtime.local import run_local_pipeline
from bot.shared.config import Settings
from bot.store.runs import Store

NOTE = (
    "This run was `draftsmith demo`: the model's answers were recorded answers, not a live "
    "model. The sandbox, the environment setup, the tests and the evidence are real."
)


def make_project(folder: Path) -> Path:
    """The bundled project, written to `folder` and committed as a git repository."""
    text = resources.files("bot.demo").joinpath("project.yml").read_text(encoding="utf-8")
    files: dict[str, str] = yaml.safe_load(text)
    for path, content in files.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    env = {**os.environ, "GIT_AUTHOR_NAME": "demo", "GIT_AUTHOR_EMAIL": "demo@example.invalid",
           "GIT_COMMITTER_NAME": "demo", "GIT_COMMITTER_EMAIL": "demo@example.invalid"}  # fmt: skip
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "wordcount"]):
        subprocess.run(["git", "-C", str(folder), *argv], check=True, env=env, capture_output=True)
    return folder


@contextmanager
def recorded_model_environment() -> Iterator[None]:
    """OPENAI_BASE_URL and OPENAI_API_KEY pointing at the recording, for this block only."""
    saved = {k: os.environ.get(k) for k in ("OPENAI_BASE_URL", "OPENAI_API_KEY")}
    with serve_recording(RecordedModel(load_answers())) as url:
        os.environ["OPENAI_BASE_URL"] = url
        os.environ["OPENAI_API_KEY"] = "demo-recorded-answers-no-key"
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def run_demo(folder: Path, console: Console) -> tuple[int, Store, int]:
    """Run the demo in `folder`: (exit code, the demo's store, the run's id)."""
    folder.mkdir(parents=True, exist_ok=True)
    repo = make_project(folder / "wordcount")
    settings = Settings(
        database_url=f"sqlite:///{folder / 'draftsmith.db'}",
        queue_url=f"sqlite:///{folder / 'queue.db'}",
        work_dir=folder / "work",
        model=MODEL_NAME,
    )
    store = Store(settings.database_url)
    store.migrate()
    console.print(
        "[bold]draftsmith demo[/bold]: recorded answers, not a live model; the sandbox, the "
        "environment setup and the tests are real."
    )
    console.print(f"repository: {repo}")
    request = str(load_answers()["request"])
    console.print(f"request: {request.splitlines()[0]}")
    with recorded_model_environment():
        code = run_local_pipeline(settings, repo, request, console, store, note=NOTE)
    run_id = max(r.id for r in store.list_runs())
    return code, store, run_id
