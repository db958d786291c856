"""The coder's edit-run loop end to end: a real git repository, the real bubblewrap sandbox, the
model scripted at the HTTP boundary. Every tool answer the model reads comes from a real edit of
the working tree or a real command in the sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from bot.run.states import Phase, Status
from bot.runtime.local import run_local_pipeline
from bot.store.runs import Store
from bot.store.tables import Run
from tests.helpers.local_runs import local_settings
from tests.helpers.loop_scripts import (
    ADD,
    ASSERTION,
    CALC_FILES,
    FIXED,
    PYTEST,
    REQUEST,
    break_run_fix_submit,
)
from tests.helpers.repos import git, make_repo
from tests.helpers.scripted_model import ScriptedModel, call, serve_model, tool_results
from tests.helpers.scripts import APPROVED, PLAN, TESTS


@dataclass
class LoopRun:
    """What one pipeline run left: exit code, store, the model and the repository."""

    code: int
    store: Store
    model: ScriptedModel
    repo: Path
    output: str

    @property
    def run(self) -> Run:
        runs = self.store.list_runs()
        assert len(runs) == 1
        return runs[0]

    def transcript(self, revision: int = 0) -> list[dict[str, Any]]:
        name = f"transcript.r{revision}"
        return [json.loads(a.content) for a in self.store.artifacts(self.run.id) if a.name == name]

    def coder_results(self) -> list[str]:
        """Every tool answer the coder was sent, in order (the last request carries them all;
        `submit`'s own answer ends the loop and is never sent)."""
        return tool_results(self.model.bodies_of("coder")[-1])


@pytest.fixture
def pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """run(coder_script, config=None) -> LoopRun, on a fresh calc repository."""

    def run(coder: list[Any], config: str | None = None) -> LoopRun:
        files = dict(CALC_FILES)
        if config is not None:
            files[".github/draftsmith.yml"] = config
        repo = make_repo(tmp_path / "calc", files)
        settings = local_settings(tmp_path)
        store = Store(settings.database_url)
        script = {"planner": [PLAN], "coder": coder, "reviewer": [APPROVED], "tester": [TESTS]}
        model = ScriptedModel(script)
        console = Console(record=True, width=200)
        with serve_model(model) as url:
            monkeypatch.setenv("OPENAI_BASE_URL", url)
            monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000000000000")
            code = run_local_pipeline(settings, repo, REQUEST, console, store=store)
        return LoopRun(code, store, model, repo, console.export_text())

    yield run


def test_a_coder_that_breaks_a_test_reads_the_real_failure_fixes_it_and_converges(
    pipeline: Any,
) -> None:
    done = pipeline(break_run_fix_submit())
    assert done.code == 0, done.output
    assert (done.run.status, done.run.revision) == (Status.approved, 0)
    results = done.coder_results()
    assert len(results) == 4 and results[0].startswith("calc/__init__.py: ")  # submit ends it
    failed, passed = results[1], results[3]
    assert failed.startswith("exit code: 1") and f"{ASSERTION} -1" in failed  # the test's own
    assert passed.startswith("exit code: 0") and "1 passed" in passed
    source = git(done.repo, "show", f"{done.run.branch}:calc/__init__.py")
    assert source.count("def subtract") == 1 and "return a + b" in source
    steps = done.transcript()
    assert [(s["step"], s["tool"], s["exit_code"]) for s in steps] == [
        (1, "edit", None),
        (2, "run", 1),
        (3, "edit", None),
        (4, "run", 0),
        (5, "submit", None),
    ]
    assert steps[1]["arguments"] == {"command": PYTEST}
    evidence = Path(done.store.get_artifact(done.run.id, "evidence_path").content).read_text()
    assert "The coder worked in 5 step(s): 2 edit(s), 2 command(s) run" in evidence
    assert "the last exited 0" in evidence and f"`/runs/{done.run.id}`" in evidence
    assert done.model.calls["coder"] == 5 and done.model.calls["tester"] == 1
    assert done.run.tool_calls == 5  # every step counts in the run's tool-call budget
    coder_tokens = [e for e in done.store.events(done.run.id, "model_call") if e.message == "coder"]
    assert len(coder_tokens) == 5  # and every model call of the loop in its tokens and cost


def test_when_the_step_budget_is_spent_the_coder_is_asked_to_submit_what_it_has(
    pipeline: Any,
) -> None:
    coder = [
        call("edit", path="calc/__init__.py", search=ADD, replace=FIXED),
        call("run", command=PYTEST),
        {"explanation": "Add subtract (out of steps)."},
    ]
    done = pipeline(coder, config="budgets:\n  max_tool_calls: 2\n")
    assert done.run.status == Status.approved, done.run.status_reason
    last = done.model.bodies_of("coder")[-1]
    assert "tools" not in last  # no step is offered past the budget
    assert "The tool budget (2 calls) is spent" in last["messages"][-1]["content"]
    source = git(done.repo, "show", f"{done.run.branch}:calc/__init__.py")
    assert source.count("def subtract") == 1


def test_a_run_has_no_network_and_sees_no_secret(
    pipeline: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRAFTSMITH_LEAK_CANARY", "canary-value-7f3e")
    probe = (
        "env; python3 -c \"import socket; socket.create_connection(('1.1.1.1', 53), timeout=3)\""
    )
    coder = [
        call("run", command=probe),
        call("submit", explanation="Nothing yet."),
        call("edit", path="calc/__init__.py", search=ADD, replace=FIXED),
        call("submit", explanation="Add subtract."),
    ]
    done = pipeline(coder)
    answer, early_submit = done.coder_results()[:2]
    assert early_submit.startswith("error: nothing to submit")
    assert answer.startswith("exit code: 1")
    assert "Network is unreachable" in answer or "OSError" in answer
    for leaked in ("canary-value-7f3e", "DRAFTSMITH_LEAK_CANARY", "OPENAI_API_KEY", "sk-test"):
        assert leaked not in answer
    assert "PATH=" in answer  # the command's environment was printed: only what we gave it
    assert done.run.status == Status.approved, done.run.status_reason


def test_edits_outside_the_repository_or_on_forbidden_paths_are_refused_and_reported(
    pipeline: Any, tmp_path: Path
) -> None:
    coder = [
        call("edit", path="../outside.py", content="x = 1\n"),
        call("edit", path="config/secrets/token.txt", content="t\n"),
        call("edit", path="calc/__init__.py", search=ADD, replace=f"{ADD}\ndef subtract(a, b:\n"),
        call("edit", path="calc/__init__.py", search=ADD, replace=FIXED),
        call("submit", explanation="Add subtract."),
    ]
    done = pipeline(coder)
    outside, forbidden, syntax, ok = done.coder_results()
    assert outside.startswith("error: ") and "outside the repository" in outside
    assert forbidden.startswith("error: refused") and "forbidden" in forbidden
    assert syntax.startswith("error: not written") and "calc/__init__.py:7:13" in syntax
    assert ok.startswith("calc/__init__.py: ")
    assert not list(tmp_path.rglob("outside.py")) and not list(tmp_path.rglob("token.txt"))
    assert [s["output_head"][:6] for s in done.transcript()[:3]] == ["error:"] * 3
    assert done.run.status == Status.approved, done.run.status_reason
    changed = git(done.repo, "diff", "--name-only", "main", done.run.branch).split()
    assert "calc/__init__.py" in changed and not any("secrets" in p for p in changed)


def test_what_a_command_writes_is_neither_the_change_nor_the_tests_environment(
    pipeline: Any, tmp_path: Path
) -> None:
    plant = "mkdir -p .venv && echo 'import os' > .venv/planted.pth"
    coder = [
        call("edit", path="calc/__init__.py", search=ADD, replace=FIXED),
        call("run", command=f"echo 'import os' > conftest.py && echo junk > notes.txt && {plant}"),
        call("edit", path=".venv/sitecustomize.py", content="import os\n"),
        call("submit", explanation="Add subtract."),
    ]
    done = pipeline(coder)
    assert done.run.status == Status.approved, done.run.status_reason
    changed = git(done.repo, "diff", "--name-only", "main", done.run.branch).split()
    assert changed == ["calc/__init__.py", "tests/test_subtract.py"]
    assert done.coder_results()[2].startswith("error: refused: .venv/sitecustomize.py is ignored")
    assert done.store.events(done.run.id, "environment_discarded")
    assert not list((tmp_path / "work").rglob("planted.pth"))


def test_a_budget_exhausted_mid_loop_stops_with_the_work_kept_and_the_reason(
    pipeline: Any,
) -> None:
    coder = [
        call("edit", path="calc/__init__.py", search=ADD, replace=FIXED),
        call("run", command="sleep 10"),
        call("submit", explanation="never reached"),
    ]
    done = pipeline(coder, config="budgets:\n  max_wall_time_s: 10\n")
    run = done.run
    assert (run.phase, run.status) == (Phase.coding, Status.needs_human_review)
    reason = run.status_reason or ""
    assert "wall-time budget" in reason and "during the coder's loop, after 2 steps" in reason
    assert "worktree.r0" in reason
    kept = json.loads(done.store.get_artifact(run.id, "worktree.r0").content)
    assert kept[0]["path"] == "calc/__init__.py" and "def subtract" in kept[0]["content"]
    assert done.model.calls["coder"] == 2  # the third call was never made
