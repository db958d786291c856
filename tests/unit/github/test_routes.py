"""Every request the gateway sends is a route of GitHub's REST description (@octokit/openapi)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import respx

from bot.github.checks import Annotation
from bot.github.client import GitHubGateway, catch_up
from tests.helpers import github_objects as objects
from tests.unit.github.support import (
    API,
    ROUTES_FILE,
    START,
    check_calls_documented,
    comment,
    documented_route,
    pull,
    token_body,
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
    "GET /repos/{owner}/{repo}/check-runs/{check_run_id}",
    "GET /repos/{owner}/{repo}/commits/{ref}/check-runs",
    "GET /repos/{owner}/{repo}/pulls/{pull_number}",
    "GET /orgs/{org}/teams/{team_slug}/memberships/{username}",
    "GET /app",
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


def test_every_gateway_operation_sends_a_documented_route(private_key: str) -> None:
    gateway = GitHubGateway(42, private_key, API)
    run = objects.check_run(
        4,
        name="draftsmith",
        head_sha="a" * 40,
        conclusion="failure",
        output={"title": "t", "summary": "s", "annotations_count": 1},
    )
    runs = {"total_count": 1, "check_runs": [run]}
    delivered = (START - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    failed = objects.delivery(1, "g", delivered, status="Bad Gateway", code=502)
    with respx.mock(base_url=API, assert_all_called=True) as api:
        api.post("/app/installations/77/access_tokens").respond(201, json=token_body())
        api.get("/app").respond(200, json=objects.app())
        api.get("/app/hook/deliveries").respond(200, json=[failed])
        api.post("/app/hook/deliveries/1/attempts").respond(202, json={})
        api.get("/repos/o/r").respond(200, json=objects.repository("o/r"))
        api.get("/repos/o/r/collaborators/u/permission").respond(
            200, json=objects.permission("u", "write")
        )
        api.get("/repos/o/r/contents/a").respond(200, json=objects.content_file("a", "x", "o/r"))
        api.get("/repos/o/r/issues/7/comments").respond(200, json=[comment(3, "m")])
        api.post("/repos/o/r/issues/7/comments").respond(201, json=comment(4, "new"))
        api.patch("/repos/o/r/issues/comments/3").respond(200, json=comment(3, "m2"))
        api.post("/repos/o/r/issues/comments/3/reactions").respond(
            201, json=objects.reaction(1, "rocket")
        )
        api.get("/repos/o/r/pulls").respond(200, json=[pull(9)])
        api.get("/repos/o/r/pulls/9").respond(200, json=pull(9))
        api.post("/repos/o/r/pulls").respond(201, json=pull(9))
        api.patch("/repos/o/r/pulls/9").respond(200, json=pull(9))
        api.post("/repos/o/r/pulls/9/requested_reviewers").respond(201, json=pull(9))
        api.post("/repos/o/r/issues/9/labels").respond(200, json=[])
        api.delete("/repos/o/r/issues/9/labels/gated").respond(200, json=[])
        api.get("/orgs/o/teams/team/memberships/u").respond(
            200, json=objects.team_membership("u", "active")
        )
        api.post("/graphql").respond(
            200,
            json={"data": {"markPullRequestReadyForReview": {"pullRequest": {"isDraft": False}}}},
        )
        api.post("/repos/o/r/check-runs").respond(201, json=run)
        api.get("/repos/o/r/check-runs/4").respond(200, json=run)
        api.patch("/repos/o/r/check-runs/4").respond(200, json=run)
        api.get(f"/repos/o/r/commits/{'a' * 40}/check-runs").respond(200, json=runs)
        api.get("/repos/o/r/check-suites/5/check-runs").respond(200, json=runs)
        api.get("/repos/o/r/check-runs/4/annotations").respond(
            200, json=[objects.annotation("a", 1, "failure", "m")]
        )

        assert gateway.app_slug() == "draftsmith"
        assert catch_up(gateway, now=START) == [1]
        gh = gateway.installation(77, ["r"], {"contents": "write"})
        gh.repository("o/r")
        gh.has_write_access("o/r", "u")
        gh.team_membership_active("@o/team", "u")
        gh.read_file("o/r", "a", ref="main")
        gh.upsert_comment("o/r", 7, "m", "m2")
        gh.create_comment("o/r", 7, "new")
        gh.add_reaction("o/r", 3, "rocket")
        gh.pulls.find_open("o/r", "b")
        gh.pulls.get("o/r", 9)
        gh.pulls.create_draft("o/r", title="t", body="b", head="b", base="main")
        gh.pulls.update("o/r", 9, title="t2")
        gh.pulls.request_reviewers("o/r", 9, ["u"], ["o/team"])
        gh.pulls.add_labels("o/r", 9, ["gated"])
        gh.pulls.remove_label("o/r", 9, "gated")
        gh.pulls.mark_ready_for_review("PR_9")
        gh.checks.create("o/r", name="draftsmith", head_sha="a" * 40)
        gh.checks.get("o/r", 4)
        gh.checks.find("o/r", "a" * 40, "draftsmith", 42)
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
