"""The whole pipeline on local git repositories with a scripted model and the real sandbox."""

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
from tests.helpers.repos import PYTHON_FILES, git, make_repo
from tests.helpers.scripted_model import ScriptedModel, serve_model
from tests.helpers.scripts import APPROVED, NEEDS_REVISION, PLAN, TESTS, change, fix, happy_path

REQUEST = "Add subtract\n\nPlease add subtract(a, b) to calc."


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Run the local pipeline against a scripted model; yields run(script) -> (code, store, ...)."""
    repo = make_repo(tmp_path / "calc", PYTHON_FILES)
    settings = local_settings(tmp_path)
    store = Store(settings.database_url)

    def run(
        script: dict[str, list[Any]], realistic_usage: bool = False
    ) -> tuple[int, Store, ScriptedModel, str]:
        model = ScriptedModel(script, realistic_usage=realistic_usage)
        console = Console(record=True, width=200)
        with serve_model(model) as url:
            monkeypatch.setenv("OPENAI_BASE_URL", url)
            monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000000000000")
            code = run_local_pipeline(settings, repo, REQUEST, console, store=store)
        return code, store, model, console.export_text()

    yield run, repo


def only_run(store: Store) -> Any:
    runs = store.list_runs()
    assert len(runs) == 1
    return runs[0]


def test_happy_path_leaves_a_branch_whose_tests_pass_and_real_evidence(local: Any) -> None:
    run_pipeline, repo = local
    code, store, model, output = run_pipeline(happy_path())
    run = only_run(store)
    assert code == 0, output
    assert run.status == Status.approved
    assert "subtract" in git(repo, "show", f"{run.branch}:calc/__init__.py")
    assert "test_subtract" in git(repo, "show", f"{run.branch}:tests/test_subtract.py")
    report = json.loads(store.get_artifact(run.id, "testreport.r0").content)
    assert (report["status"], report["tests_passed"], report["tests_failed"]) == ("passed", 2, 0)
    assert report["coverage_percent"] is None  # the project's total is not measured: unknown
    outcome = json.loads(store.get_artifact(run.id, "testoutcome.r0").content)
    coverage = outcome["coverage"]
    assert coverage["scope"] == "the new tests" and coverage["functions"][0]["tests"] == [
        "tests/test_subtract.py::test_subtract"
    ]
    assert outcome["pinned"] == outcome["new_tests"] and len(outcome["new_tests"]) == 1
    evidence = Path(store.get_artifact(run.id, "evidence_path").content).read_text()
    assert "2 passed, 0 failed" in evidence
    assert "fail before the change and pass after it" in evidence
    assert f"Draftsmith run `{run.id}`" in evidence
    assert model.calls == {"planner": 1, "coder": 1, "reviewer": 1, "tester": 1}
    assert run.tokens_used == 4 * 200
    assert "evidence:" in output and "planning done -> setup" in output
    assert "setup done -> coding" in output


def test_a_review_that_asks_for_changes_makes_a_revision(local: Any) -> None:
    run_pipeline, _ = local
    script = {
        "planner": [PLAN],
        "coder": [change("return a + b"), fix()],
        "reviewer": [NEEDS_REVISION, APPROVED],
        "tester": [TESTS, TESTS],
    }
    code, store, model, output = run_pipeline(script)
    run = only_run(store)
    assert code == 0, output
    assert run.revision == 1 and run.status == Status.approved
    assert model.calls["coder"] == 2
    second_coder_prompt = json.dumps(model.bodies_of("coder")[1]["messages"])
    assert "subtract adds instead of subtracting" in second_coder_prompt


def test_failing_tests_send_the_change_back_and_the_coder_fixes_it(local: Any) -> None:
    run_pipeline, _ = local
    script = {
        "planner": [PLAN],
        "coder": [change("return a + b"), fix()],
        "reviewer": [APPROVED, APPROVED],
        "tester": [TESTS, TESTS],
    }
    code, store, model, output = run_pipeline(script)
    run = only_run(store)
    assert code == 0, output
    first = json.loads(store.get_artifact(run.id, "testreport.r0").content)
    assert first["status"] == "failed" and first["tests_failed"] == 1
    assert "assert 8 == 2" in first["failure_details"]
    last = json.loads(store.get_artifact(run.id, "testreport.r1").content)
    assert last["status"] == "passed"


def test_invalid_answers_twice_more_end_in_needs_human_review(local: Any) -> None:
    run_pipeline, _ = local
    script = {"planner": ["not json", '{"summary": 1}', "still not a plan"]}
    code, store, model, output = run_pipeline(script)
    run = only_run(store)
    assert code == 1
    assert run.status == Status.needs_human_review
    assert "ImplementationPlan" in (run.status_reason or "")
    assert model.calls["planner"] == 3


def test_an_exceeded_budget_stops_the_run_and_keeps_the_work(local: Any, tmp_path: Path) -> None:
    run_pipeline, repo = local
    (repo / ".github").mkdir()
    (repo / ".github" / "draftsmith.yml").write_text("budgets:\n  max_tokens: 4400\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "budget")
    code, store, model, output = run_pipeline(happy_path(), realistic_usage=True)
    run = only_run(store)
    assert code == 1
    assert run.status == Status.needs_human_review
    assert "token budget" in (run.status_reason or "")
    assert "subtract" in git(repo, "show", f"{run.branch}:calc/__init__.py")
    assert store.get_artifact(run.id, "stopped_summary") is not None


@pytest.mark.parametrize("budget", [900, 2000, 3200], ids=lambda b: f"{b}-tokens")
def test_recorded_tokens_never_exceed_the_token_budget(local: Any, budget: int) -> None:
    run_pipeline, repo = local
    (repo / ".github").mkdir()
    (repo / ".github" / "draftsmith.yml").write_text(f"budgets:\n  max_tokens: {budget}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "budget")
    code, store, model, output = run_pipeline(happy_path(), realistic_usage=True)
    run = only_run(store)
    assert run.status == Status.needs_human_review and "token budget" in (run.status_reason or "")
    recorded = sum(e.data["total_tokens"] for e in store.events(run.id, "model_call"))
    assert recorded == run.tokens_used <= budget
    assert all(b["max_tokens"] <= budget for b in model.bodies)


def test_a_model_without_a_price_shows_cost_unknown_never_zero(local: Any) -> None:
    run_pipeline, _ = local
    code, store, model, output = run_pipeline(happy_path())
    run = only_run(store)
    assert code == 0, output
    evidence = Path(store.get_artifact(run.id, "evidence_path").content).read_text()
    assert "| total | | " in evidence and "cost unknown" in evidence
    assert "$0.0000" not in evidence


def test_an_edit_that_escapes_the_tree_is_blocked_and_nothing_is_written(
    local: Any, tmp_path: Path
) -> None:
    run_pipeline, _ = local
    script = {"planner": [PLAN], "coder": [change(path="../outside.py")]}
    code, store, model, output = run_pipeline(script)
    run = only_run(store)
    assert code == 1
    assert run.status == Status.blocked_by_policy
    assert "outside the repository" in (run.status_reason or "")
    assert not list(tmp_path.rglob("outside.py"))
    assert model.calls["reviewer"] == 0 and model.calls["tester"] == 0


def test_an_ambiguous_search_block_is_sent_back_with_the_precise_reason(local: Any) -> None:
    run_pipeline, _ = local
    ambiguous = change()
    ambiguous["edits"][0]["blocks"][0]["search"] = "a"
    script = {
        "planner": [PLAN],
        "coder": [ambiguous, change()],
        "reviewer": [APPROVED],
        "tester": [TESTS],
    }
    code, store, model, output = run_pipeline(script)
    assert only_run(store).status == Status.approved
    assert code == 0, output
    retry_prompt = json.dumps(model.bodies[2]["messages"])
    assert "could not be applied" in retry_prompt
    assert "matched" in retry_prompt
