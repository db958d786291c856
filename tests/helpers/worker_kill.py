"""A worker process SIGKILLed while the model holds one of its requests, and the next worker
(an embedded one) finishing the run: the set-up the worker-kill tests share."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bot.jobs.queue import TaskQueue, make_huey
from bot.runtime import Runtime
from bot.shared.config import Settings
from bot.store.tables import Run
from tests.helpers.draftsmith import RunWatcher
from tests.helpers.scripted_model import ScriptedModel, serve_model

API_KEY = "sk-test-not-a-real-key-000000000000"


@dataclass
class Resumed:
    """What the killed worker left (`interrupted`) and the runtime that finished the run."""

    runtime: Runtime
    run_id: int
    interrupted: Run

    @property
    def finished(self) -> Run:
        """The run as the next worker left it."""
        return self.runtime.store.get_run(self.run_id)


def kill_then_resume(tmp_path: Path, repo: Path, model: ScriptedModel, *, held: str) -> Resumed:
    """Run a request on `repo` in a `draftsmith worker` process, SIGKILL it when `model` holds
    a request (`held` says which, for the failure message), release the model, then let an
    embedded worker finish the run."""
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
            assert model.arrived.wait(120), f"the first worker never made {held}"
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(30)
        finally:
            if worker.poll() is None:
                worker.kill()
        model.release.set()
        interrupted = runtime.store.get_run(run.id)
        os.environ["OPENAI_BASE_URL"], os.environ["OPENAI_API_KEY"] = url, API_KEY
        try:
            watcher = RunWatcher(runtime)
            runtime.start_embedded()
            assert watcher.settled.wait(120), "the run was not finished by the next worker"
        finally:
            runtime.stop()
            del os.environ["OPENAI_BASE_URL"], os.environ["OPENAI_API_KEY"]
    return Resumed(runtime, run.id, interrupted)
