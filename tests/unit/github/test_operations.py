"""Repository operations as an installation: permissions, comments, reactions, files."""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
import pytest
import respx

from bot.github.client import GitHubGateway, InstallationClient
from bot.shared.errors import GitHubError
from tests.helpers.fake_github import FakeGitHub, error
from tests.helpers.github_objects import content_file
from tests.unit.github.support import API, comment

MARKER = "<!-- draftsmith:run:12 -->"


@dataclass(frozen=True)
class NamedRepo:
    """Anything naming a repository by `full_name`, as a command's repository does."""

    full_name: str


@pytest.fixture
def client(fake_github: FakeGitHub, gateway: GitHubGateway) -> InstallationClient:
    """A client for installation 77, scoped to octo/widgets."""
    return gateway.installation(77, ["widgets"], {"issues": "write", "contents": "read"})


@pytest.mark.parametrize(
    ("level", "role_name", "expected"),
    [
        pytest.param("admin", "admin", True, id="admin"),
        pytest.param("write", "maintain", True, id="maintain"),
        pytest.param("write", "write", True, id="write"),
        pytest.param("read", "triage", False, id="triage"),
        pytest.param("read", "read", False, id="read"),
        pytest.param("none", "none", False, id="none"),
    ],
)
def test_has_write_access_follows_the_role(
    fake_github: FakeGitHub,
    client: InstallationClient,
    level: str,
    role_name: str,
    expected: bool,
) -> None:
    fake_github.permissions["alice"] = level
    fake_github.roles["alice"] = role_name

    assert client.has_write_access("octo/widgets", "alice") is expected


def test_has_write_access_is_false_for_unknown_users(
    fake_github: FakeGitHub, client: InstallationClient
) -> None:
    assert "ghost" not in fake_github.permissions  # GitHub answers 404
    assert client.user_permission("octo/widgets", "ghost") is None
    assert client.has_write_access(NamedRepo("octo/widgets"), "ghost") is False


def test_permission_errors_other_than_404_are_raised(
    fake_github: FakeGitHub, client: InstallationClient
) -> None:
    fake_github.permissions["alice"] = "admin"
    fake_github.script(
        "GET",
        "/repos/octo/widgets/collaborators/alice/permission",
        error(403, "Resource not accessible by integration"),
    )

    with pytest.raises(GitHubError) as caught:
        client.has_write_access("octo/widgets", "alice")
    assert caught.value.status == 403 and "permission" in caught.value.hint


def test_find_comment_by_hidden_marker_follows_pagination(
    fake_github: FakeGitHub, client: InstallationClient
) -> None:
    """GitHub's `Link: rel="next"` names the repository by id, an alias the state does not
    serve: both pages are scripted, once for each lookup."""
    url = f"{API}/repositories/1296269/issues/7/comments"
    first = httpx.Response(
        200,
        json=[comment(1, "Nice idea", "alice"), comment(2, "+1", "bob")],
        headers={"Link": f'<{url}?per_page=100&page=2>; rel="next", <{url}?page=2>; rel="last"'},
    )
    second = httpx.Response(200, json=[comment(3, f"Run 12 is planning\n\n{MARKER}")])
    fake_github.script("GET", "/repos/octo/widgets/issues/7/comments", first, first)
    fake_github.script("GET", "/repositories/1296269/issues/7/comments", second, second)

    found = client.find_comment("octo/widgets", 7, MARKER)
    missing = client.find_comment("octo/widgets", 7, "<!-- draftsmith:run:99 -->")

    assert found is not None and found.id == 3
    assert missing is None
    pages = fake_github.calls("GET", "/repositories/1296269/issues/7/comments")
    assert [p.url.params["page"] for p in pages] == ["2", "2"]


def test_upsert_comment_updates_the_marked_comment(
    fake_github: FakeGitHub, client: InstallationClient
) -> None:
    fake_github.comments[7] = [comment(3, f"old\n\n{MARKER}")]

    updated = client.upsert_comment("octo/widgets", 7, MARKER, "new")

    (patch,) = fake_github.calls("PATCH", "/repos/octo/widgets/issues/comments/3")
    assert json.loads(patch.content) == {"body": f"new\n\n{MARKER}"}
    assert updated.body == f"new\n\n{MARKER}"
    assert not fake_github.calls("POST", "/repos/octo/widgets/issues/7/comments")
    assert fake_github.comment_bodies(7) == [f"new\n\n{MARKER}"]


def test_upsert_comment_creates_when_no_comment_is_marked(
    fake_github: FakeGitHub, client: InstallationClient
) -> None:
    created = client.upsert_comment("octo/widgets", 7, MARKER, f"planning\n\n{MARKER}")

    (create,) = fake_github.calls("POST", "/repos/octo/widgets/issues/7/comments")
    assert json.loads(create.content) == {"body": f"planning\n\n{MARKER}"}
    (stored,) = fake_github.comments[7]
    assert created.id == stored["id"]


def test_add_reaction_to_a_comment(fake_github: FakeGitHub, client: InstallationClient) -> None:
    client.add_reaction("octo/widgets", 5, "eyes")

    (sent,) = fake_github.calls("POST", "/repos/octo/widgets/issues/comments/5/reactions")
    assert json.loads(sent.content) == {"content": "eyes"}
    with pytest.raises(GitHubError, match="unknown reaction"):
        client.add_reaction("octo/widgets", 5, "party")
    assert fake_github.reactions == [(5, "eyes")]


def test_read_file_decodes_the_file_at_the_given_ref(
    fake_github: FakeGitHub, client: InstallationClient
) -> None:
    text = "trigger_label: ai\ntest_command: pytest -q\n"
    fake_github.files[".github/draftsmith.yml"] = text

    assert client.read_file("octo/widgets", ".github/draftsmith.yml", ref="main") == text
    (read,) = fake_github.calls("GET", "/repos/octo/widgets/contents/.github/draftsmith.yml")
    assert read.url.params["ref"] == "main"


def test_read_file_returns_none_when_missing(
    fake_github: FakeGitHub, client: InstallationClient
) -> None:
    assert ".github/draftsmith.yml" not in fake_github.files  # GitHub answers 404
    assert client.read_file("octo/widgets", ".github/draftsmith.yml", ref="main") is None
    assert fake_github.calls("GET", "/repos/octo/widgets/contents/.github/draftsmith.yml")


def test_read_file_refuses_a_directory(fake_github: FakeGitHub, client: InstallationClient) -> None:
    listing = httpx.Response(200, json=[content_file("docs/a.md", "a")])
    fake_github.script("GET", "/repos/octo/widgets/contents/docs", listing)

    with pytest.raises(GitHubError, match="not a file"):
        client.read_file("octo/widgets", "docs")


def test_repository_names_must_be_owner_slash_name(client: InstallationClient) -> None:
    with pytest.raises(GitHubError) as caught:
        client.repository("widgets")
    assert caught.value.hint == "write it as owner/name"


def test_token_for_cloning_is_the_scoped_token(
    github_api: respx.MockRouter, client: InstallationClient
) -> None:
    token = client.token()
    again = client.token()

    assert token.startswith("ghs_") and again == token
    assert github_api.calls.call_count == 1
    body = json.loads(github_api.calls.last.request.content)
    assert body == {
        "repositories": ["widgets"],
        "permissions": {"contents": "read", "issues": "write"},
    }
    assert isinstance(github_api.calls.last.response, httpx.Response)
