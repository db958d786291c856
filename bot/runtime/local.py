"""`draftsmith run`: every step of a run on a local git repository, without GitHub."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from rich.console import Console

from bot.model.client import ModelClient
from bot.run import waiting
from bot.run.engine import Engine
from bot.run.states import ACTIVE, Status
from bot.run.transitions import Move
from bot.runtime import build_engine
from bot.shared.config import Settings
from bot.shared.errors import ModelError, WorkspaceError
from bot.store.runs import Store
from bot.store.tables import Run, utcnow
from bot.store.vocabulary import EventKind

EXIT_CODES: dict[str, int] = {
    Status.approved: 0,
    Status.needs_approval: 0,
    Status.needs_human_review: 1,
    Status.blocked_by_policy: 1,
    Status.stopped: 1,
    Status.waiting: 1,
    Status.waiting_for_model: 1,
    Status.failed: 2,
}


def check_model(settings: Settings) -> None:
    client = ModelClient(settings)
    for role in ("planner", "coder", "reviewer", "tester"):
        missing = client.missing_configuration(role)
        if missing:
            raise ModelError(
                f"no model configured: set {', '.join(missing)}",
                "export DRAFTSMITH_MODEL=<model name>, OPENAI_BASE_URL=<endpoint, e.g. "
                "http://localhost:11434/v1> and OPENAI_API_KEY=<key>",
            )


def wait_for_model(engine: Engine, run: Run, console: Console) -> Run:
    """In the foreground: wait out the run's model outage, then resume it."""
    wait = waiting.current_wait(engine.store, run.id)
    if wait is None:  # no recorded wait: nothing to wait for
        moved = engine.lifecycle.request(run.id, Move.resume, reason="resumed")
        return moved or engine.store.get_run(run.id)
    console.print(f"  {run.status_reason}")
    time.sleep(waiting.seconds_until(wait.resume_at))
    waiting.resume(engine.lifecycle, run.id, wait.number, utcnow())
    return engine.store.get_run(run.id)


def run_local_pipeline(
    settings: Settings,
    repo: Path,
    text: str,
    console: Console,
    store: Store | None = None,
    note: str | None = None,
) -> int:
    """Run every phase on `repo`, print a line per phase, return the exit code; `note` goes
    into the run's evidence (e.g. that the model answers were recorded)."""
    repo = repo.resolve()
    if not (repo / ".git").exists():
        raise WorkspaceError(f"{repo} is not a git repository", "give --repo a git checkout")
    check_model(settings)
    store = store or Store(settings.database_url)
    store.migrate()
    title, _, body = text.strip().partition("\n")
    run, _ = store.create_run(
        repo=repo.name, issue_number=None, clone_url=str(repo), title=title, request=body.strip()
    )
    engine = build_engine(settings, store)
    if note:
        store.add_event(run.id, EventKind.note, note)
    console.print(f"run {run.id}: {title}")
    while run.status in ACTIVE or run.status == Status.waiting_for_model:
        if run.status == Status.waiting_for_model:
            run = wait_for_model(engine, run, console)
            continue
        before = run.phase
        with console.status(f"  {before} ..."):
            run = engine.advance(run.id)
        console.print(f"  {before} done -> {run.phase} ({run.status})")
    if run.branch:
        try:
            fetch_branch(repo, engine.run_dir(run) / "repo", run.branch)
            console.print(f"branch: {run.branch}")
        except subprocess.CalledProcessError as exc:
            console.print(f"could not bring branch {run.branch} back: {exc.stderr.strip()}")
    console.print(
        f"status: {run.status}" + (f" ({run.status_reason})" if run.status_reason else "")
    )
    console.print(f"evidence: {engine.run_dir(run) / 'evidence.md'}")
    return EXIT_CODES.get(run.status, 2)


def fetch_branch(repo: Path, clone: Path, branch: str) -> None:
    """Bring a run's branch from its clone back into the user's repository (forced: the run's
    branch is Draftsmith's); CalledProcessError with git's stderr when git refuses."""
    subprocess.run(
        ["git", "-C", str(repo), "fetch", "--quiet", "--force", str(clone), f"{branch}:{branch}"],
        check=True,
        capture_output=True,
        text=True,
    )
