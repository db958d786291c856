"""The local pipeline on a Node package with no runner declared: `node --test` in the sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers.local_pipeline import RunPipeline, local_pipeline
from tests.helpers.repos import NODE_FILES, git, make_repo
from tests.helpers.scripts import APPROVED

__all__ = ["local_pipeline"]

ADD = "export function add(a, b) {\n  return a + b;\n}\n"
PLAN: dict[str, Any] = {
    "summary": "Export subtract(a, b) from calc.js.",
    "files_to_modify": ["calc.js"],
    "acceptance_criteria": ["subtract(5, 3) returns 2"],
    "risk_level": "low",
}
CHANGE: dict[str, Any] = {
    "edits": [
        {
            "path": "calc.js",
            "operation": "update",
            "blocks": [
                {
                    "search": ADD,
                    "replace": ADD + "\nexport function subtract(a, b) {\n  return a - b;\n}\n",
                }
            ],
        }
    ],
    "explanation": "Add subtract.",
}
TESTS: dict[str, Any] = {
    "focus": ["subtract returns the difference"],
    "files": [
        {
            "path": "test/subtract.test.js",
            "operation": "create",
            "content": (
                "import { test } from 'node:test';\nimport assert from 'node:assert';\n"
                "import { subtract } from '../calc.js';\n\n"
                "test('subtract', () => { assert.strictEqual(subtract(5, 3), 2); });\n"
            ),
        }
    ],
}


def test_a_node_package_gets_its_change_and_node_tests_pinned(
    tmp_path: Path, local_pipeline: RunPipeline
) -> None:
    repo = make_repo(tmp_path / "calc-js", NODE_FILES)
    script = {"planner": [PLAN], "coder": [CHANGE], "reviewer": [APPROVED], "tester": [TESTS]}
    result = local_pipeline(repo, script)
    assert result.code == 0, result.run.status_reason
    report = result.artifact("testreport.r0")
    assert (report["status"], report["tests_passed"], report["tests_failed"]) == ("passed", 2, 0)
    assert "exec node --test " in report["command"]
    outcome = result.artifact("testoutcome.r0")
    assert outcome["new_tests"] and outcome["pinned"] == outcome["new_tests"]
    notes = "\n".join(outcome["environment"]["notes"])
    assert "package.json has no scripts.test and no jest, vitest or mocha dependency" in notes
    assert "subtract" in git(repo, "show", f"{result.run.branch}:calc.js")
    changed = git(repo, "diff", "--name-only", "main", result.run.branch).split()
    assert sorted(changed) == ["calc.js", "test/subtract.test.js"]
    # V8's coverage of the new test's run: it called subtract, so it executed the change
    coverage = outcome["coverage"]
    assert coverage["available"] and coverage["scope"] == "the new tests"
    executed = [(c["path"], c["line"], c["executed"], c["tests"]) for c in coverage["lines"]]
    assert executed == [("calc.js", n, True, outcome["new_tests"]) for n in (5, 6, 7)]


def test_a_node_test_that_never_calls_the_changed_function_sends_the_run_back(
    tmp_path: Path, local_pipeline: RunPipeline
) -> None:
    # imports subtract (so its file fails to load on the base) but only ever calls add
    beside = {
        "focus": ["subtract is exported"],
        "files": [{**TESTS["files"][0], "content": TESTS["files"][0]["content"].replace(
            "subtract(5, 3), 2", "add(5, 3) + typeof subtract, '8function'").replace(
            "import { subtract }", "import { add, subtract }")}],
    }  # fmt: skip
    repo = make_repo(tmp_path / "calc-js", NODE_FILES)
    comment = {
        "path": "calc.js",
        "operation": "update",
        "blocks": [
            {
                "search": "export function subtract",
                "replace": "// a minus b\nexport function subtract",
            }
        ],
    }
    script = {"planner": [PLAN], "coder": [CHANGE, {**CHANGE, "edits": [comment], "revision": 1}],
              "reviewer": [APPROVED, APPROVED], "tester": [beside, TESTS]}  # fmt: skip
    result = local_pipeline(repo, script)
    first = result.artifact("testoutcome.r0")
    assert first["pinned"] == first["new_tests"] and first["new_tests"]
    coverage = first["coverage"]
    assert coverage["available"] and coverage["lines"]
    assert not any(c["executed"] for c in coverage["lines"]), coverage
    review = result.artifact("review.r0")
    assert review["status"] == "needs_revision"
    problems = [i["problem"] for i in review["issues"]]
    assert any(
        f"New test `{first['new_tests'][0]}` executes none of the changed code" in p
        for p in problems
    ), problems
    second = result.artifact("testoutcome.r1")
    assert all(c["executed"] for c in second["coverage"]["lines"])
    assert result.code == 0, result.run.status_reason
