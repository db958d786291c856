"""Pull requests (find, draft, update, reviewers, labels, ready) and check runs."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from bot.github.checks import Annotation
from bot.github.client import GitHubGateway, InstallationClient
from bot.github.models import check_failed
from bot.shared.errors import GitHubError
from tests.helpers.fake_github import FakeGitHub
from tests.helpers.github_objects import annotation, check_run
from tests.unit.github.support import pull

PULLS = "/repos/octo/widgets/pulls"


@pytest.fixture
def client(fake_github: FakeGitHub, gateway: GitHubGateway) -> InstallationClient:
    """A client for installation 77."""
    return gateway.installation(77, ["widgets"])


def _bodies(api: FakeGitHub, method: str, path: str) -> list[Any]:
    """What each `method path` request sent, oldest first."""
    return [json.loads(request.content) for request in api.calls(method, path)]


def test_find_open_pull_request_by_head_branch(
    fake_github: FakeGitHub, client: InstallationClient
) -> None:
    fake_github.pulls[8] = pull(8, head="draftsmith/6-other")
    fake_github.pulls[9] = pull(9)

    found = client.pulls.find_open("octo/widgets", "draftsmith/7-add-widget")

    params = fake_github.calls("GET", PULLS)[-1].url.params
    assert (params["state"], params["head"]) == ("open", "octo:draftsmith/7-add-widget")
    assert found is not None and (found.number, found.head.ref, found.draft) == (
        9,
        "draftsmith/7-add-widget",
        True,
    )


def test_find_open_pull_request_returns_none_without_one(
    fake_github: FakeGitHub, client: InstallationClient
) -> None:
    fake_github.pulls[9] = pull(9)  # another head's

    assert client.pulls.find_open("octo/widgets", "draftsmith/none") is None
    assert fake_github.calls("GET", PULLS)


def test_create_draft_pull_request(fake_github: FakeGitHub, client: InstallationClient) -> None:
    created = client.pulls.create_draft(
        "octo/widgets",
        title="Add widget",
        body="Closes #7",
        head="draftsmith/7-add-widget",
        base="main",
    )

    assert _bodies(fake_github, "POST", PULLS) == [
        {
            "title": "Add widget",
            "body": "Closes #7",
            "head": "draftsmith/7-add-widget",
            "base": "main",
            "draft": True,
        }
    ]
    ((number, stored),) = fake_github.pulls.items()
    assert (created.number, created.node_id, created.draft) == (number, stored["node_id"], True)


def test_update_pull_request_sends_only_what_changes(
    fake_github: FakeGitHub, client: InstallationClient
) -> None:
    fake_github.pulls[9] = pull(9)

    updated = client.pulls.update("octo/widgets", 9, body="Closes #7\n\nRevised")

    assert _bodies(fake_github, "PATCH", f"{PULLS}/9") == [{"body": "Closes #7\n\nRevised"}]
    assert updated.body == "Closes #7\n\nRevised"
    assert fake_github.pulls[9]["title"] == "Add widget"  # untouched
    with pytest.raises(GitHubError, match="nothing to update"):
        client.pulls.update("octo/widgets", 9)


def test_request_reviewers_splits_users_and_team_slugs(
    fake_github: FakeGitHub, client: InstallationClient
) -> None:
    fake_github.pulls[9] = pull(9)

    client.pulls.request_reviewers("octo/widgets", 9, ["@alice", "bob"], ["@octo/security"])
    client.pulls.request_reviewers("octo/widgets", 9)  # nobody to ask: no request

    assert _bodies(fake_github, "POST", f"{PULLS}/9/requested_reviewers") == [
        {"reviewers": ["alice", "bob"], "team_reviewers": ["security"]}
    ]
    assert fake_github.reviewers[9] == ["alice", "bob"]
    assert fake_github.team_reviewers[9] == ["security"]


def test_add_and_remove_labels(fake_github: FakeGitHub, client: InstallationClient) -> None:
    client.pulls.add_labels("octo/widgets", 9, ["needs approval"])
    assert fake_github.labels_of(9) == ["needs approval"]
    client.pulls.remove_label("octo/widgets", 9, "needs approval")
    client.pulls.remove_label("octo/widgets", 9, "needs approval")  # already gone (404): fine

    labels = "/repos/octo/widgets/issues/9/labels"
    assert _bodies(fake_github, "POST", labels) == [{"labels": ["needs approval"]}]
    assert len(fake_github.calls("DELETE", f"{labels}/needs approval")) == 2
    assert fake_github.labels_of(9) == []


def test_mark_ready_for_review_uses_the_graphql_mutation(
    fake_github: FakeGitHub, client: InstallationClient
) -> None:
    fake_github.pulls[9] = pull(9)

    client.pulls.mark_ready_for_review("PR_kwDOA9")

    (sent,) = _bodies(fake_github, "POST", "/graphql")
    assert isinstance(sent, dict)
    assert "markPullRequestReadyForReview" in sent["query"]
    assert sent["variables"] == {"id": "PR_kwDOA9"}
    assert fake_github.ready_marked == ["PR_kwDOA9"] and fake_github.pulls[9]["draft"] is False


def test_graphql_errors_raise_github_error(
    fake_github: FakeGitHub, client: InstallationClient
) -> None:
    fake_github.pulls[9] = pull(9)
    forbidden = httpx.Response(
        200,
        json={
            "data": {"markPullRequestReadyForReview": None},
            "errors": [{"type": "FORBIDDEN", "message": "Resource not accessible by integration"}],
        },
    )
    fake_github.script("POST", "/graphql", forbidden)

    with pytest.raises(GitHubError, match="Resource not accessible"):
        client.pulls.mark_ready_for_review("PR_kwDOA9")


def _check_run(
    id_: int,
    *,
    name: str,
    status: str = "completed",
    conclusion: str | None,
    annotations_count: int = 0,
) -> dict[str, object]:
    item = check_run(
        id_,
        name=name,
        head_sha="ce587453ced02b1526dfb4cb910479d431683101",
        status=status,
        conclusion=conclusion,
        output={
            "title": f"{name} report",
            "summary": f"{name}: {conclusion}",
            "annotations_count": annotations_count,
        },
    )
    item.update(external_id="run-12", details_url="https://draftsmith.example/runs/12")
    return item


def _annotation(line: int) -> Annotation:
    return Annotation(
        path="src/widget.py",
        start_line=line,
        end_line=line,
        annotation_level="failure",
        message=f"problem on line {line}",
    )


def test_create_check_run(fake_github: FakeGitHub, client: InstallationClient) -> None:
    run = client.checks.create(
        "octo/widgets",
        name="draftsmith",
        head_sha="ce587453ced02b1526dfb4cb910479d431683101",
        external_id="run-12",
        details_url="https://draftsmith.example/runs/12",
        title="Draftsmith",
        summary="Planning",
    )

    assert _bodies(fake_github, "POST", "/repos/octo/widgets/check-runs") == [
        {
            "name": "draftsmith",
            "head_sha": "ce587453ced02b1526dfb4cb910479d431683101",
            "status": "in_progress",
            "external_id": "run-12",
            "details_url": "https://draftsmith.example/runs/12",
            "output": {"title": "Draftsmith", "summary": "Planning"},
        }
    ]
    (stored,) = fake_github.check_runs
    assert run.id == stored and run.status == "in_progress"


def test_update_check_run_sends_annotations_in_batches_of_50(
    fake_github: FakeGitHub, client: InstallationClient
) -> None:
    fake_github.check_runs[4] = _check_run(
        4, name="draftsmith", status="in_progress", conclusion=None
    )

    run = client.checks.update(
        "octo/widgets",
        4,
        title="Tests failed",
        summary="3 of 40 failed",
        annotations=[_annotation(n) for n in range(1, 121)],
        status="completed",
        conclusion="failure",
    )

    bodies = _bodies(fake_github, "PATCH", "/repos/octo/widgets/check-runs/4")
    assert [len(b["output"]["annotations"]) for b in bodies] == [50, 50, 20]
    assert [b["output"]["summary"] for b in bodies] == ["3 of 40 failed"] * 3
    assert ["conclusion" in b for b in bodies] == [False, False, True]
    assert bodies[2]["status"] == "completed"
    assert bodies[0]["output"]["annotations"][0] == {
        "path": "src/widget.py",
        "start_line": 1,
        "end_line": 1,
        "annotation_level": "failure",
        "message": "problem on line 1",
    }
    assert check_failed(run)
    assert len(fake_github.annotations[4]) == 120
    assert run.output.annotations_count == 120


def test_failing_check_runs_of_a_suite_come_with_their_annotations(
    fake_github: FakeGitHub, client: InstallationClient
) -> None:
    fake_github.suites[5] = [
        _check_run(1, name="lint", conclusion="success"),
        _check_run(2, name="tests", conclusion="failure", annotations_count=1),
        _check_run(3, name="types", conclusion="timed_out"),
        _check_run(6, name="build", status="in_progress", conclusion=None),
    ]
    fake_github.annotations[2] = [
        annotation("tests/test_widget.py", 2, "failure", "AssertionError", "test_widget")
    ]

    failing = client.checks.failing_for_suite("octo/widgets", 5)

    assert [(f.run.name, f.run.conclusion) for f in failing] == [
        ("tests", "failure"),
        ("types", "timed_out"),
    ]
    assert failing[0].run.output.summary == "tests: failure"
    assert [a.message for a in failing[0].annotations] == ["AssertionError"]
    assert failing[1].annotations == []
    assert len(fake_github.calls("GET", "/repos/octo/widgets/check-runs/2/annotations")) == 1
