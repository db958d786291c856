"""GitHub's answers read tolerantly: every call the gateway makes works on answers shaped like an
older GitHub's (GitHub's documented examples, which lack fields the current schema requires, with
everything Draftsmith does not read removed), and a field it does read fails clearly."""

from __future__ import annotations

import types
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Union, get_args, get_origin

import httpx
import pytest
from githubkit_schemas.v2022_11_28 import models as strict
from pydantic import BaseModel, ValidationError

from bot.github import objects
from bot.github.answers import Answer
from bot.github.client import GitHubGateway, InstallationClient
from bot.github.deliveries import recent_deliveries
from bot.github.gitdata import GitCommit, GitData, GitRef, Sha
from bot.shared.errors import GitHubError
from tests.helpers import github_objects as gh
from tests.helpers.fake_github import FakeGitHub
from tests.unit.github.support import START

REPO = "octo/widgets"
BASE = f"/repos/{REPO}"
OLDER = {"x-github-enterprise-version": "3.9.0"}


@pytest.fixture
def client(fake_github: FakeGitHub, gateway: GitHubGateway) -> InstallationClient:
    """A client for installation 77."""
    return gateway.installation(77, ["widgets"])


# ---------------------------------------------------------------- the examples are older-shaped


@pytest.mark.parametrize(
    ("name", "model", "missing"),
    [
        ("pull-request", strict.PullRequest, {"archived_by", "type"}),
        ("pull-request", strict.PullRequestSimple, {"archived_by", "type", "parent"}),
        ("label", strict.Label, {"archived_at", "archived_by"}),
        ("full-repository", strict.FullRepository, {"has_discussions"}),
        ("collaborator-permission", strict.RepositoryCollaboratorPermission, {"role_name"}),
    ],
    ids=["pull", "pull-simple", "label", "repository", "permission"],
)
def test_the_fakes_answer_with_examples_the_current_schema_refuses(
    name: str, model: type[BaseModel], missing: set[str]
) -> None:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(gh.example(name))
    absent = {str(e["loc"][-1]) for e in caught.value.errors() if e["type"] == "missing"}
    assert absent == missing


# ---------------------------------------------------------------- every call, minimal answers


def _answer_model(annotation: Any) -> type[Answer] | None:
    if isinstance(annotation, type) and issubclass(annotation, Answer):
        return annotation
    if get_origin(annotation) in (list, Union, types.UnionType):
        for arg in get_args(annotation):
            found = _answer_model(arg)
            if found is not None:
                return found
    return None


def minimal(data: Any, model: type[Answer]) -> Any:
    """`data` with only the fields `model` declares (recursively): nothing else is read."""
    if isinstance(data, list):
        return [minimal(item, model) for item in data]
    if not isinstance(data, dict):
        return data
    kept: dict[str, Any] = {}
    for key, info in model.model_fields.items():
        if key in data:
            inner = _answer_model(info.annotation)
            kept[key] = minimal(data[key], inner) if inner and data[key] is not None else data[key]
    return kept


def _pull() -> dict[str, Any]:
    item = gh.pull(9)
    item["labels"] = [gh.label("draftsmith")]  # without archived_at / archived_by
    item["requested_teams"] = [gh.team("backend")]  # without type
    item["head"]["repo"] = None  # a deleted fork
    return item


def _run() -> dict[str, Any]:
    return gh.check_run(5, name="draftsmith", head_sha="a" * 40, conclusion="failure")


Call = Callable[[InstallationClient, GitHubGateway], Any]
CASES: list[tuple[str, str, str, int, Any, Call, Callable[[Any], bool]]] = [
    ("app", "GET", "/app", 200, minimal(gh.app("drafty"), objects.App),
     lambda c, g: g.app_slug(), lambda r: r == "drafty"),
    ("repository", "GET", BASE, 200, minimal(gh.repository(), objects.Repository),
     lambda c, g: c.repository(REPO), lambda r: r.default_branch == "main"),
    ("permission", "GET", f"{BASE}/collaborators/carol/permission", 200,
     minimal(gh.permission("carol", "write"), objects.Permission),
     lambda c, g: c.has_write_access(REPO, "carol"), lambda r: r is True),
    ("membership", "GET", "/orgs/octo/teams/core/memberships/carol", 200,
     minimal(gh.team_membership("carol", "active"), objects.Membership),
     lambda c, g: c.team_membership_active("@octo/core", "carol"), lambda r: r is True),
    ("comment-create", "POST", f"{BASE}/issues/7/comments", 201,
     minimal(gh.comment(11, "hi"), objects.Comment),
     lambda c, g: c.create_comment(REPO, 7, "hi"), lambda r: r.id == 11),
    ("comment-update", "PATCH", f"{BASE}/issues/comments/11", 200,
     minimal(gh.comment(11, "edited"), objects.Comment),
     lambda c, g: c.update_comment(REPO, 11, "edited"), lambda r: r.body == "edited"),
    ("comments", "GET", f"{BASE}/issues/7/comments", 200,
     minimal([gh.comment(11, "x <!-- m -->")], objects.Comment),
     lambda c, g: c.find_comment(REPO, 7, "<!-- m -->"), lambda r: r.id == 11),
    ("contents", "GET", f"{BASE}/contents/.github/CODEOWNERS", 200,
     minimal(gh.content_file(".github/CODEOWNERS", "* @a\n"), objects.ContentFile),
     lambda c, g: c.read_file(REPO, ".github/CODEOWNERS"), lambda r: r == "* @a\n"),
    ("pulls-find", "GET", f"{BASE}/pulls", 200, minimal([_pull()], objects.PullRequest),
     lambda c, g: c.pulls.find_open(REPO, "draftsmith/7-add-widget"), lambda r: r.number == 9),
    ("pulls-find-full", "GET", f"{BASE}/pulls", 200, [_pull()],
     lambda c, g: c.pulls.find_open(REPO, "draftsmith/7-add-widget"), lambda r: r.number == 9),
    ("pull-get", "GET", f"{BASE}/pulls/9", 200, _pull(),
     lambda c, g: c.pulls.get(REPO, 9), lambda r: r.state == "open"),
    ("pull-create", "POST", f"{BASE}/pulls", 201, _pull(),
     lambda c, g: c.pulls.create_draft(REPO, title="t", body="b", head="h", base="main"),
     lambda r: r.node_id == "PR_kwDOA9"),
    ("pull-update", "PATCH", f"{BASE}/pulls/9", 200, minimal(_pull(), objects.PullRequest),
     lambda c, g: c.pulls.update(REPO, 9, body="b"), lambda r: r.number == 9),
    ("reviews", "GET", f"{BASE}/pulls/9/reviews", 200,
     [{"user": {"login": "alice"}, "state": "APPROVED", "commit_id": "a" * 40}],
     lambda c, g: c.pulls.approvers(REPO, 9, "a" * 40), lambda r: r == ["alice"]),
    ("review-comments", "GET", f"{BASE}/pulls/9/reviews/77/comments", 200,
     [{"path": "a.py", "original_line": 3, "body": "x"}],
     lambda c, g: c.pulls.review_comments(REPO, 9, 77),
     lambda r: [(n.path, n.line, n.in_reply_to) for n in r] == [("a.py", 3, None)]),
    ("check-create", "POST", f"{BASE}/check-runs", 201, minimal(_run(), objects.CheckRun),
     lambda c, g: c.checks.create(REPO, name="draftsmith", head_sha="a" * 40),
     lambda r: r.id == 5),
    ("check-get", "GET", f"{BASE}/check-runs/5", 200, minimal(_run(), objects.CheckRun),
     lambda c, g: c.checks.get(REPO, 5), lambda r: r.conclusion == "failure"),
    ("check-update", "PATCH", f"{BASE}/check-runs/5", 200, minimal(_run(), objects.CheckRun),
     lambda c, g: c.checks.update(REPO, 5, title="t", summary="s"), lambda r: r.id == 5),
    ("check-find", "GET", f"{BASE}/commits/{'a' * 40}/check-runs", 200,
     {"check_runs": minimal([_run()], objects.CheckRun)},
     lambda c, g: c.checks.find(REPO, "a" * 40, "draftsmith", 42), lambda r: r.id == 5),
    ("check-suite", "GET", f"{BASE}/check-suites/3/check-runs", 200,
     {"check_runs": minimal([_run()], objects.CheckRun)},
     lambda c, g: c.checks.failing_for_suite(REPO, 3), lambda r: [f.run.id for f in r] == [5]),
    ("annotations", "GET", f"{BASE}/check-runs/5/annotations", 200,
     minimal([gh.annotation("a.py", 3, "warning", "m")], objects.CheckAnnotation),
     lambda c, g: c.checks.annotations(REPO, 5), lambda r: r[0].start_line == 3),
    ("deliveries", "GET", "/app/hook/deliveries", 200,
     minimal([gh.delivery(1, "g", START.isoformat())], objects.HookDelivery),
     lambda c, g: recent_deliveries(g.app, START - timedelta(hours=1)),
     lambda r: [d.guid for d in r] == ["g"]),
    ("git-ref", "GET", f"{BASE}/git/ref/heads/draftsmith/7-x", 200,
     minimal(gh.example("git-ref"), GitRef),
     lambda c, g: GitData(c.github).branch_head(REPO, "draftsmith/7-x"),
     lambda r: r == gh.example("git-ref")["object"]["sha"]),
    ("git-commit", "GET", f"{BASE}/git/commits/{'7' * 40}", 200,
     {**minimal(gh.example("git-commit"), GitCommit), "verification": {"verified": False}},
     lambda c, g: GitData(c.github).commit(REPO, "7" * 40), lambda r: not r.verification.verified),
    ("git-blob", "POST", f"{BASE}/git/blobs", 201, minimal(gh.example("short-blob"), Sha),
     lambda c, g: GitData(c.github).create_blob(REPO, b"x"), lambda r: len(r) == 40),
    ("git-tree", "POST", f"{BASE}/git/trees", 201, minimal(gh.example("git-tree"), Sha),
     lambda c, g: GitData(c.github).create_tree(REPO, "1" * 40, []), lambda r: len(r) == 40),
    ("git-commit-create", "POST", f"{BASE}/git/commits", 201,
     {k: v for k, v in minimal(gh.example("git-commit"), GitCommit).items()
      if k != "verification"},  # an older GitHub says nothing of signatures
     lambda c, g: GitData(c.github).create_commit(REPO, message="m", tree="1" * 40, parents=[]),
     lambda r: r.verification is None and len(r.tree.sha) == 40),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "status", "answer", "call", "check"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_every_call_reads_an_older_githubs_answer(
    fake_github: FakeGitHub,
    client: InstallationClient,
    gateway: GitHubGateway,
    method: str,
    path: str,
    status: int,
    answer: Any,
    call: Call,
    check: Callable[[Any], bool],
) -> None:
    fake_github.script(method, path, httpx.Response(status, json=answer, headers=OLDER))

    assert check(call(client, gateway))
    assert fake_github.calls(method, path), "the older answer was not asked for"


# ---------------------------------------------------------------- a used field missing


def test_a_missing_field_that_is_used_names_the_field_and_the_server(
    fake_github: FakeGitHub, client: InstallationClient
) -> None:
    item = _pull()
    del item["number"]
    fake_github.script("GET", f"{BASE}/pulls", httpx.Response(200, json=[item], headers=OLDER))

    with pytest.raises(GitHubError) as caught:
        client.pulls.find_open(REPO, "draftsmith/7-add-widget")

    message = str(caught.value)
    assert "'number' is missing" in message and "x-github-enterprise-version: 3.9.0" in message


def test_a_check_run_answer_without_an_id_fails_before_anything_is_updated(
    fake_github: FakeGitHub, client: InstallationClient
) -> None:
    run = _run()
    fake_github.check_runs[5] = _run()
    del run["id"]
    listing = httpx.Response(200, json={"total_count": 1, "check_runs": [run]})
    fake_github.script("GET", f"{BASE}/commits/{'a' * 40}/check-runs", listing)

    with pytest.raises(GitHubError, match="'check_runs.0.id' is missing.*server unknown"):
        client.checks.find(REPO, "a" * 40, "draftsmith", 42)

    assert not fake_github.calls("PATCH", rf"{BASE}/check-runs/\d+")


def test_an_answer_that_is_not_json_says_where_to_look(
    fake_github: FakeGitHub, client: InstallationClient
) -> None:
    fake_github.script("GET", f"{BASE}/pulls/9", httpx.Response(200, text="<html>"))

    with pytest.raises(GitHubError, match="not JSON") as caught:
        client.pulls.get(REPO, 9)

    assert "DRAFTSMITH_GITHUB_API_URL" in caught.value.hint
