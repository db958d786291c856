"""Best of N end to end: a real git repository, the real sandbox, the model scripted at the HTTP
boundary. Three coders work on the same revision; the tester's evidence of each decides which
one the PR carries, and the evidence says why the other two lost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from bot.agents.tester import Tester
from bot.run.engine import Engine
from bot.run.states import Phase, Status
from bot.runtime import model_client
from bot.runtime.local import run_local_pipeline
from bot.sandbox.choose import get_sandbox
from bot.store.runs import Store
from bot.store.vocabulary import EventKind
from tests.helpers.local_runs import local_settings
from tests.helpers.loop_scripts import ADD, CALC_FILES, REQUEST
from tests.helpers.repos import git, make_repo
from tests.helpers.scripted_model import ScriptedModel, call, serve_model
from tests.helpers.scripts import APPROVED, PLAN, TESTS

WRONG = f"{ADD}\n\ndef subtract(a, b):\n    return a + b\n"
UNTESTED = f"{ADD}\n\ndef subtract(a, b):\n    return -(b - a)\n"
PROVEN = f"{ADD}\n\ndef subtract(a, b):\n    return a - b\n"
# a test that passes on the base as well: it never calls the change
BESIDE: dict[str, Any] = {
    "focus": ["add still adds"],
    "files": [
        {
            "path": "tests/test_subtract.py",
            "operation": "create",
            "content": (
                "from calc import add\n\n\ndef test_add_again():\n    assert add(1, 1) == 2\n"
            ),
        }
    ],
}


def script() -> dict[str, list[Any]]:
    """Three candidates: the first fails its test, the second's test misses it, the third is
    proven."""
    return {
        "planner": [PLAN],
        "coder": [
            *coder(WRONG, "subtract, first try"),
            *coder(UNTESTED, "subtract, second try"),
            *coder(PROVEN, "subtract, third try"),
        ],
        "tester": [TESTS, BESIDE, TESTS],  # one test plan per candidate, in order
        "reviewer": [APPROVED],
    }


def coder(replace: str, why: str) -> list[Any]:
    """One candidate's loop: an edit of calc/__init__.py, then submit."""
    return [
        call("edit", path="calc/__init__.py", search=ADD, replace=replace),
        call("submit", explanation=why),
    ]


def test_three_candidates_the_pr_carries_the_proven_one_and_names_why_the_others_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path / "calc", CALC_FILES)
    settings = local_settings(tmp_path, candidates=3)
    store = Store(settings.database_url)
    model = ScriptedModel(script())
    console = Console(record=True, width=200)
    with serve_model(model) as url:
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000000000000")
        code = run_local_pipeline(settings, repo, REQUEST, console, store=store)
    (run,) = store.list_runs()
    assert code == 0, console.export_text()
    assert (run.status, run.revision) == (Status.approved, 0)

    # the branch holds the proven candidate and its tests, and nothing of the others
    source = git(repo, "show", f"{run.branch}:calc/__init__.py")
    assert source == f'"""A tiny calculator."""\n\n\n{PROVEN}'
    test = git(repo, "show", f"{run.branch}:tests/test_subtract.py")
    assert "assert subtract(5, 3) == 2" in test
    log = git(repo, "log", "--format=%s", f"main..{run.branch}").splitlines()
    assert log == ["draftsmith: tests", "draftsmith: revision 0"]

    verdict = json.loads(store.get_artifact(run.id, "candidates.r0").content)
    assert (verdict["tried"], verdict["winner"]) == (3, 3)
    losses = {loss["number"]: loss["why"] for loss in verdict["losses"]}
    assert losses[1].startswith("not proven: New test `") and "fails with the change" in losses[1]
    assert losses[2].startswith("not proven: Every new test also passes on the code before")

    evidence = Path(store.get_artifact(run.id, "evidence_path").content).read_text()
    section = evidence.split("## Candidates\n", 1)[1].split("\n## ", 1)[0]
    assert "3 candidates were tried" in section and "this change is candidate 3" in section
    assert "fail-before/pass-after proven" in section
    assert "- candidate 1 lost: not proven: New test" in section
    assert "- candidate 2 lost: not proven: Every new test also passes" in section
    # the winner's own loop is the one the PR body counts
    assert "The coder worked in 2 step(s): 1 edit(s)" in evidence

    # each coder had its own seed; every call of every candidate counts in the run's budgets
    seeds = [body.get("seed") for body in model.bodies_of("coder")]
    assert seeds == [1, 1, 2, 2, 3, 3]
    assert (model.calls["coder"], model.calls["tester"], model.calls["reviewer"]) == (6, 3, 1)
    assert run.tool_calls == 6
    calls = [e.message for e in store.events(run.id, EventKind.model_call)]
    assert calls.count("coder") == 6 and calls.count("tester") == 3
    assert run.tokens_used == sum(
        e.data["total_tokens"] for e in store.events(run.id, EventKind.model_call)
    )
    trials = [a for a in store.artifacts(run.id) if a.name == "trial.r0"]
    assert len(trials) == 3  # each candidate tested once
    for number in (1, 2, 3):
        assert store.get_artifact(run.id, f"transcript.c{number}.r0") is not None


class Killed(BaseException):
    """A worker's death mid-trial: nothing after it runs, nothing is recorded."""


def test_a_worker_killed_mid_trial_resumes_without_redoing_or_mixing_candidates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path / "calc", CALC_FILES)
    settings = local_settings(tmp_path, candidates=3)
    store = Store(settings.database_url)
    model = ScriptedModel(script())
    real_run = Tester.run
    runs: list[int] = []
    heads: list[str] = []

    async def dies_on_the_third(self: Tester, *args: Any, **kwargs: Any) -> Any:
        outcome = await real_run(self, *args, **kwargs)
        runs.append(1)
        if len(runs) == 3:  # candidate 3 committed with its tests and tested, not yet stored
            heads.append(args[0].head())
            raise Killed
        return outcome

    with serve_model(model) as url:
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000000000000")
        monkeypatch.setattr(Tester, "run", dies_on_the_third)
        with pytest.raises(Killed):
            run_local_pipeline(settings, repo, REQUEST, Console(width=200), store=store)
        (run,) = store.list_runs()
        assert (run.phase, run.status) == (Phase.testing, Status.running)
        workspace = settings.work_dir / f"run-{run.id}" / "repo"
        # a SIGKILL runs no `finally`: the tree is left as candidate 3's trial had it
        git(workspace, "reset", "--quiet", "--hard", heads[0])
        assert "candidate 3" in git(workspace, "log", "--format=%s")
        engine = Engine(  # the next worker
            settings,
            store,
            sandbox_factory=lambda: get_sandbox(settings),
            llm_factory=lambda config: model_client(settings, config),
        )
        while run.status == "running":
            run = engine.advance(run.id)
    assert run.status == Status.approved, run.status_reason
    assert len(runs) == 4  # candidates 1 and 2 were not tested again; 3 once more
    assert (model.calls["coder"], model.calls["tester"]) == (6, 3)  # nothing asked twice
    trials = [json.loads(a.content) for a in store.artifacts(run.id) if a.name == "trial.r0"]
    assert sorted(t["trial"]["number"] for t in trials) == [1, 2, 3]
    assert json.loads(store.get_artifact(run.id, "candidates.r0").content)["winner"] == 3
    log = git(workspace, "log", "--format=%s", f"{run.base_sha}..{run.branch}").splitlines()
    assert log == ["draftsmith: tests", "draftsmith: revision 0"]
    assert git(workspace, "show", f"{run.branch}:calc/__init__.py").endswith(PROVEN)
