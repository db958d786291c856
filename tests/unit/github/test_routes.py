"""Every request the gateway sends is a route of GitHub's REST description (@octokit/openapi)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import respx

from bot.github.client import GitHubGateway
from bot.github.deliveries import catch_up
from bot.github.models import Annotation
from tests.unit.github.support import (
    API,
    ROUTES_FILE,
    START,
    FakeClock,
    check_calls_documented,
    comment,
    documented_route,
    pull,
    token_body,
    user,
)

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "extract_github_routes.py"

GATEWAY_ROUTES = {
    "POST /app/installations/{installation_id}/access_tokens",
    "GET /app/hook/deliveries",
    "POST /app/hook/deliveries/{delivery_id}/attempts",
    "GET /repos/{owner}/{repo}",
    "GET /repos/{owner}/{repo}/collaborators/{username}/permission",
    "GET /repos/{owner}/{repo}/contents/{path}",
    "GET /repos/{owner}/{repo}/issues/{issue_number}/comments",
    "POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
    "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}",
    "POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
    "GET /repos/{owner}/{repo}/pulls",
    "POST /repos/{owner}/{repo}/pulls",
    "PATCH /repos/{owner}/{repo}/pulls/{pull_number}",
    "POST /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers",
    "POST /repos/{owner}/{repo}/issues/{issue_number}/labels",
    "DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}",
    "POST /repos/{owner}/{repo}/check-runs",
    "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}",
    "GET /repos/{owner}/{repo}/check-suites/{check_suite_id}/check-runs",
    "GET /repos/{owner}/{repo}/check-runs/{check_run_id}/annotations",
    "POST /graphql",
}
"""The whole REST surface of the gateway: adding a call means adding it here, checked below."""


def test_route_list_is_vendored_from_octokit_openapi() -> None:
    document = json.loads(ROUTES_FILE.read_text())

    assert document["source"].startswith("@octokit/openapi@")
    assert len(document["routes"]) > 1000
    assert set(GATEWAY_ROUTES - {"POST /graphql"}) <= set(document["routes"])


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        pytest.param(
            "GET",
            "/repos/o/r/contents/docs/CODEOWNERS",
            "GET /repos/{owner}/{repo}/contents/{path}",
            id="path-with-slashes",
        ),
        pytest.param("GET", "/repos/o/r/pulls", "GET /repos/{owner}/{repo}/pulls", id="list"),
        pytest.param("POST", "/repos/o/r/issues/7/comment", None, id="misspelt-route"),
        pytest.param("PUT", "/repos/o/r/pulls", None, id="wrong-method"),
        pytest.param("POST", "/graphql", "POST /graphql", id="graphql"),
    ],
)
def test_route_check_matches_templates(method: str, path: str, expected: str | None) -> None:
    assert documented_route(method, path) == expected


def test_route_check_fails_on_an_undocumented_request() -> None:
    with respx.mock(base_url=API) as router:
        router.post("/repos/o/r/issues/7/comment").respond(201, json={})
        httpx.post(f"{API}/repos/o/r/issues/7/comment", json={})

        with pytest.raises(AssertionError, match="not in @octokit/openapi"):
            check_calls_documented(router)


def test_every_gateway_operation_sends_a_documented_route(
    private_key: str, clock: FakeClock
) -> None:
    gateway = GitHubGateway(42, private_key, API, sleep=clock.sleep, clock=clock)
    run = {
        "id": 4,
        "name": "draftsmith",
        "head_sha": "a" * 40,
        "status": "completed",
        "conclusion": "failure",
        "output": {"title": "t", "summary": "s", "annotations_count": 1},
    }
    file = {
        "type": "file",
        "encoding": "base64",
        "content": base64.b64encode(b"x").decode(),
        "path": "a",
        "name": "a",
        "size": 1,
        "sha": "0" * 40,
    }
    with respx.mock(base_url=API, assert_all_called=True) as api:
        api.post("/app/installations/77/access_tokens").respond(201, json=token_body())
        api.get("/app/hook/deliveries").respond(
            200,
            json=[
                {
                    "id": 1,
                    "guid": "g",
                    "delivered_at": "2026-11-23T11:00:00Z",
                    "redelivery": False,
                    "duration": 0.1,
                    "status": "Bad Gateway",
                    "status_code": 502,
                    "event": "issues",
                    "action": "labeled",
                    "installation_id": 77,
                    "repository_id": 1,
                }
            ],
        )
        api.post("/app/hook/deliveries/1/attempts").respond(202, json={})
        api.get("/repos/o/r").respond(
            200,
            json={
                "id": 1,
                "node_id": "R_1",
                "full_name": "o/r",
                "default_branch": "main",
                "clone_url": "https://github.com/o/r.git",
                "private": False,
            },
        )
        api.get("/repos/o/r/collaborators/u/permission").respond(
            200, json={"permission": "write", "role_name": "write", "user": user("u")}
        )
        api.get("/repos/o/r/contents/a").respond(200, json=file)
        api.get("/repos/o/r/issues/7/comments").respond(200, json=[comment(3, "m")])
        api.post("/repos/o/r/issues/7/comments").respond(201, json=comment(4, "new"))
        api.patch("/repos/o/r/issues/comments/3").respond(200, json=comment(3, "m2"))
        api.post("/repos/o/r/issues/comments/3/reactions").respond(201, json={"id": 1})
        api.get("/repos/o/r/pulls").respond(200, json=[pull(9)])
        api.post("/repos/o/r/pulls").respond(201, json=pull(9))
        api.patch("/repos/o/r/pulls/9").respond(200, json=pull(9))
        api.post("/repos/o/r/pulls/9/requested_reviewers").respond(201, json=pull(9))
        api.post("/repos/o/r/issues/9/labels").respond(200, json=[])
        api.delete("/repos/o/r/issues/9/labels/gated").respond(200, json=[])
        api.post("/graphql").respond(
            200,
            json={"data": {"markPullRequestReadyForReview": {"pullRequest": {"isDraft": False}}}},
        )
        api.post("/repos/o/r/check-runs").respond(201, json=run)
        api.patch("/repos/o/r/check-runs/4").respond(200, json=run)
        api.get("/repos/o/r/check-suites/5/check-runs").respond(
            200, json={"total_count": 1, "check_runs": [run]}
        )
        api.get("/repos/o/r/check-runs/4/annotations").respond(
            200,
            json=[
                {
                    "path": "a",
                    "start_line": 1,
                    "end_line": 1,
                    "annotation_level": "failure",
                    "message": "m",
                }
            ],
        )

        assert catch_up(gateway, now=START) == [1]
        gh = gateway.installation(77, ["r"], {"contents": "write"})
        gh.repository("o/r")
        gh.has_write_access("o/r", "u")
        gh.read_file("o/r", "a", ref="main")
        gh.upsert_comment("o/r", 7, "m", "m2")
        gh.create_comment("o/r", 7, "new")
        gh.add_reaction("o/r", 3, "rocket")
        gh.pulls.find_open("o/r", "b")
        gh.pulls.create_draft("o/r", title="t", body="b", head="b", base="main")
        gh.pulls.update("o/r", 9, title="t2")
        gh.pulls.request_reviewers("o/r", 9, ["u"], ["o/team"])
        gh.pulls.add_labels("o/r", 9, ["gated"])
        gh.pulls.remove_label("o/r", 9, "gated")
        gh.pulls.mark_ready_for_review("PR_9")
        gh.checks.create("o/r", name="draftsmith", head_sha="a" * 40)
        gh.checks.update(
            "o/r",
            4,
            title="t",
            summary="s",
            annotations=[
                Annotation(
                    path="a", start_line=1, end_line=1, annotation_level="failure", message="m"
                )
            ],
        )
        gh.checks.failing_for_suite("o/r", 5)

        sent = {documented_route(c.request.method, c.request.url.path) for c in api.calls}
    assert sent == GATEWAY_ROUTES


def test_extract_script_lists_method_and_path_of_every_operation(tmp_path: Path) -> None:
    spec = {
        "openapi": "3.0.3",
        "info": {"version": "1.1.4"},
        "paths": {
            "/repos/{owner}/{repo}": {"get": {}, "patch": {}, "parameters": []},
            "/app": {"get": {}},
        },
    }
    (tmp_path / "api.json").write_text(json.dumps(spec))
    out = tmp_path / "routes.json"

    subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            str(tmp_path / "api.json"),
            "--version",
            "9.9.9",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )

    document = json.loads(out.read_text())
    assert document["source"] == "@octokit/openapi@9.9.9 generated/api.github.com.json"
    assert document["routes"] == [
        "GET /app",
        "GET /repos/{owner}/{repo}",
        "PATCH /repos/{owner}/{repo}",
    ]
