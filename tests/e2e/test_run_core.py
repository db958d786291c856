"""The run core's promises at the product's surface: attempts, stop, token budgets and work that
reaches GitHub when a budget ends a run. Through the webhook server, a scripted model, the bwrap
sandbox, a real git remote and GitHub's API at the HTTP boundary."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from bot.run.states import Phase, Status
from bot.shared.config import Settings
from bot.store.tables import Run, utcnow
from bot.store.vocabulary import EventKind
from tests.e2e.test_github_flow import OWNERS, comment, labeled
from tests.helpers.draftsmith import Harness
from tests.helpers.draftsmith import draftsmith as serving
from tests.helpers.fake_github import FakeGitHub
from tests.helpers.repos import PYTHON_FILES
from tests.helpers.scripted_model import ScriptedModel
from tests.helpers.scripts import ADD, APPROVED, PLAN, TESTS, change, happy_path, with_revisions

TOKEN_BUDGET = 3850  # the planner and the coder (with its loop tools) fit; the tester not


def remote_with(tmp_path: Path, files: dict[str, str], github: FakeGitHub) -> str:
    """A bare repository serving as GitHub's git remote, holding `files`, behind `github`'s
    Git Data API."""
    return github.serve_remote(tmp_path, {**PYTHON_FILES, **files})


def remote_branches(remote: str) -> str:
    return subprocess.run(["git", "ls-remote", remote], capture_output=True, text=True).stdout


def settle(h: Harness) -> None:
    """Wait for the run to stop advancing (this machine is shared: a whole run can take minutes)."""
    assert h.watcher.settled.wait(600), "the run did not settle"


def only_run(h: Harness) -> Run:
    runs = h.runtime.store.list_runs()
    assert len(runs) == 1
    return runs[0]


def test_a_revise_an_hour_after_the_run_was_created_is_worked_on(
    settings: Settings, fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_github.permissions.update({"carol": "write"})
    remote = remote_with(tmp_path, {".github/CODEOWNERS": OWNERS}, fake_github)
    model = ScriptedModel(with_revisions(1))
    with serving(settings, model, monkeypatch) as h:
        assert h.deliver("issues", labeled(remote)) == 202
        settle(h)
        run = only_run(h)
        assert run.status == Status.approved, run.status_reason
        with h.runtime.store.session() as s:  # the team reviews the next morning
            s.execute(
                update(Run).where(Run.id == run.id).values(created_at=utcnow() - timedelta(hours=1))
            )
        revise = comment("/draftsmith revise add a comment", "carol")
        assert h.deliver("issue_comment", revise) == 202
        settle(h)
        revised = h.runtime.store.get_run(run.id)
    assert revised.status == Status.approved, revised.status_reason
    assert revised.revision == 1 and model.calls["coder"] == 2
    assert "add a comment" in json.dumps(model.bodies[-3]["messages"])
    pr = next(iter(fake_github.pulls.values()))
    assert "over 2 attempt(s)" in pr["body"]


def test_a_stop_during_a_model_call_ends_the_run_stopped_and_retry_resumes_the_work(
    settings: Settings, fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_github.permissions.update({"carol": "write"})
    remote = remote_with(tmp_path, {".github/CODEOWNERS": OWNERS}, fake_github)
    script = happy_path()
    script["coder"] = [change(), change()]  # the first coder request is held, then dropped
    model = ScriptedModel(script, hold_role="coder")
    try:
        with serving(settings, model, monkeypatch) as h:
            assert h.deliver("issues", labeled(remote)) == 202
            assert model.arrived.wait(120), "the coder was never asked"
            assert h.deliver("issue_comment", comment("/draftsmith stop", "carol")) == 202
            # The coder's request is still held: the stop must not wait for it.
            assert h.watcher.settled.wait(60), "the stop was not honoured within seconds"
            stopped = only_run(h)
            assert (stopped.status, stopped.phase) == (Status.stopped, Phase.coding)
            assert stopped.status_reason == "stopped by @carol"
            model.release.set()

            assert h.deliver("issue_comment", comment("/draftsmith retry", "carol")) == 202
            settle(h)
            done = h.runtime.store.get_run(stopped.id)
    finally:
        model.release.set()
    assert done.status == Status.approved, done.status_reason
    assert model.calls["planner"] == 1  # the stored plan was reused
    assert model.calls["coder"] == 2


def budget_config(tokens: int) -> str:
    return f"budgets:\n  max_tokens: {tokens}\n"


def test_a_budget_stop_pushes_the_branch_and_opens_an_incomplete_draft_pr(
    settings: Settings, fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = budget_config(TOKEN_BUDGET)
    remote = remote_with(tmp_path, {".github/draftsmith.yml": config}, fake_github)
    fake_github.files[".github/draftsmith.yml"] = config
    model = ScriptedModel(happy_path(), realistic_usage=True)
    with serving(settings, model, monkeypatch) as h:
        assert h.deliver("issues", labeled(remote)) == 202
        settle(h)
        run = only_run(h)
        store = h.runtime.store
    assert run.status == Status.needs_human_review and "token budget" in (run.status_reason or "")
    assert run.tokens_used <= TOKEN_BUDGET
    assert model.calls["coder"] == 1 and model.calls["tester"] == 0
    assert run.branch and run.branch in remote_branches(remote)
    pr = fake_github.pulls[run.pr_number]
    assert pr["draft"] is True and pr["title"].startswith("[incomplete]")
    assert "**Incomplete**" in pr["body"] and "token budget" in pr["body"]
    assert "Done: plan, code (revision 0)" in pr["body"] and "Left: " in pr["body"]
    progress = fake_github.comment_bodies(7)[-1]
    assert "**Incomplete**" in progress and pr["html_url"] in progress
    check = next(iter(fake_github.check_runs.values()))
    assert check["conclusion"] == "action_required"
    assert (
        sum(e.data["total_tokens"] for e in store.events(run.id, EventKind.model_call))
        <= TOKEN_BUDGET
    )


def test_a_budget_stop_never_pushes_a_change_holding_a_credential(
    settings: Settings, fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = budget_config(TOKEN_BUDGET)
    remote = remote_with(tmp_path, {".github/draftsmith.yml": config}, fake_github)
    fake_github.files[".github/draftsmith.yml"] = config
    leaky: dict[str, Any] = change()
    key = "AKIA" + "IOSFODNN7EXAMPL1"
    leaky["edits"][0]["blocks"][0]["replace"] = (
        f'{ADD}\n\nAWS_ACCESS_KEY_ID = "{key}"\n\n\ndef subtract(a, b):\n    return a - b\n'
    )
    script = {"planner": [PLAN], "coder": [leaky], "reviewer": [APPROVED], "tester": [TESTS]}
    model = ScriptedModel(script, realistic_usage=True)
    with serving(settings, model, monkeypatch) as h:
        assert h.deliver("issues", labeled(remote)) == 202
        settle(h)
        run = only_run(h)
    assert run.status == Status.needs_human_review
    assert "work not pushed" in (run.status_reason or "")
    assert "draftsmith/" not in remote_branches(remote)
    assert fake_github.pulls == {}
    said = "\n".join(fake_github.comment_bodies(7))
    assert "not pushed" in said and "credential" in said and key not in said
