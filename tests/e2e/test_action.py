"""`draftsmith action` in a GitHub Actions workflow, one fresh runner per event: a labelled
issue or a mention starts a run that ends in a draft PR, a `/draftsmith revise` comment on the
PR makes a second revision, a writer's approving review releases a gated run, and a reader's
comment is refused. The store travels between runners as the README's workflow carries it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.run.states import Status
from tests.helpers.action_workflow import TOKEN, Workflow
from tests.helpers.fake_github import FakeGitHub
from tests.helpers.github_server import serve_github
from tests.helpers.payloads import load_payload
from tests.helpers.repos import PYTHON_FILES, git
from tests.helpers.scripted_model import ScriptedModel, serve_model
from tests.helpers.scripts import APPROVED, PLAN, TESTS, change, with_revisions

OWNERS = "* @octo/maintainers\ncalc/ @alice\nrequirements.txt @alice\n"
REPO_ID = 186853002  # the vendored payloads' repository id


@pytest.fixture
def github(tmp_path: Path) -> FakeGitHub:
    """GitHub for octo/widgets, its git remote a bare repository behind the Git Data API."""
    fake = FakeGitHub(repo="octo/widgets")
    fake.serve_remote(tmp_path, {**PYTHON_FILES, ".github/CODEOWNERS": OWNERS})
    fake.files[".github/CODEOWNERS"] = OWNERS
    fake.permissions.update({"carol": "write", "alice": "write", "mallory": "read"})
    return fake


def remote(github: FakeGitHub) -> str:
    assert github.git is not None
    return f"file://{github.git.git_dir}"


@pytest.fixture
def workflow_for(tmp_path: Path, github: FakeGitHub) -> Iterator[Any]:
    """`workflow_for(model)`: the example workflow against `github` and `model`."""
    with serve_github(github) as github_url:
        stack: list[Any] = []

        def make(model: ScriptedModel) -> Workflow:
            serving = serve_model(model)
            stack.append(serving)
            return Workflow(tmp_path / "actions", github_url, serving.__enter__())

        yield make
        for serving in stack:
            serving.__exit__(None, None, None)


def repository(github: FakeGitHub) -> dict[str, Any]:
    return {"full_name": "octo/widgets", "clone_url": remote(github), "default_branch": "main"}


def labelled(github: FakeGitHub) -> dict[str, Any]:
    """What GitHub writes to GITHUB_EVENT_PATH for `issues: labeled` (no `installation`)."""
    payload = load_payload(
        "issues.labeled",
        label={"name": "draftsmith"},
        repository=repository(github),
        issue={"number": 7, "title": "Add subtract", "body": "Please add subtract(a, b)."},
        sender={"login": "carol", "id": 3, "type": "User"},
    )
    payload.pop("installation", None)
    return payload


def comment_on(github: FakeGitHub, number: int, body: str, login: str) -> dict[str, Any]:
    """`issue_comment: created` on issue or PR `number` (a PR's comment carries its body)."""
    issue: dict[str, Any] = {"number": number, "title": "Add subtract", "body": "Please."}
    if number in github.pulls:
        pr = github.pulls[number]
        issue.update(body=pr["body"], pull_request={"url": pr["url"]})
    payload = load_payload(
        "issue_comment.created",
        repository=repository(github),
        issue=issue,
        comment={"body": body, "id": 800 + len(github.requests)},
        sender={"login": login, "id": 9, "type": "User"},
    )
    payload.pop("installation", None)
    return payload


def approval(github: FakeGitHub, number: int, login: str) -> dict[str, Any]:
    """`pull_request_review: submitted`, approved, on the PR's current head."""
    pr = github.pulls[number]
    head = github.check_runs[max(github.check_runs)]["head_sha"]
    payload = load_payload(
        "pull_request_review.submitted",
        repository=repository(github),
        review={"state": "approved", "body": "", "id": 77, "commit_id": head},
        pull_request={
            "number": number,
            "body": pr["body"],
            "head": {"sha": head, "ref": pr["head"]["ref"]},
            "user": {"login": "carol"},
        },
        sender={"login": login, "id": 11, "type": "User"},
    )
    payload.pop("installation", None)
    return payload


def head_of(github: FakeGitHub, branch: str) -> str:
    assert github.git is not None
    return git(github.git.git_dir, "rev-parse", branch).strip()


def test_a_labelled_issue_becomes_a_draft_pr_and_a_revise_comment_on_it_a_second_revision(
    github: FakeGitHub, workflow_for: Any
) -> None:
    model = ScriptedModel(with_revisions(1))
    workflow = workflow_for(model)

    first = workflow.run("issues", labelled(github))
    assert first.code == 0, first
    assert first.outputs["status"] == Status.approved.value and first.outputs["issue-number"] == "7"
    (number,) = github.pulls
    pr = github.pulls[number]
    assert first.outputs["pr-number"] == str(number)
    assert pr["draft"] is True and "Closes #7" in pr["body"]
    assert "passed, 0 failed" in pr["body"] and "## Coverage of the change" in pr["body"]
    check = github.check_runs[max(github.check_runs)]
    assert check["name"] == "draftsmith" and check["conclusion"] == "success"
    branch = pr["head"]["ref"]
    first_head = head_of(github, branch)
    assert check["head_sha"] == first_head
    assert "evidence: " in first.stdout and "status approved" in first.stdout

    # Every request carried the workflow's token, and no App token was ever asked for.
    assert github.tokens_issued == 0
    assert {r.headers.get("authorization") for r in github.requests} == {f"token {TOKEN}"}

    # A later workflow run, on another runner, with the store restored by the PR's number.
    revise = comment_on(github, number, "/draftsmith revise add a comment", "carol")
    second = workflow.run("issue_comment", revise)
    assert second.code == 0, second
    assert second.outputs["run-id"] == first.outputs["run-id"]
    assert list(github.pulls) == [number]
    assert head_of(github, branch) != first_head
    revised = github.check_runs[max(github.check_runs)]
    assert revised["head_sha"] == head_of(github, branch) and revised["conclusion"] == "success"
    assert "revision 1" in github.pulls[number]["body"]
    assert "add a comment" in json.dumps(model.bodies_of("coder")[-1]["messages"])
    assert github.unexpected == []


def test_a_steering_event_whose_store_was_not_carried_fails_and_starts_nothing_over(
    github: FakeGitHub, workflow_for: Any
) -> None:
    workflow = workflow_for(ScriptedModel(with_revisions(1)))
    assert workflow.run("issues", labelled(github)).code == 0
    (number,) = github.pulls
    requests, comments = len(github.requests), github.comment_bodies(number)

    lost = workflow.run(
        "issue_comment",
        comment_on(github, number, "/draftsmith revise add a comment", "carol"),
        restore=False,
    )
    assert lost.code == 2, lost
    assert f"pull request #{number} was opened by Draftsmith" in lost.stderr + lost.stdout
    assert "was not carried" in lost.stderr + lost.stdout
    assert github.comment_bodies(number) == comments
    assert all(r.method == "GET" for r in github.requests[requests:])

    # The same on the issue: its progress comment shows a run the store does not hold.
    on_issue = workflow.run(
        "issue_comment", comment_on(github, 7, "/draftsmith retry", "carol"), restore=False
    )
    assert on_issue.code == 2, on_issue
    assert "issue #7 has a Draftsmith run" in on_issue.stderr, on_issue


def test_a_readers_comment_is_refused_and_a_mention_starts_a_run(
    github: FakeGitHub, workflow_for: Any
) -> None:
    workflow = workflow_for(ScriptedModel(with_revisions(0)))

    refused = workflow.run(
        "issue_comment", comment_on(github, 8, "@draftsmith add subtract", "mallory")
    )
    assert refused.code == 0 and "refused: mallory has no write access" in refused.stdout, refused
    assert "only people with write access" in github.comment_bodies(8)[-1]
    assert github.pulls == {}

    started = workflow.run(
        "issue_comment", comment_on(github, 8, "@draftsmith add subtract(a, b)", "carol")
    )
    assert started.code == 0, started
    assert (
        started.outputs["issue-number"] == "8"
        and started.outputs["status"] == Status.approved.value
    )
    (pr,) = github.pulls.values()
    assert pr["draft"] is True and "Closes #8" in pr["body"]


def test_an_approving_review_by_a_code_owner_releases_a_gated_run(
    github: FakeGitHub, workflow_for: Any
) -> None:
    risky = change()
    risky["edits"].append(
        {"path": "requirements.txt", "operation": "create", "content": "attrs==23.2.0\n"}
    )
    script = {"planner": [PLAN], "coder": [risky], "reviewer": [APPROVED], "tester": [TESTS]}
    workflow = workflow_for(ScriptedModel(script))

    gated = workflow.run("issues", labelled(github))
    assert gated.code == 0 and gated.outputs["status"] == Status.needs_approval.value, gated
    number = int(gated.outputs["pr-number"])
    check = github.check_runs[max(github.check_runs)]
    assert check["conclusion"] == "action_required"
    assert "needs-approval" in github.labels_of(number)

    kept = workflow.run("pull_request_review", approval(github, number, "carol"))
    assert kept.code == 0 and kept.outputs["status"] == Status.needs_approval.value, kept

    released = workflow.run("pull_request_review", approval(github, number, "alice"))
    assert released.code == 0 and released.outputs["status"] == Status.approved.value, released
    pr = github.pulls[number]
    assert pr["draft"] is False
    assert "needs-approval" not in github.labels_of(number)
    assert github.check_runs[check["id"]]["conclusion"] == "success"
    assert github.unexpected == []
