"""Environments and honest proof end to end: real git repository, real sandbox, scripted model.

Failures that are not the code's (setup, a base that cannot run, failures already on the base)
never go back to the coder; a revision that changes nothing ends the run with that reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.run.states import Phase, Status
from tests.helpers.local_runs import Outcome, evidence_of, outcome_of, run_locally
from tests.helpers.repos import NODE_FILES, PYTHON_FILES
from tests.helpers.scripts import APPROVED, NEEDS_REVISION, PLAN, TESTS, change, happy_path

REQUEST = "Add subtract\n\nPlease add subtract(a, b) to calc."


@pytest.fixture
def replay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[dict[str, str], dict[str, list[Any]]], Outcome]:
    """run(files, script): the local pipeline on a repository made of `files`."""

    def run(files: dict[str, str], script: dict[str, list[Any]]) -> Outcome:
        return run_locally(tmp_path, monkeypatch, files, script, REQUEST)

    return run


def test_a_setup_failure_ends_the_run_with_its_reason_and_never_reaches_the_coder(
    replay: Callable[..., Outcome],
) -> None:
    config = (
        "setup_commands:\n"
        "  - python3 -m venv --without-pip .venv\n"
        "  - .venv/bin/python -m pip install -e .\n"
    )
    files = {**PYTHON_FILES, ".github/draftsmith.yml": config}
    code, store, run, model = replay(files, happy_path())
    assert code == 1
    assert run.status == Status.needs_human_review
    reason = run.status_reason or ""
    assert "setup command `.venv/bin/python -m pip install -e .` failed" in reason
    assert "No module named pip" in reason  # the tail of its output
    assert ".github/draftsmith.yml" in reason
    # setup is a phase of its own, before the coder (whose commands run in the environment):
    # neither the coder nor the tester was asked anything
    assert run.phase == Phase.setup and run.revision == 0
    assert model.calls["coder"] == 0 and model.calls["tester"] == 0
    environment = store.get_artifact(run.id, "environment.r0")
    assert environment is not None
    assert json.loads(environment.content)["records"][-1]["exit_code"] != 0


def test_a_revision_that_changes_nothing_ends_in_needs_human_review(
    replay: Callable[..., Outcome],
) -> None:
    subtract = PYTHON_FILES["calc/__init__.py"] + "\n\ndef subtract(a, b):\n    return a - b\n"
    whole = {
        "edits": [{"path": "calc/__init__.py", "operation": "update", "content": subtract}],
        "explanation": "Add subtract.",
        "dependencies_added": [],
        "revision": 0,
    }
    script = {
        "planner": [PLAN],
        "coder": [whole, whole],
        "reviewer": [NEEDS_REVISION, APPROVED],
        "tester": [TESTS, TESTS],
    }
    code, store, run, model = replay(PYTHON_FILES, script)
    assert code == 1
    assert run.status == Status.needs_human_review
    assert "revision 1 changes nothing" in (run.status_reason or "")
    assert model.calls["coder"] == 2


def test_a_failure_already_on_the_base_is_shown_and_neither_blocks_nor_goes_to_the_coder(
    replay: Callable[..., Outcome],
) -> None:
    broken = "from calc import add\n\n\ndef test_broken():\n    assert add(1, 1) == 3\n"
    files = {**PYTHON_FILES, "tests/test_broken.py": broken}
    code, store, run, model = replay(files, happy_path())
    assert code == 0
    assert run.status == Status.approved
    outcome = outcome_of(store, run)
    assert outcome["already_failing"] == ["tests.test_broken::test_broken"]
    assert outcome["new_failures"] == []
    assert outcome["pinned"] == ["tests.test_subtract::test_subtract"]
    report = outcome["report"]
    assert (report["tests_passed"], report["tests_failed"]) == (2, 1)  # pytest's own figures
    evidence = evidence_of(store, run)
    assert "Already failing before the change" in evidence
    assert "`tests.test_broken::test_broken`" in evidence
    assert model.calls["coder"] == 1


def test_a_base_that_cannot_run_claims_no_proof_and_says_why(
    replay: Callable[..., Outcome],
) -> None:
    conftest = "from calc.fixtures import numbers  # noqa: F401\n"
    files = {**PYTHON_FILES, "tests/conftest.py": conftest}
    adds_fixtures = change()
    adds_fixtures["edits"].append(
        {"path": "calc/fixtures.py", "operation": "create", "content": "numbers = [1, 2]\n"}
    )
    script = {
        "planner": [PLAN],
        "coder": [adds_fixtures],
        "reviewer": [APPROVED],
        "tester": [TESTS],
    }
    code, store, run, model = replay(files, script)
    assert code == 0, run.status_reason
    assert run.status == Status.approved
    outcome = outcome_of(store, run)
    assert outcome["pinned"] == []
    assert "nothing was collected" in (outcome["base_problem"] or "")
    evidence = evidence_of(store, run)
    # the change's suite passed, so the base ran the new tests alone, not its whole suite
    assert "Could not run on the base: the new tests on the base: nothing was collected" in evidence
    assert "The base's whole suite did not run: the change's suite passed" in evidence
    assert "unknown (could not run on the base)" in evidence
    assert model.calls["coder"] == 1


def test_a_test_command_that_is_not_pytest_is_judged_by_its_exit_code_and_says_so(
    replay: Callable[..., Outcome],
) -> None:
    config = "test_command: .venv/bin/python -c 'import calc; assert calc.subtract(5, 3) == 2'\n"
    files = {**PYTHON_FILES, ".github/draftsmith.yml": config}
    code, store, run, model = replay(files, happy_path())
    assert code == 0, run.status_reason
    report = outcome_of(store, run)["report"]
    assert report["judged_by"] == "exit code" and report["command"].startswith(".venv/bin/python")
    evidence = evidence_of(store, run)
    assert "judged by the exit code of the repository's test_command alone" in evidence
    assert "0 passed" not in evidence


def test_an_existing_test_failing_on_the_base_too_in_a_modified_test_file_is_not_the_changes(
    replay: Callable[..., Outcome],
) -> None:
    """The tester extends a test file whose existing test already fails on the base: it is
    shown as already failing, never sent to the coder as a new test that fails with the change,
    nor held to executing the change."""
    broken = "\n\ndef test_add_floats():\n    assert add(0.1, 0.2) == 0.3\n"
    files = {**PYTHON_FILES, "tests/test_add.py": PYTHON_FILES["tests/test_add.py"] + broken}
    subtract_test = "\n\ndef test_subtract():\n    from calc import subtract\n\n"
    subtract_test += "    assert subtract(5, 3) == 2\n"
    extended = {
        "focus": ["subtract returns the difference"],
        "files": [
            {
                "path": "tests/test_add.py",
                "operation": "update",
                "content": files["tests/test_add.py"] + subtract_test,
            }
        ],
    }
    script = {**happy_path(), "tester": [extended]}
    code, store, run, model = replay(files, script)
    assert code == 0, run.status_reason
    assert run.status == Status.approved and run.revision == 0
    outcome = outcome_of(store, run)
    assert outcome["already_failing"] == ["tests.test_add::test_add_floats"]
    assert outcome["new_failures"] == []
    assert outcome["pinned"] == ["tests.test_add::test_subtract"]
    assert outcome["after"]["tests.test_add::test_add_floats"] is False  # shown as it ran
    evidence = evidence_of(store, run)
    assert "`tests.test_add::test_add_floats`: no (already failing before the change" in evidence
    assert "fails with the change" not in evidence
    assert model.calls["coder"] == 1


def test_a_node_test_failing_on_the_base_too_when_its_file_runs_alone_is_not_the_changes(
    replay: Callable[..., Outcome],
) -> None:
    """Node runs the new test files alone: an existing test of the extended file that fails
    there on the base too is already failing, whatever the new tests show."""
    broken = "test('add floats', () => { assert.strictEqual(add(0.1, 0.2), 0.3); });\n"
    add_tests = NODE_FILES["test/add.test.js"] + broken
    extended = add_tests.replace("import { add }", "import { add, subtract }")
    extended += "test('subtract', () => { assert.strictEqual(subtract(5, 3), 2); });\n"
    tests = {
        "focus": ["subtract returns the difference"],
        "files": [{"path": "test/add.test.js", "operation": "update", "content": extended}],
    }
    block = {"search": "  return a + b;\n}\n", "replace": "  return a + b;\n}\n\n"}
    block["replace"] += "export function subtract(a, b) {\n  return a - b;\n}\n"
    code_change = {
        "edits": [{"path": "calc.js", "operation": "update", "blocks": [block]}],
        "explanation": "Add subtract.",
    }
    script = {**happy_path(), "coder": [code_change], "tester": [tests]}
    code, store, run, model = replay({**NODE_FILES, "test/add.test.js": add_tests}, script)
    assert code == 0, run.status_reason
    outcome = outcome_of(store, run)
    assert outcome["already_failing"] == ["test::add floats"]
    assert outcome["after"] == {
        "test::add": True,
        "test::add floats": False,
        "test::subtract": True,
    }
    # the base could not load the extended file (no subtract there): its other passing cases pin
    assert outcome["pinned"] == ["test::add", "test::subtract"]
    assert model.calls["coder"] == 1
