"""From a labelled issue to a draft PR with evidence, reviewers and gate, then steering and
release, through the webhook server, a scripted model, the bwrap sandbox, a real git remote and
GitHub's API at the HTTP boundary."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.run.states import Phase, Status
from bot.shared.config import Settings
from tests.helpers import github_objects as objects
from tests.helpers.draftsmith import Harness, draftsmith
from tests.helpers.fake_github import FakeGitHub
from tests.helpers.github_objects import check_run
from tests.helpers.payloads import load_payload
from tests.helpers.repos import PYTHON_FILES, git
from tests.helpers.scripted_model import ScriptedModel
from tests.helpers.scripts import APPROVED, PLAN, TESTS, change, happy_path, with_revisions

OWNERS = "* @octo/maintainers\ncalc/ @alice\nrequirements.txt @alice\n"


@pytest.fixture
def remote(tmp_path: Path, fake_github: FakeGitHub) -> str:
    """A bare repository serving as GitHub's git remote (a file:// clone URL) and behind the
    fake's Git Data API."""
    return fake_github.serve_remote(tmp_path, {**PYTHON_FILES, ".github/CODEOWNERS": OWNERS})


def labeled(remote: str) -> dict[str, Any]:
    return load_payload(
        "issues.labeled",
        label={"name": "draftsmith"},
        installation={"id": 4242},
        repository={"full_name": "octo/widgets", "clone_url": remote, "default_branch": "main"},
        issue={"number": 7, "title": "Add subtract", "body": "Please add subtract(a, b)."},
        sender={"login": "carol", "id": 3, "type": "User"},
    )


def comment(body: str, login: str, number: int = 7) -> dict[str, Any]:
    return load_payload(
        "issue_comment.created",
        installation={"id": 4242},
        repository={"full_name": "octo/widgets"},
        issue={"number": number},
        comment={"body": body, "id": 555},
        sender={"login": login, "id": 9, "type": "User"},
    )


def review(
    state: str,
    login: str,
    pr: int,
    head: str,
    author: str = "draftsmith[bot]",
    review_id: int = 77,
    body: str = "",
) -> dict[str, Any]:
    return load_payload(
        "pull_request_review.submitted",
        installation={"id": 4242},
        repository={"full_name": "octo/widgets"},
        review={"state": state, "body": body, "id": review_id, "commit_id": head},
        pull_request={"number": pr, "head": {"sha": head}, "user": {"login": author}},
        sender={"login": login, "id": 11, "type": "User"},
    )


@contextmanager
def labelled_run(
    settings: Settings, model: ScriptedModel, monkeypatch: pytest.MonkeyPatch, clone_url: str
) -> Iterator[Harness]:
    """Draftsmith serving with `model`, after issue #7 was labelled and its run settled."""
    with draftsmith(settings, model, monkeypatch) as h:
        assert h.deliver("issues", labeled(clone_url)) == 202
        h.settle()
        yield h


def test_labelled_issue_to_draft_pr_with_evidence_then_revise_by_a_writer(
    settings: Settings, fake_github: FakeGitHub, remote: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_github.permissions.update({"carol": "write", "mallory": "read"})
    fake_github.files[".github/CODEOWNERS"] = OWNERS
    model = ScriptedModel(with_revisions(1))
    with labelled_run(settings, model, monkeypatch, remote) as h:
        runtime = h.runtime
        run = runtime.store.list_runs()[0]
        assert run.status == Status.approved, run.status_reason
        assert len(fake_github.pulls) == 1
        pr = next(iter(fake_github.pulls.values()))
        assert pr["draft"] is True and "Closes #7" in pr["body"]
        report = json.loads(runtime.store.get_artifact(run.id, "testreport.r0").content)
        assert f"{report['tests_passed']} passed, {report['tests_failed']} failed" in pr["body"]
        assert f"Draftsmith run `{run.id}`" in pr["body"]
        assert fake_github.reviewers[pr["number"]] == ["alice"]
        check = next(iter(fake_github.check_runs.values()))
        assert check["name"] == "draftsmith" and check["conclusion"] == "success"
        branch_head = git(Path(remote.removeprefix("file://")), "rev-parse", run.branch)
        assert branch_head.strip() == run.head_sha
        progress = fake_github.comment_bodies(7)
        assert len(progress) == 1 and pr["html_url"] in progress[0]

        # A reader's revise changes nothing and gets one polite reply.
        assert h.deliver("issue_comment", comment("/draftsmith revise do more", "mallory")) == 202
        h.handled()
        assert runtime.store.get_run(run.id).revision == run.revision
        assert "only people with write access" in fake_github.comment_bodies(7)[-1]

        # A writer's revise makes a new commit on the same branch and updates the same PR.
        assert (
            h.deliver("issue_comment", comment("/draftsmith revise add a comment", "carol")) == 202
        )
        h.settle()
        revised = runtime.store.get_run(run.id)
        assert revised.status == Status.approved and revised.revision == run.revision + 1
        assert revised.branch == run.branch and revised.head_sha != run.head_sha
        assert len(fake_github.pulls) == 1
        coder_prompt = json.dumps(model.bodies_of("coder")[-1]["messages"])
        assert "add a comment" in coder_prompt
        # The revision defines subtract a second time: ruff's new finding (a warning, so not
        # blocking) is an annotation of the check run at its line; the body shows the basis.
        (revised_check,) = [
            c for c in fake_github.check_runs.values() if c["head_sha"] == revised.head_sha
        ]
        notes = fake_github.annotations.get(revised_check["id"], [])
        assert [(a["path"], a["annotation_level"]) for a in notes if "F811" in a["message"]] == [
            ("calc/__init__.py", "warning")
        ]
        body = pr["body"]
        assert "The verdict was based on:" in body and "## Coverage of the change" in body
    assert fake_github.unexpected == []


def test_a_risky_change_is_gated_and_only_a_code_owner_releases_it(
    settings: Settings, fake_github: FakeGitHub, remote: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_github.permissions.update({"carol": "write", "alice": "write", "bob": "write"})
    fake_github.files[".github/CODEOWNERS"] = OWNERS
    risky = change()
    risky["edits"].append(
        {"path": "requirements.txt", "operation": "create", "content": "attrs==23.2.0\n"}
    )
    script = {"planner": [PLAN], "coder": [risky], "reviewer": [APPROVED], "tester": [TESTS]}
    model = ScriptedModel(script)
    with labelled_run(settings, model, monkeypatch, remote) as h:
        runtime = h.runtime
        run = runtime.store.list_runs()[0]
        assert run.status == Status.needs_approval, run.status_reason
        pr = fake_github.pulls[run.pr_number]
        assert "needs-approval" in fake_github.labels_of(run.pr_number)
        check = next(iter(fake_github.check_runs.values()))
        assert check["conclusion"] == "action_required"
        head = run.head_sha or ""
        # Not the author, not a non-owner, not a comment review.
        for login, state in (
            ("carol", "approved"),
            ("bob", "approved"),
            ("octo-maintainer", "commented"),
        ):
            author = "carol"
            assert (
                h.deliver("pull_request_review", review(state, login, run.pr_number, head, author))
                == 202
            )
            h.handled()
            assert runtime.store.get_run(run.id).status == Status.needs_approval
        assert (
            h.deliver(
                "pull_request_review", review("approved", "alice", run.pr_number, head, "carol")
            )
            == 202
        )
        h.handled()
        released = runtime.store.get_run(run.id)
        assert released.status == Status.approved
        assert "needs-approval" not in fake_github.labels_of(run.pr_number)
        assert pr["draft"] is False
        assert fake_github.check_runs[check["id"]]["conclusion"] == "success"


def line_comment(
    pr: int, path: str, line: int, body: str, login: str, review_id: int = 88, id_: int = 901
) -> dict[str, Any]:
    return load_payload(
        "pull_request_review_comment.created",
        installation={"id": 4242},
        repository={"full_name": "octo/widgets"},
        pull_request={"number": pr},
        comment={
            "path": path, "line": line, "body": body, "id": id_,
            "pull_request_review_id": review_id,
        },
        sender={"login": login, "id": 12, "type": "User"},
    )  # fmt: skip


FIVE_NOTES = [
    ("calc/__init__.py", 8, "name the operands x and y"),
    ("calc/__init__.py", 9, "add a docstring to subtract"),
    ("calc/__init__.py", 1, "keep the module docstring short"),
    ("tests/test_calc.py", 3, "test negative numbers too"),
    ("tests/test_calc.py", 5, "use pytest.mark.parametrize here"),
]


def failing_suite(pr: int, head: str, suite_id: int) -> dict[str, Any]:
    return load_payload(
        "check_suite.completed",
        installation={"id": 4242},
        repository={"full_name": "octo/widgets"},
        check_suite={
            "id": suite_id,
            "head_sha": head,
            "conclusion": "failure",
            "pull_requests": [{"number": pr}],
            "app": {"slug": "github-actions"},
        },
    )


def ci_run(run_id: int, head: str) -> dict[str, Any]:
    item = check_run(
        run_id,
        name="lint",
        head_sha=head,
        conclusion="failure",
        app_id=15368,
        output={
            "title": "lint failed",
            "summary": "flake8: calc/__init__.py:8:1 E302",
            "text": "E302 expected 2 blank lines",
        },
    )
    item["app"]["slug"] = "github-actions"
    return item


def test_line_comments_and_failing_ci_steer_the_same_run(
    settings: Settings, fake_github: FakeGitHub, remote: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_github.permissions.update({"carol": "write", "mallory": "none"})
    fake_github.files[".github/CODEOWNERS"] = OWNERS
    model = ScriptedModel(with_revisions(2))  # the line comment's and the CI repair's
    with labelled_run(settings, model, monkeypatch, remote) as h:
        runtime = h.runtime
        run = runtime.store.list_runs()[0]
        pr = run.pr_number
        assert pr is not None

        # A non-writer's review changes nothing, line comments and all.
        fake_github.review_comments[87] = [
            objects.review_comment(900, 87, "calc/__init__.py", 8, "nit", "mallory")
        ]
        comment_87 = line_comment(pr, "calc/__init__.py", 8, "nit", "mallory", 87, 900)
        assert h.deliver("pull_request_review_comment", comment_87) == 202
        head = runtime.store.get_run(run.id).head_sha or ""
        assert h.deliver("pull_request_review", review("changes_requested", "mallory", pr, head,
                                                       review_id=87)) == 202  # fmt: skip
        h.handled()
        assert runtime.store.get_run(run.id).revision == 0

        # A writer's review with five line comments (and a reply between people in a thread)
        # is one revision: each comment waits for the review, which brings them all.
        notes = [
            objects.review_comment(910 + i, 88, path, line, text, "carol")
            for i, (path, line, text) in enumerate(FIVE_NOTES)
        ]
        reply_text = "agreed, though I prefer a and b"
        notes.append(
            objects.review_comment(920, 88, "calc/__init__.py", 8, reply_text, "carol", 900)
        )
        fake_github.review_comments[88] = notes
        for i, (path, line, text) in enumerate(FIVE_NOTES):
            note = line_comment(pr, path, line, text, "carol", 88, 910 + i)
            assert h.deliver("pull_request_review_comment", note) == 202
        h.handled()
        assert runtime.store.get_run(run.id).revision == 0  # the comments wait for the review
        writer_review = review("changes_requested", "carol", pr, head, review_id=88,
                               body="A few things")  # fmt: skip
        assert h.deliver("pull_request_review", writer_review) == 202
        h.settle()
        after_comment = runtime.store.get_run(run.id)
        assert after_comment.revision == 1 and after_comment.status == Status.approved
        coder_prompt = json.dumps(model.bodies[-3]["messages"])
        for path, line, text in FIVE_NOTES:
            assert f"{path}:{line}" in coder_prompt and text in coder_prompt
        assert "I prefer a and b" not in coder_prompt

        # A reply between two people, in a review that does not address Draftsmith: nothing.
        fake_github.review_comments[89] = [
            objects.review_comment(930, 89, "calc/__init__.py", 8, "yes, let us wait", "carol", 920)
        ]
        reply = review("commented", "carol", pr, after_comment.head_sha or "", review_id=89)
        assert h.deliver("pull_request_review", reply) == 202
        h.handled()
        assert runtime.store.get_run(run.id).revision == 1

        # A failing CI run on the head gets one repair revision...
        head = after_comment.head_sha or ""
        fake_github.suites[31] = [ci_run(71, head)]
        assert h.deliver("check_suite", failing_suite(pr, head, 31)) == 202
        h.settle()
        repaired = runtime.store.get_run(run.id)
        assert repaired.revision == 2
        assert "E302 expected 2 blank lines" in json.dumps(model.bodies[-3]["messages"])

        # ...and no more: a second failure is reported on the PR instead.
        calls_before = dict(model.calls)
        new_head = repaired.head_sha or ""
        fake_github.suites[32] = [ci_run(72, new_head)]
        assert h.deliver("check_suite", failing_suite(pr, new_head, 32)) == 202
        h.handled()
        assert model.calls == calls_before
        assert runtime.store.get_run(run.id).revision == 2
        assert "still fail after 1 repair" in fake_github.comment_bodies(pr)[-1]
    assert fake_github.unexpected == []


def test_a_forbidden_path_is_blocked_with_the_reason_on_the_issue(
    settings: Settings, fake_github: FakeGitHub, remote: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = change()
    bad["edits"].append({"path": "config/.env", "operation": "create", "content": "TOKEN=x\n"})
    model = ScriptedModel({"planner": [PLAN], "coder": [bad]})
    with labelled_run(settings, model, monkeypatch, remote) as h:
        runtime = h.runtime
    run = runtime.store.list_runs()[0]
    assert run.status == Status.blocked_by_policy
    assert fake_github.pulls == {}
    progress = fake_github.comment_bodies(7)[-1]
    assert "Blocked by policy" in progress and "config/.env" in progress
    pushed = subprocess.run(["git", "ls-remote", remote], capture_output=True, text=True).stdout
    assert "draftsmith/" not in pushed


def test_a_plan_that_needs_approval_waits_for_a_writer_before_any_code(
    settings: Settings, fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_github.permissions.update({"carol": "write", "mallory": "read"})
    config = "require_plan_approval: true\n"
    files = {**PYTHON_FILES, ".github/draftsmith.yml": config}
    gated = fake_github.serve_remote(tmp_path, files, name="gated")
    fake_github.files[".github/draftsmith.yml"] = config
    model = ScriptedModel(happy_path())
    with labelled_run(settings, model, monkeypatch, gated) as h:
        runtime = h.runtime
        run = runtime.store.list_runs()[0]
        assert (run.status, run.phase) == (Status.waiting, Phase.plan_approval)
        assert model.calls["coder"] == 0
        plan_comment = next(b for b in fake_github.comment_bodies(7) if "plan for run" in b)
        assert "`calc/__init__.py`" in plan_comment and "Estimate: about" in plan_comment
        assert "subtract(5, 3) returns 2" in plan_comment

        assert h.deliver("issue_comment", comment("/draftsmith approve-plan", "mallory")) == 202
        h.handled()
        assert runtime.store.get_run(run.id).status == Status.waiting

        assert h.deliver("issue_comment", comment("/draftsmith approve-plan", "carol")) == 202
        h.settle()
        done = runtime.store.get_run(run.id)
        assert done.status == Status.approved, done.status_reason
        assert model.calls == {"planner": 1, "coder": 1, "reviewer": 1, "tester": 1}


def test_a_writer_removed_after_steering_gets_nothing_published(
    settings: Settings, fake_github: FakeGitHub, remote: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # carol may write when her comment is handled, and has lost access when the run publishes.
    fake_github.files[".github/CODEOWNERS"] = OWNERS
    model = ScriptedModel(with_revisions(1))
    with labelled_run(settings, model, monkeypatch, remote) as h:
        runtime = h.runtime
        run = runtime.store.list_runs()[0]
        pr = fake_github.pulls[run.pr_number]
        body_before = pr["body"]
        fake_github.permissions["carol"] = ["write", "none"]
        assert h.deliver("issue_comment", comment("/draftsmith revise more", "carol")) == 202
        h.settle()
    stopped = runtime.store.get_run(run.id)
    assert stopped.status == Status.needs_human_review
    assert "@carol" in (stopped.status_reason or "") and "no longer has write access" in (
        stopped.status_reason or ""
    )
    assert pr["body"] == body_before
    assert git(Path(remote.removeprefix("file://")), "rev-parse", run.branch).strip() == (
        run.head_sha
    )
