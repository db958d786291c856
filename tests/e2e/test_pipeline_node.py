"""The local pipeline on a Node package whose tests run with `node --test` in the sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from bot.config import Settings
from bot.local import run_local_pipeline
from bot.store.runs import Store
from tests.helpers.repos import NODE_FILES, git, make_repo
from tests.helpers.scripted_model import ScriptedModel, serve_model
from tests.helpers.scripts import APPROVED

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
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path / "calc-js", NODE_FILES)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        work_dir=tmp_path / "work",
        model="scripted-model",
    )
    store = Store(settings.database_url)
    model = ScriptedModel(
        {"planner": [PLAN], "coder": [CHANGE], "reviewer": [APPROVED], "tester": [TESTS]}
    )
    with serve_model(model) as url:
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000000000000")
        code = run_local_pipeline(settings, repo, "Add subtract", Console(), store=store)
    run = store.list_runs()[0]
    assert code == 0, run.status_reason
    report = json.loads(store.get_artifact(run.id, "testreport.r0").content)
    assert (report["status"], report["tests_passed"], report["tests_failed"]) == ("passed", 2, 0)
    assert report["command"].startswith("node --test")
    outcome = json.loads(store.get_artifact(run.id, "testoutcome.r0").content)
    assert outcome["new_tests"] and outcome["pinned"] == outcome["new_tests"]
    assert "subtract" in git(repo, "show", f"{run.branch}:calc.js")
    changed = git(repo, "diff", "--name-only", "main", run.branch).split()
    assert sorted(changed) == ["calc.js", "test/subtract.test.js"]
