"""The coder's loop interrupted: a stop kills the running command and ends the run at once, and a
worker SIGKILLed mid-loop is resumed from the stored working tree, each edit held once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from rich.console import Console

from bot.run.lifecycle import Lifecycle
from bot.run.states import Phase, Status
from bot.run.transitions import Move
from bot.runtime.local import run_local_pipeline
from bot.store.runs import Store
from tests.helpers.local_runs import local_settings
from tests.helpers.loop_scripts import ADD, CALC_FILES, FIXED, REQUEST
from tests.helpers.repos import make_repo
from tests.helpers.scripted_model import ScriptedModel, call, serve_model
from tests.helpers.scripts import APPROVED, PLAN, TESTS
from tests.helpers.worker_kill import kill_then_resume

API_KEY = "sk-test-not-a-real-key-000000000000"
SLEEP = ("sleep", "41.25")  # a duration no other process on this machine uses


def sleeping_pids() -> list[int]:
    """The pids of processes running exactly `sleep 41.25`."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = tuple((proc / "cmdline").read_bytes().decode().split("\x00")[:-1])
        except OSError:
            continue
        if argv == SLEEP:
            pids.append(int(proc.name))
    return pids


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie waiting for its parent counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_stop_mid_loop_ends_the_run_within_a_second_and_kills_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path / "calc", CALC_FILES)
    settings = local_settings(tmp_path)
    store = Store(settings.database_url)
    coder = [
        call("edit", path="calc/__init__.py", search=ADD, replace=FIXED),
        call("run", command=f"{' '.join(SLEEP)}; touch late.txt"),
        call("submit", explanation="never reached"),
    ]
    script = {"planner": [PLAN], "coder": coder, "reviewer": [APPROVED], "tester": [TESTS]}
    model = ScriptedModel(script)
    codes: list[int] = []
    with serve_model(model) as url:
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
        console = Console(record=True, width=200)
        worker = threading.Thread(
            target=lambda: codes.append(
                run_local_pipeline(settings, repo, REQUEST, console, store=store)
            )
        )
        worker.start()
        deadline = time.monotonic() + 120
        while not sleeping_pids() and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for a process of the sandbox to exist: nothing to join
        pids = sleeping_pids()
        assert pids, "the coder's command never started"
        run_id = store.list_runs()[0].id
        stopped_at = time.monotonic()
        assert Lifecycle(store).request(run_id, Move.stop, reason="stopped by @maintainer")
        worker.join(30)
        ended_s = time.monotonic() - stopped_at
    assert not worker.is_alive() and codes == [1]
    assert ended_s < 1.0, f"the run took {ended_s:.2f}s to end after the stop"
    assert not any(alive(pid) for pid in pids)
    run = store.get_run(run_id)
    assert (run.phase, run.status) == (Phase.coding, Status.stopped)
    assert not list(tmp_path.rglob("late.txt"))
    assert model.calls["coder"] == 2


EDIT_ONE = call("edit", path="calc/__init__.py", search=ADD, replace=FIXED)
SUBTRACT = "def subtract(a, b):\n    return a - b\n"
MULTIPLY = "\n\ndef multiply(a, b):\n    return a * b\n"
EDIT_TWO = call("edit", path="calc/__init__.py", search=SUBTRACT, replace=SUBTRACT + MULTIPLY)


def test_a_worker_killed_mid_loop_resumes_from_the_stored_tree_and_holds_each_edit_once(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "calc", CALC_FILES)
    submit = call("submit", explanation="Add subtract and multiply.")
    script = {
        "planner": [PLAN],
        # the third request is held and the worker killed; the resumed coder submits
        "coder": [EDIT_ONE, EDIT_TWO, submit, submit],
        "reviewer": [APPROVED],
        "tester": [TESTS],
    }
    model = ScriptedModel(script, hold_role="coder", hold_call=2)
    resumed = kill_then_resume(tmp_path, repo, model, held="the coder's third call")
    runtime, run_id = resumed.runtime, resumed.run_id
    assert (resumed.interrupted.phase, resumed.interrupted.status) == (Phase.coding, Status.running)
    finished = resumed.finished
    assert (finished.status, finished.revision) == (Status.approved, 0), finished.status_reason
    diff = runtime.store.get_artifact(run_id, "diff.r0")
    assert diff is not None
    assert diff.content.count("+def subtract") == 1 and diff.content.count("+def multiply") == 1
    resumed_prompt = str(model.bodies_of("coder")[-1]["messages"])
    assert "interrupted after 2 steps" in resumed_prompt and "def multiply" in resumed_prompt
    steps = [a for a in runtime.store.artifacts(run_id) if a.name == "transcript.r0"]
    assert len(steps) == 3  # edit, edit, then submit after the resume: no step done twice
