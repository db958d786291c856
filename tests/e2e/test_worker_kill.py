"""A worker killed with SIGKILL in the middle of a run: the next worker finishes it, and no phase
that had finished is done again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from bot.config import Settings
from bot.jobs.queue import TaskQueue, make_huey
from bot.runtime import Runtime
from tests.e2e.conftest import RunWatcher
from tests.helpers.repos import PYTHON_FILES, make_repo
from tests.helpers.scripted_model import ScriptedModel, serve_model
from tests.helpers.scripts import APPROVED, PLAN, TESTS, change

API_KEY = "sk-test-not-a-real-key-000000000000"


def test_a_killed_worker_loses_nothing_and_repeats_no_finished_phase(
    tmp_path: Path, monkeypatch: object
) -> None:
    repo = make_repo(tmp_path / "calc", PYTHON_FILES)
    env_settings = {
        "DRAFTSMITH_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "DRAFTSMITH_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}",
        "DRAFTSMITH_WORK_DIR": str(tmp_path / "work"),
        "DRAFTSMITH_MODEL": "scripted-model",
        "DRAFTSMITH_CATCHUP_INTERVAL_S": "0",
    }
    settings = Settings(
        database_url=env_settings["DRAFTSMITH_DATABASE_URL"],
        queue_url=env_settings["DRAFTSMITH_QUEUE_URL"],
        work_dir=tmp_path / "work",
        model="scripted-model",
        workers=1,
        catchup_interval_s=0,
    )
    script = {
        "planner": [PLAN],
        "coder": [change()],
        "reviewer": [APPROVED],
        "tester": [TESTS, TESTS],
    }
    model = ScriptedModel(script, hold_role="tester")
    with serve_model(model) as url:
        runtime = Runtime.from_settings(settings)
        runtime.store.migrate()
        run, _ = runtime.store.create_run(
            repo="calc",
            issue_number=None,
            clone_url=str(repo),
            title="Add subtract",
            request="Please add subtract(a, b).",
        )
        TaskQueue(make_huey(settings.queue_url)).enqueue_run(run.id)
        env = {**os.environ, **env_settings, "OPENAI_BASE_URL": url, "OPENAI_API_KEY": API_KEY}
        worker = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "worker", "--workers", "1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert model.arrived.wait(120), "the first worker never reached the tester"
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(30)
        finally:
            if worker.poll() is None:
                worker.kill()
        model.release.set()
        interrupted = runtime.store.get_run(run.id)
        assert (interrupted.phase, interrupted.status) == ("testing", "running")
        assert interrupted.locked_by is not None  # the dead worker still holds the lock

        # The next worker: recovery releases the dead worker's lock and finishes the run.
        os.environ["OPENAI_BASE_URL"], os.environ["OPENAI_API_KEY"] = url, API_KEY
        try:
            watcher = RunWatcher(runtime)
            runtime.start_embedded()
            assert watcher.settled.wait(120), "the run was not finished by the next worker"
        finally:
            runtime.stop()
            del os.environ["OPENAI_BASE_URL"], os.environ["OPENAI_API_KEY"]
    finished = runtime.store.get_run(run.id)
    assert finished.status == "approved", finished.status_reason
    assert model.calls == {"planner": 1, "coder": 1, "reviewer": 1, "tester": 2}
    done = [p.name for p in runtime.store.phases(run.id) if p.outcome == "done"]
    assert done == ["planning", "setup", "coding", "testing", "reviewing", "deploying"]
    unfinished = [p.name for p in runtime.store.phases(run.id) if p.outcome is None]
    assert unfinished == ["testing"]  # the one the killed worker was in
