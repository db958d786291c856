"""GitHub REST objects for the test fakes, built from GitHub's own documented examples.

`tests/fixtures/github/examples.json` holds the examples of `@octokit/openapi` (see its README);
each builder deep-copies one and changes only the fields a test is about, so every object the
fakes answer with is as complete as GitHub's and validates against githubkit's typed models.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

API = "https://api.github.com"
EXAMPLES_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "github" / "examples.json"


@cache
def _examples() -> dict[str, Any]:
    examples: dict[str, Any] = json.loads(EXAMPLES_FILE.read_text())["examples"]
    return examples


def example(name: str, /, **changes: Any) -> dict[str, Any]:
    """A fresh copy of GitHub's example `name`, with `changes` applied at the top level."""
    item = copy.deepcopy(_examples()[name])
    unknown = set(changes) - set(item)
    assert not unknown, f"{name} has no fields {sorted(unknown)}: never invent fields"
    item.update(changes)
    return item


def user(login: str = "octocat", id_: int = 1) -> dict[str, Any]:
    """A simple-user."""
    return example("simple-user", login=login, id=id_, html_url=f"https://github.com/{login}")


def comment(
    id_: int, body: str, login: str = "draftsmith[bot]", repo: str = "octo/widgets"
) -> dict[str, Any]:
    """An issue-comment."""
    return example(
        "issue-comment",
        id=id_,
        body=body,
        user=user(login),
        url=f"{API}/repos/{repo}/issues/comments/{id_}",
        html_url=f"https://github.com/{repo}/issues/7#issuecomment-{id_}",
    )


def pull(
    number: int = 9,
    *,
    draft: bool = True,
    head: str = "draftsmith/7-add-widget",
    title: str = "Add widget",
    body: str = "Closes #7",
    repo: str = "octo/widgets",
) -> dict[str, Any]:
    """A pull-request: open, from `head` of `repo` into `main`, without labels or reviewers."""
    owner = repo.split("/")[0]
    item = example(
        "pull-request",
        id=1000 + number,
        node_id=f"PR_kwDOA{number}",
        number=number,
        state="open",
        draft=draft,
        title=title,
        body=body,
        labels=[],
        requested_reviewers=[],
        requested_teams=[],
        url=f"{API}/repos/{repo}/pulls/{number}",
        html_url=f"https://github.com/{repo}/pull/{number}",
    )
    item["head"].update(label=f"{owner}:{head}", ref=head, sha="a" * 40)
    item["base"].update(label=f"{owner}:main", ref="main", sha="b" * 40)
    return item


def label(name: str) -> dict[str, Any]:
    """A label."""
    return example("label", name=name, id=abs(hash(name)) % 10**9)


def check_run(
    id_: int,
    *,
    name: str,
    head_sha: str,
    status: str = "completed",
    conclusion: str | None = None,
    output: dict[str, Any] | None = None,
    app_id: int = 42,
    repo: str = "octo/widgets",
) -> dict[str, Any]:
    """A check-run of App `app_id`."""
    item = example(
        "check-run",
        id=id_,
        name=name,
        head_sha=head_sha,
        status=status,
        conclusion=conclusion,
        details_url=None,
        external_id="",
        completed_at="2026-11-23T11:05:00Z" if status == "completed" else None,
        pull_requests=[],
        url=f"{API}/repos/{repo}/check-runs/{id_}",
        html_url=f"https://github.com/{repo}/runs/{id_}",
    )
    item["output"] = {"title": None, "summary": None, "text": None, "annotations_count": 0}
    item["output"].update(output or {})
    item["output"]["annotations_url"] = f"{API}/repos/{repo}/check-runs/{id_}/annotations"
    item["app"]["id"] = app_id
    return item


def annotation(path: str, line: int, level: str, message: str, title: str = "") -> dict[str, Any]:
    """A check-annotation."""
    return example(
        "check-annotation",
        path=path,
        start_line=line,
        end_line=line,
        annotation_level=level,
        message=message,
        title=title or None,
    )


def token(value: str, expires_at: str, permissions: dict[str, str] | None = None) -> dict[str, Any]:
    """An installation-token."""
    return example(
        "installation-token",
        token=value,
        expires_at=expires_at,
        permissions=permissions or {"issues": "write", "contents": "read"},
    )


def content_file(path: str, text: str, repo: str = "octo/widgets") -> dict[str, Any]:
    """A content-file (base64, line-wrapped as GitHub sends it)."""
    import base64

    url = f"{API}/repos/{repo}/contents/{path}"
    return example(
        "content-file",
        path=path,
        name=path.rsplit("/", 1)[-1],
        size=len(text.encode()),
        content=base64.encodebytes(text.encode()).decode(),
        url=url,
        _links={"git": None, "self": url, "html": None},
        git_url=None,
        html_url=None,
        download_url=None,
    )


def repository(
    full_name: str = "octo/widgets",
    *,
    default_branch: str = "main",
    private: bool = False,
    clone_url: str | None = None,
) -> dict[str, Any]:
    """A full-repository."""
    owner, name = full_name.split("/")
    return example(
        "full-repository",
        name=name,
        full_name=full_name,
        default_branch=default_branch,
        private=private,
        clone_url=clone_url or f"https://github.com/{full_name}.git",
    )


def permission(login: str, level: str, role_name: str | None = None) -> dict[str, Any]:
    """A repository-collaborator-permission."""
    item = example("collaborator-permission", permission=level, role_name=role_name or level)
    item["user"].update(login=login, role_name=role_name or level)
    return item


def team_membership(login: str, state: str, role: str = "member") -> dict[str, Any]:
    """A team-membership."""
    return example(
        "team-membership", state=state, role=role, url=f"{API}/teams/1/memberships/{login}"
    )


def reaction(id_: int, content: str, login: str = "draftsmith[bot]") -> dict[str, Any]:
    """A reaction."""
    return example("reaction", id=id_, content=content, user=user(login))


def delivery(
    id_: int,
    guid: str,
    delivered_at: str,
    *,
    status: str = "OK",
    code: int = 200,
    redelivery: bool = False,
) -> dict[str, Any]:
    """A hook-delivery-item."""
    return example(
        "hook-delivery-item",
        id=id_,
        guid=guid,
        delivered_at=delivered_at,
        status=status,
        status_code=code,
        redelivery=redelivery,
        event="issues",
        action="labeled",
        installation_id=77,
    )


def app(slug: str = "draftsmith", id_: int = 42) -> dict[str, Any]:
    """An integration (GET /app)."""
    return example("integration", slug=slug, id=id_)


def team(slug: str, org: str = "octo") -> dict[str, Any]:
    """A team-simple (as in a pull request's `requested_teams`)."""
    item = copy.deepcopy(_examples()["pull-request"]["requested_teams"][0])
    item.update(
        id=abs(hash(slug)) % 10**6,
        name=slug,
        slug=slug,
        html_url=f"https://github.com/orgs/{org}/teams/{slug}",
    )
    return item


def review(id_: int, login: str, state: str, commit_id: str) -> dict[str, Any]:
    """A pull-request-review (`state` as GitHub spells it: APPROVED, CHANGES_REQUESTED, ...)."""
    return example(
        "pull-request-review", id=id_, state=state, commit_id=commit_id, user=user(login)
    )


def page_of(request: Any, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The page of `items` a list request asks for (`page`, `per_page`), as GitHub pages."""
    per_page = int(request.url.params.get("per_page", 30))
    page = int(request.url.params.get("page", 1))
    return items[(page - 1) * per_page : page * per_page]


def review_comment(
    id_: int, review_id: int, path: str, line: int | None, body: str, login: str,
    in_reply_to: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """A review-comment of a submitted review. GitHub's example predates `line`, which its
    schema documents (the line of the diff's new side); it is set only when given."""
    item = example(
        "review-comment", id=id_, pull_request_review_id=review_id, path=path, body=body,
        in_reply_to_id=in_reply_to, user=user(login),
    )  # fmt: skip
    if line is not None:
        item["line"] = line
    return item
