"""A `/draftsmith stop` kills the sandbox command a step is running, within seconds, and the
run stays `stopped` (the real engine, store, clone and bubblewrap; a step that only sleeps)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import ClassVar

import pytest

from bot.model.client import ModelClient
from bot.run.context import Kinds, RunContext, StepResult
from bot.run.engine import Engine
from bot.run.intents import Intents, Stop
from bot.run.states import Phase, Status
from bot.run.steps import STEPS
from bot.sandbox.base import Limits
from bot.sandbox.bwrap import BwrapSandbox, bwrap_problem
from bot.shared.config import Settings
from bot.store.runs import Store
from tests.helpers.repos import PYTHON_FILES, make_repo

pytestmark = pytest.mark.skipif(bwrap_problem() is not None, reason=f"bwrap: {bwrap_problem()}")


SLEEP = "3599.25"  # an hour, spelled so that no other process on the host has this command line


def sleeping() -> list[str]:
    """The command lines of every process on the host still running our sleep."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            line = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if f"sleep {SLEEP}" in line and "/bin/sh" not in line:
            found.append(line)
    return found


class SleepingStep:
    """A planning step that runs an hour-long command in the sandbox."""

    phase: ClassVar[Phase] = Phase.planning
    reads: ClassVar[Kinds] = ()
    writes: ClassVar[Kinds] = ()

    async def run(self, ctx: RunContext) -> StepResult:
        """Start the command; it leaves a marker once it runs inside the sandbox."""
        await ctx.sandbox.run(
            ["/bin/sh", "-c", f"touch started && exec sleep {SLEEP}"],
            workdir=ctx.workspace.root,
            limits=Limits(wall_time_s=120),
        )
        return StepResult.advance()


def test_a_stop_kills_the_running_sandbox_command_and_the_run_stays_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path / "calc", PYTHON_FILES)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", work_dir=tmp_path / "w")
    store = Store(settings.database_url)
    store.migrate()
    run, _ = store.create_run(
        repo="calc", issue_number=None, clone_url=str(repo), title="t", request="r"
    )
    monkeypatch.setitem(STEPS, Phase.planning, SleepingStep())
    engine = Engine(
        settings,
        store,
        sandbox_factory=BwrapSandbox,
        llm_factory=lambda _config: ModelClient(settings),
    )
    marker = engine.run_dir(run) / "repo" / "started"
    stopped: list[bool] = []

    def stop_once_running() -> None:
        waiting = threading.Event()
        while not (marker.exists() and sleeping()):
            waiting.wait(0.05)  # polling a condition, bounded by the test's own timeout
        stopped.append(bool(sleeping()))  # the command runs when the stop arrives
        Intents(store).apply(store.get_run(run.id), Stop("carol"))

    stopper = threading.Thread(target=stop_once_running, daemon=True)
    stopper.start()
    after = engine.advance(run.id)  # an hour-long command: returns only if it was killed
    stopper.join(5)
    assert stopped == [True], "the stop did not arrive while the command ran"
    assert sleeping() == [], "the sandbox command outlived the stop"
    assert (after.status, after.phase) == (Status.stopped, Phase.planning)
    assert [p.outcome for p in store.phases(run.id)] == ["stopped"]
