"""The reviewer judges evidence: differential static analysis, test results, coverage of the change.

Real git repositories, the real bwrap sandbox (ruff from Draftsmith's toolbox, pytest under
coverage), the model scripted at the HTTP boundary. The scripted reviewer always answers
"approved": whatever sends a run back here is decided by the evidence rules, not by the model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from bot.run.states import Status
from bot.runtime.local import run_local_pipeline
from bot.store.runs import Store
from tests.helpers.local_runs import local_settings
from tests.helpers.repos import PYTHON_FILES, make_repo
from tests.helpers.scripted_model import ScriptedModel, serve_model
from tests.helpers.scripts import APPROVED, PLAN, TESTS, change

REQUEST = "Add subtract\n\nPlease add subtract(a, b) to calc."
SUBTRACT = "def subtract(a, b):\n    return a - b\n"


def edit(search: str, replace: str, revision: int = 1) -> dict[str, Any]:
    """A CodeChange replacing one block of calc/__init__.py."""
    return {
        "edits": [
            {
                "path": "calc/__init__.py",
                "operation": "update",
                "blocks": [{"search": search, "replace": replace}],
            }
        ],
        "explanation": "Revise subtract.",
        "dependencies_added": [],
        "revision": revision,
    }


def plan_writing(content: str) -> dict[str, Any]:
    """A TestPlan writing tests/test_subtract.py."""
    return {
        "focus": ["subtract returns the difference"],
        "files": [{"path": "tests/test_subtract.py", "operation": "create", "content": content}],
    }


@pytest.fixture
def pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """run(script, files) -> (store, run, model, evidence text) on a fresh calc repository."""
    settings = local_settings(tmp_path, sandbox="bwrap")

    def run(
        script: dict[str, list[Any]], files: dict[str, str] | None = None
    ) -> tuple[Store, Any, ScriptedModel, str]:
        repo = make_repo(tmp_path / "calc", files or PYTHON_FILES)
        store = Store(settings.database_url)
        model = ScriptedModel(script)
        console = Console(record=True, width=200)
        with serve_model(model) as url:
            monkeypatch.setenv("OPENAI_BASE_URL", url)
            monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000000000000")
            run_local_pipeline(settings, repo, REQUEST, console, store=store)
        (only,) = store.list_runs()
        path = store.get_artifact(only.id, "evidence_path")
        evidence = Path(path.content).read_text() if path else ""
        return store, only, model, evidence

    yield run


def artifact(store: Store, run_id: int, name: str) -> Any:
    stored = store.get_artifact(run_id, name)
    assert stored is not None, f"no artifact {name}"
    return json.loads(stored.content)


def prompt(model: ScriptedModel, role: str, index: int) -> str:
    return json.dumps(model.bodies_of(role)[index]["messages"])


def test_an_undefined_name_sends_the_change_back_with_the_findings_file_and_line(
    pipeline: Any,
) -> None:
    guarded = "if b is None:\n        return missing_default\n    return a - b"
    script = {
        "planner": [PLAN],
        "coder": [change(guarded), edit("    if b is None:\n        return missing_default\n", "")],
        "tester": [TESTS, TESTS],
        "reviewer": [APPROVED, APPROVED],
    }
    store, run, model, _ = pipeline(script)
    assert run.status == Status.approved and run.revision == 1
    review = artifact(store, run.id, "review.r0")
    assert review["status"] == "needs_revision"
    (issue,) = [i for i in review["issues"] if i["category"] == "static-analysis"]
    assert (issue["file"], issue["line"], issue["severity"]) == ("calc/__init__.py", 10, "high")
    assert "F821" in issue["problem"] and "missing_default" in issue["problem"]
    coder_feedback = prompt(model, "coder", 1)
    assert "calc/__init__.py:10" in coder_feedback and "F821" in coder_feedback
    second_review = prompt(model, "reviewer", 1)
    assert "Your review of the previous revision" in second_review and "F821" in second_review
    assert artifact(store, run.id, "analysis.r1")["new"] == []


def test_a_pre_existing_finding_on_an_untouched_line_does_not_count(pipeline: Any) -> None:
    legacy = "\n\ndef legacy(x):\n    return undefined_legacy_helper(x)\n"
    files = {**PYTHON_FILES, "calc/__init__.py": PYTHON_FILES["calc/__init__.py"] + legacy}
    script = {"planner": [PLAN], "coder": [change()], "tester": [TESTS], "reviewer": [APPROVED]}
    store, run, model, evidence = pipeline(script, files)
    assert run.status == Status.approved and run.revision == 0
    analysis = artifact(store, run.id, "analysis.r0")
    assert analysis["new"] == [] and analysis["preexisting"] == 1
    (ruff,) = analysis["tools"]
    assert (ruff["name"], ruff["status"], ruff["change_findings"]) == ("ruff", "ran", 1)
    review_prompt = prompt(model, "reviewer", 0)
    assert "Findings introduced by the change: 0" in review_prompt
    assert "already on the base (not counted): 1" in review_prompt
    assert "static analysis of the base and the change (ruff): 0 new finding(s)" in evidence


def test_changed_lines_no_test_executes_are_reported_with_those_lines(pipeline: Any) -> None:
    untested = change("return a - b\n\n\ndef multiply(a, b):\n    return a * b")
    script = {"planner": [PLAN], "coder": [untested], "tester": [TESTS], "reviewer": [APPROVED]}
    store, run, model, evidence = pipeline(script)
    assert run.status == Status.approved
    coverage = artifact(store, run.id, "testoutcome.r0")["coverage"]
    missed = [(c["path"], c["line"]) for c in coverage["lines"] if not c["executed"]]
    assert missed == [("calc/__init__.py", 13)]
    assert "Changed lines executed by the new tests: 3 of 4." in evidence
    assert "- not executed: calc/__init__.py:13" in evidence
    assert "`multiply()` (calc/__init__.py) executed by none of the new tests" in evidence
    assert (
        "`subtract()` (calc/__init__.py) executed by new tests "
        "`tests/test_subtract.py::test_subtract`" in evidence
    )
    assert "not executed: calc/__init__.py:13" in prompt(model, "reviewer", 0)


def test_a_new_test_that_never_calls_the_changed_function_sends_the_run_back(
    pipeline: Any,
) -> None:
    # Imports subtract (so it fails on the base) but only ever calls add.
    beside = plan_writing(
        "from calc import add, subtract\n\n\ndef test_subtract():\n    assert add(2, 3) == 5\n"
    )
    docstring = 'def subtract(a, b):\n    """a minus b."""\n    return a - b\n'
    script = {
        "planner": [PLAN],
        "coder": [change(), edit(SUBTRACT, docstring)],
        "tester": [beside, TESTS],
        "reviewer": [APPROVED, APPROVED],
    }
    store, run, model, _ = pipeline(script)
    first = artifact(store, run.id, "testoutcome.r0")
    assert first["pinned"] == ["tests.test_subtract::test_subtract"]
    review = artifact(store, run.id, "review.r0")
    assert review["status"] == "needs_revision"
    problems = [i["problem"] for i in review["issues"]]
    assert any(
        "`tests.test_subtract::test_subtract` executes none of the changed code" in p
        and "`subtract()`" in p
        for p in problems
    ), problems
    assert "executes none of the changed code" in prompt(model, "coder", 1)
    assert "executes none of the changed code" in prompt(model, "tester", 1)
    assert run.status == Status.approved and run.revision == 1


def test_the_reviewers_prompt_holds_the_test_results(pipeline: Any) -> None:
    script = {"planner": [PLAN], "coder": [change()], "tester": [TESTS], "reviewer": [APPROVED]}
    store, run, model, evidence = pipeline(script)
    assert run.status == Status.approved
    roles = [r for r in ("tester", "reviewer") for _ in model.bodies_of(r)]
    assert roles == ["tester", "reviewer"]
    order = [json.dumps(b["messages"]) for b in model.bodies]
    tester_at = next(i for i, b in enumerate(order) if "You are the tester" in b)
    reviewer_at = next(i for i, b in enumerate(order) if "You are the reviewer" in b)
    assert tester_at < reviewer_at, "the reviewer must run after the tests"
    text = prompt(model, "reviewer", 0)
    assert "Suite: passed: 2 passed, 0 failed" in text
    row = "| `tests.test_subtract::test_subtract` | failed (collection error) | passed | yes |"
    assert row in text
    assert "Changed lines executed by the new tests: 2 of 2." in text
    assert "tests/test_subtract.py::test_subtract" in text
    assert "The verdict was based on:" in evidence
    assert "## Coverage of the change" in evidence


def test_tests_a_modified_test_file_already_had_need_not_execute_the_change(
    pipeline: Any,
) -> None:
    """The tester adds to an existing test file (as upstream commits do): the file's old tests,
    passing on the base, are not new tests, so they are not held to the changed code."""
    kept = "import calc\n\n\ndef test_add():\n    assert calc.add(2, 3) == 5\n"
    added = kept + "\n\ndef test_subtract():\n    assert calc.subtract(5, 3) == 2\n"
    tests = {
        "focus": ["subtract returns the difference"],
        "files": [{"path": "tests/test_add.py", "operation": "update", "content": added}],
    }
    script = {"planner": [PLAN], "coder": [change()], "tester": [tests], "reviewer": [APPROVED]}
    store, run, _, _ = pipeline(script)
    outcome = artifact(store, run.id, "testoutcome.r0")
    assert outcome["pinned"] == ["tests.test_add::test_subtract"]
    assert outcome["preexisting"] == ["tests.test_add::test_add"]
    review = artifact(store, run.id, "review.r0")
    assert review["issues"] == [] and run.status == Status.approved, review["issues"]


TRACER_TEST = """import sys

from calc import subtract


def test_subtract():
    assert subtract(5, 3) == 2


def test_no_tracer():
    assert subtract(1, 1) == 0
    assert sys.gettrace() is None  # what a debugger- or tracer-sensitive test checks
"""


def test_a_failure_only_under_coverage_is_confirmed_by_the_plain_suite(pipeline: Any) -> None:
    """coverage.py's tracer can change what a test sees (on Python 3.11 a RecursionError's message,
    in the suites of structlog and cleo; here `sys.gettrace()`): the plain run of the same suite
    is what counts, and says so. Only the new test files run under coverage, so the test is new."""
    tests = {**TESTS, "files": [{**TESTS["files"][0], "content": TRACER_TEST}]}
    script = {"planner": [PLAN], "coder": [change(), change()], "tester": [tests, tests],
              "reviewer": [APPROVED, APPROVED]}  # fmt: skip
    store, run, _, evidence = pipeline(script, PYTHON_FILES)
    outcome = artifact(store, run.id, "testoutcome.r0")
    assert outcome["coverage_only_failures"] == ["tests.test_subtract::test_no_tracer"]
    report = outcome["report"]
    assert (report["tests_passed"], report["tests_failed"]) == (3, 0)
    assert "-m coverage" not in report["command"]
    assert run.status == Status.approved, run.status_reason
    assert "Failed only under coverage.py" in evidence
