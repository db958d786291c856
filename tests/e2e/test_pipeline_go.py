"""The local pipeline on a Go module (standard library only): its tests run in the sandbox with
the machine's Go toolchain, the new test is proven fail-before/pass-after, and `go vet`'s
findings reach the reviewer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from bot.runtime.local import run_local_pipeline
from bot.store.runs import Store
from tests.helpers.local_runs import local_settings
from tests.helpers.repos import git, make_repo
from tests.helpers.scripted_model import ScriptedModel, serve_model
from tests.helpers.scripts import APPROVED

pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="needs golang-go")

ADD = "// Add returns a + b.\nfunc Add(a, b int) int {\n\treturn a + b\n}\n"
GO_FILES = {
    "go.mod": "module example.com/calc\n\ngo 1.19\n",
    "calc.go": f'// Package calc adds and subtracts.\npackage calc\n\nimport "fmt"\n\n{ADD}',
    "calc_test.go": (
        'package calc\n\nimport "testing"\n\nfunc TestAdd(t *testing.T) {\n'
        '\tif Add(2, 3) != 5 {\n\t\tt.Fatal("2+3 != 5")\n\t}\n}\n'
    ),
}
SUBTRACT = (
    "\n// Subtract returns a - b.\nfunc Subtract(a, b int) int {\n\treturn a - b\n}\n"
    "\n// Describe says what Subtract does.\nfunc Describe(a, b int) string {\n"
    '\tfmt.Sprintf("%d - %d", a, b)\n'  # the result is dropped: go vet's unusedresult
    '\treturn "difference"\n}\n'
)
PLAN: dict[str, Any] = {
    "summary": "Add Subtract(a, b) to package calc.",
    "files_to_modify": ["calc.go"],
    "acceptance_criteria": ["Subtract(5, 3) returns 2"],
    "risk_level": "low",
}
CHANGE: dict[str, Any] = {
    "edits": [
        {
            "path": "calc.go",
            "operation": "update",
            "blocks": [{"search": ADD, "replace": ADD + SUBTRACT}],
        }
    ],
    "explanation": "Add Subtract next to Add.",
}
TESTS: dict[str, Any] = {
    "focus": ["Subtract returns the difference"],
    "files": [
        {
            "path": "subtract_test.go",
            "operation": "create",
            "content": (
                'package calc\n\nimport "testing"\n\nfunc TestSubtract(t *testing.T) {\n'
                '\tif got := Subtract(5, 3); got != 2 {\n\t\tt.Fatalf("Subtract(5, 3) = %d", got)\n'
                "\t}\n}\n"
            ),
        }
    ],
}


def test_a_go_module_gets_its_change_its_new_test_pinned_and_go_vet_findings_reviewed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path / "calc-go", GO_FILES)
    settings = local_settings(tmp_path)
    store = Store(settings.database_url)
    model = ScriptedModel(
        {"planner": [PLAN], "coder": [CHANGE], "reviewer": [APPROVED], "tester": [TESTS]}
    )
    with serve_model(model) as url:
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000000000000")
        code = run_local_pipeline(settings, repo, "Add Subtract", Console(), store=store)
    run = store.list_runs()[0]
    assert code == 0, run.status_reason

    report = json.loads(store.get_artifact(run.id, "testreport.r0").content)
    assert (report["status"], report["tests_passed"], report["tests_failed"]) == ("passed", 2, 0)
    assert report["command"].startswith("go test -json")
    outcome = json.loads(store.get_artifact(run.id, "testoutcome.r0").content)
    assert outcome["new_tests"] == ["example.com/calc.TestSubtract"]
    assert outcome["pinned"] == ["example.com/calc.TestSubtract"]  # failed (did not build) before
    assert outcome["base_report"]["status"] != "passed"

    analysis = json.loads(store.get_artifact(run.id, "analysis.r0").content)
    new = [(f["tool"], f["rule"], f["file"], f["level"]) for f in analysis["new"]]
    assert new == [("go vet", "unusedresult", "calc.go", "warning")]
    assert "fmt.Sprintf" in analysis["new"][0]["message"]
    review = json.loads(store.get_artifact(run.id, "review.r0").content)
    vet_issues = [i for i in review["issues"] if i["problem"].startswith("go vet unusedresult")]
    assert [(i["file"], i["category"]) for i in vet_issues] == [("calc.go", "static-analysis")]
    reviewer_prompt = next(
        json.dumps(b["messages"]) for b in model.bodies if "You are the reviewer" in json.dumps(b)
    )
    assert "go vet unusedresult" in reviewer_prompt

    changed = git(repo, "diff", "--name-only", "main", run.branch).split()
    assert sorted(changed) == ["calc.go", "subtract_test.go"]  # no Go build cache committed
