"""`draftsmith run` (the real CLI, a subprocess) on the Docker sandbox, with a scripted model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bot.run.states import Status
from bot.store.runs import Store
from tests.helpers.repos import PYTHON_FILES, git, make_repo
from tests.helpers.sandboxes import docker_image_problem, require
from tests.helpers.scripted_model import ScriptedModel, serve_model
from tests.helpers.scripts import happy_path


def test_draftsmith_run_on_the_docker_sandbox_leaves_a_tested_branch(tmp_path: Path) -> None:
    require("docker")
    repo = make_repo(tmp_path / "calc", PYTHON_FILES)
    database = tmp_path / "db.sqlite"
    env = {
        **os.environ,
        "DRAFTSMITH_SANDBOX": "docker",
        "DRAFTSMITH_DOCKER_IMAGE": docker_image_problem()[1],
        "DRAFTSMITH_DATABASE_URL": f"sqlite:///{database}",
        "DRAFTSMITH_WORK_DIR": str(tmp_path / "work"),
        "DRAFTSMITH_MODEL": "scripted-model",
        "OPENAI_API_KEY": "sk-test-not-a-real-key-000000000000",
    }
    model = ScriptedModel(happy_path())
    with serve_model(model) as url:
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", "run", "--repo", str(repo), "--request",
             "Add subtract\n\nPlease add subtract(a, b) to calc."],
            env={**env, "OPENAI_BASE_URL": url}, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    store = Store(f"sqlite:///{database}")
    (run,) = store.list_runs()
    assert run.status == Status.approved
    assert "subtract" in git(repo, "show", f"{run.branch}:calc/__init__.py")
    report = json.loads(store.get_artifact(run.id, "testreport.r0").content)
    assert (report["status"], report["tests_passed"], report["tests_failed"]) == ("passed", 2, 0)
    outcome = json.loads(store.get_artifact(run.id, "testoutcome.r0").content)
    assert outcome["pinned"] == outcome["new_tests"] and len(outcome["new_tests"]) == 1
    left = subprocess.run(
        ["docker", "ps", "-a", "--filter", "label=draftsmith.sandbox",
         "--format", '{{.Label "draftsmith.sandbox.workdir"}}'],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert [w for w in left.stdout.split() if w.startswith(str(tmp_path))] == []
