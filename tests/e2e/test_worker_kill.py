"""A worker killed with SIGKILL in the middle of a run: the next worker finishes it, and no phase
that had finished is done again."""

from __future__ import annotations

from pathlib import Path

from bot.run.states import Phase, Status
from tests.helpers.repos import PYTHON_FILES, make_repo
from tests.helpers.scripted_model import ScriptedModel
from tests.helpers.scripts import APPROVED, PLAN, TESTS, change
from tests.helpers.worker_kill import kill_then_resume


def test_a_killed_worker_loses_nothing_and_repeats_no_finished_phase(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "calc", PYTHON_FILES)
    script = {
        "planner": [PLAN],
        "coder": [change()],
        "reviewer": [APPROVED],
        "tester": [TESTS, TESTS],
    }
    model = ScriptedModel(script, hold_role="tester")
    resumed = kill_then_resume(tmp_path, repo, model, held="the tester's request")
    interrupted, runtime, run_id = resumed.interrupted, resumed.runtime, resumed.run_id
    assert (interrupted.phase, interrupted.status) == (Phase.testing, Status.running)
    assert interrupted.locked_by is not None  # the dead worker still held the lock
    finished = resumed.finished
    assert finished.status == Status.approved, finished.status_reason
    assert model.calls == {"planner": 1, "coder": 1, "reviewer": 1, "tester": 2}
    done = [p.name for p in runtime.store.phases(run_id) if p.outcome == "done"]
    assert done == [
        Phase.planning,
        Phase.setup,
        Phase.coding,
        Phase.testing,
        Phase.reviewing,
        Phase.deploying,
    ]
    unfinished = [p.name for p in runtime.store.phases(run_id) if p.outcome is None]
    assert unfinished == [Phase.testing]  # the one the killed worker was in
