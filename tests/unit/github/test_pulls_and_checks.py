"""Pull requests (find, draft, update, reviewers, labels, ready) and check runs."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from bot.github.checks import Annotation
from bot.github.client import GitHubGateway, InstallationClient
from bot.github.models import check_failed
from bot.shared.errors import GitHubError
from tests.helpers.github_objects import annotation, check_run, label
from tests.unit.github.support import pull, token_body


@pytest.fixture
def client(github_api: respx.MockRouter, gateway: GitHubGateway) -> InstallationClient:
    """A client for installation 77."""
    github_api.post("/app/installations/77/access_tokens").respond(201, json=token_body())
    return gateway.installation(77, ["widgets"])


def _body(route: respx.Route, index: int = -1) -> object:
    return json.loads(route.calls[index].request.content)


def test_find_open_pull_request_by_head_branch(
    github_api: respx.MockRouter, client: InstallationClient
) -> None:
    route = github_api.get("/repos/octo/widgets/pulls").respond(200, json=[pull(9)])

    found = client.pulls.find_open("octo/widgets", "draftsmith/7-add-widget")

    params = route.calls.last.request.url.params
    assert (params["state"], params["head"]) == ("open", "octo:draftsmith/7-add-widget")
    assert found is not None and (found.number, found.head.ref, found.draft) == (
        9,
        "draftsmith/7-add-widget",
        True,
    )


def test_find_open_pull_request_returns_none_without_one(
    github_api: respx.MockRouter, client: InstallationClient
) -> None:
    github_api.get("/repos/octo/widgets/pulls").respond(200, json=[])

    assert client.pulls.find_open("octo/widgets", "draftsmith/none") is None


def test_create_draft_pull_request(
    github_api: respx.MockRouter, client: InstallationClient
) -> None:
    route = github_api.post("/repos/octo/widgets/pulls").respond(201, json=pull(9))

    created = client.pulls.create_draft(
        "octo/widgets",
        title="Add widget",
        body="Closes #7",
        head="draftsmith/7-add-widget",
        base="main",
    )

    assert _body(route) == {
        "title": "Add widget",
        "body": "Closes #7",
        "head": "draftsmith/7-add-widget",
        "base": "main",
        "draft": True,
    }
    assert (created.number, created.node_id, created.draft) == (9, "PR_kwDOA9", True)


def test_update_pull_request_sends_only_what_changes(
    github_api: respx.MockRouter, client: InstallationClient
) -> None:
    route = github_api.patch("/repos/octo/widgets/pulls/9").respond(
        200, json=pull(9, body="Closes #7\n\nRevised")
    )

    updated = client.pulls.update("octo/widgets", 9, body="Closes #7\n\nRevised")

    assert _body(route) == {"body": "Closes #7\n\nRevised"}
    assert updated.body == "Closes #7\n\nRevised"
    with pytest.raises(GitHubError, match="nothing to update"):
        client.pulls.update("octo/widgets", 9)


def test_request_reviewers_splits_users_and_team_slugs(
    github_api: respx.MockRouter, client: InstallationClient
) -> None:
    route = github_api.post("/repos/octo/widgets/pulls/9/requested_reviewers").respond(
        201, json=pull(9)
    )

    client.pulls.request_reviewers("octo/widgets", 9, ["@alice", "bob"], ["@octo/security"])
    client.pulls.request_reviewers("octo/widgets", 9)  # nobody to ask: no request

    assert route.call_count == 1
    assert _body(route) == {"reviewers": ["alice", "bob"], "team_reviewers": ["security"]}


def test_add_and_remove_labels(github_api: respx.MockRouter, client: InstallationClient) -> None:
    added = label("needs approval")
    add = github_api.post("/repos/octo/widgets/issues/9/labels").respond(200, json=[added])
    remove = github_api.delete("/repos/octo/widgets/issues/9/labels/needs%20approval").mock(
        side_effect=[
            httpx.Response(200, json=[]),
            httpx.Response(404, json={"message": "Label does not exist"}),
        ]
    )

    client.pulls.add_labels("octo/widgets", 9, ["needs approval"])
    client.pulls.remove_label("octo/widgets", 9, "needs approval")
    client.pulls.remove_label("octo/widgets", 9, "needs approval")  # already gone: fine

    assert _body(add) == {"labels": ["needs approval"]}
    assert remove.call_count == 2


def test_mark_ready_for_review_uses_the_graphql_mutation(
    github_api: respx.MockRouter, client: InstallationClient
) -> None:
    route = github_api.post("/graphql").respond(
        200, json={"data": {"markPullRequestReadyForReview": {"pullRequest": {"isDraft": False}}}}
    )

    client.pulls.mark_ready_for_review("PR_kwDOA9")

    sent = _body(route)
    assert isinstance(sent, dict)
    assert "markPullRequestReadyForReview" in sent["query"]
    assert sent["variables"] == {"id": "PR_kwDOA9"}


def test_graphql_errors_raise_github_error(
    github_api: respx.MockRouter, client: InstallationClient
) -> None:
    github_api.post("/graphql").respond(
        200,
        json={
            "data": {"markPullRequestReadyForReview": None},
            "errors": [{"type": "FORBIDDEN", "message": "Resource not accessible by integration"}],
        },
    )

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


def test_create_check_run(github_api: respx.MockRouter, client: InstallationClient) -> None:
    route = github_api.post("/repos/octo/widgets/check-runs").respond(
        201, json=_check_run(4, name="draftsmith", status="in_progress", conclusion=None)
    )

    run = client.checks.create(
        "octo/widgets",
        name="draftsmith",
        head_sha="ce587453ced02b1526dfb4cb910479d431683101",
        external_id="run-12",
        details_url="https://draftsmith.example/runs/12",
        title="Draftsmith",
        summary="Planning",
    )

    assert _body(route) == {
        "name": "draftsmith",
        "head_sha": "ce587453ced02b1526dfb4cb910479d431683101",
        "status": "in_progress",
        "external_id": "run-12",
        "details_url": "https://draftsmith.example/runs/12",
        "output": {"title": "Draftsmith", "summary": "Planning"},
    }
    assert run.id == 4 and run.status == "in_progress"


def test_update_check_run_sends_annotations_in_batches_of_50(
    github_api: respx.MockRouter, client: InstallationClient
) -> None:
    route = github_api.patch("/repos/octo/widgets/check-runs/4").respond(
        200, json=_check_run(4, name="draftsmith", conclusion="failure", annotations_count=120)
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

    bodies = [json.loads(call.request.content) for call in route.calls]
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


def test_failing_check_runs_of_a_suite_come_with_their_annotations(
    github_api: respx.MockRouter, client: InstallationClient
) -> None:
    github_api.get("/repos/octo/widgets/check-suites/5/check-runs").respond(
        200,
        json={
            "total_count": 4,
            "check_runs": [
                _check_run(1, name="lint", conclusion="success"),
                _check_run(2, name="tests", conclusion="failure", annotations_count=1),
                _check_run(3, name="types", conclusion="timed_out"),
                _check_run(6, name="build", status="in_progress", conclusion=None),
            ],
        },
    )
    annotations = github_api.get("/repos/octo/widgets/check-runs/2/annotations").respond(
        200,
        json=[annotation("tests/test_widget.py", 2, "failure", "AssertionError", "test_widget")],
    )

    failing = client.checks.failing_for_suite("octo/widgets", 5)

    assert [(f.run.name, f.run.conclusion) for f in failing] == [
        ("tests", "failure"),
        ("types", "timed_out"),
    ]
    assert failing[0].run.output.summary == "tests: failure"
    assert [a.message for a in failing[0].annotations] == ["AssertionError"]
    assert failing[1].annotations == []
    assert annotations.call_count == 1
