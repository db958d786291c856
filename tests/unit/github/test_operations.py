"""Repository operations as an installation: permissions, comments, reactions, files."""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
import pytest
import respx

from bot.github.client import GitHubGateway, InstallationClient
from bot.shared.errors import GitHubError
from tests.helpers.github_objects import content_file, permission, reaction
from tests.unit.github.support import API, comment, token_body

MARKER = "<!-- draftsmith:run:12 -->"


@dataclass(frozen=True)
class NamedRepo:
    """Anything naming a repository by `full_name`, as a command's repository does."""

    full_name: str


@pytest.fixture
def client(github_api: respx.MockRouter, gateway: GitHubGateway) -> InstallationClient:
    """A client for installation 77, scoped to octo/widgets."""
    github_api.post("/app/installations/77/access_tokens").respond(201, json=token_body())
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
    github_api: respx.MockRouter,
    client: InstallationClient,
    level: str,
    role_name: str,
    expected: bool,
) -> None:
    github_api.get("/repos/octo/widgets/collaborators/alice/permission").respond(
        200, json=permission("alice", level, role_name)
    )

    assert client.has_write_access("octo/widgets", "alice") is expected


def test_has_write_access_is_false_for_unknown_users(
    github_api: respx.MockRouter, client: InstallationClient
) -> None:
    github_api.get("/repos/octo/widgets/collaborators/ghost/permission").respond(
        404, json={"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
    )

    assert client.user_permission("octo/widgets", "ghost") is None
    assert client.has_write_access(NamedRepo("octo/widgets"), "ghost") is False


def test_permission_errors_other_than_404_are_raised(
    github_api: respx.MockRouter, client: InstallationClient
) -> None:
    github_api.get("/repos/octo/widgets/collaborators/alice/permission").respond(
        403, json={"message": "Resource not accessible by integration"}
    )

    with pytest.raises(GitHubError) as caught:
        client.has_write_access("octo/widgets", "alice")
    assert caught.value.status == 403 and "permission" in caught.value.hint


def test_find_comment_by_hidden_marker_follows_pagination(
    github_api: respx.MockRouter, client: InstallationClient
) -> None:
    url = f"{API}/repositories/1296269/issues/7/comments"
    github_api.get("/repos/octo/widgets/issues/7/comments").respond(
        200,
        json=[comment(1, "Nice idea", "alice"), comment(2, "+1", "bob")],
        headers={"Link": f'<{url}?per_page=100&page=2>; rel="next", <{url}?page=2>; rel="last"'},
    )
    github_api.get("/repositories/1296269/issues/7/comments", params={"page": "2"}).respond(
        200, json=[comment(3, f"Run 12 is planning\n\n{MARKER}")]
    )

    found = client.find_comment("octo/widgets", 7, MARKER)
    missing = client.find_comment("octo/widgets", 7, "<!-- draftsmith:run:99 -->")

    assert found is not None and found.id == 3
    assert missing is None


def test_upsert_comment_updates_the_marked_comment(
    github_api: respx.MockRouter, client: InstallationClient
) -> None:
    github_api.get("/repos/octo/widgets/issues/7/comments").respond(
        200, json=[comment(3, f"old\n\n{MARKER}")]
    )
    patch = github_api.patch("/repos/octo/widgets/issues/comments/3").respond(
        200, json=comment(3, f"new\n\n{MARKER}")
    )
    create = github_api.post("/repos/octo/widgets/issues/7/comments")

    updated = client.upsert_comment("octo/widgets", 7, MARKER, "new")

    assert json.loads(patch.calls.last.request.content) == {"body": f"new\n\n{MARKER}"}
    assert updated.body == f"new\n\n{MARKER}"
    assert not create.called


def test_upsert_comment_creates_when_no_comment_is_marked(
    github_api: respx.MockRouter, client: InstallationClient
) -> None:
    github_api.get("/repos/octo/widgets/issues/7/comments").respond(200, json=[])
    create = github_api.post("/repos/octo/widgets/issues/7/comments").respond(
        201, json=comment(4, f"planning\n\n{MARKER}")
    )

    created = client.upsert_comment("octo/widgets", 7, MARKER, f"planning\n\n{MARKER}")

    assert json.loads(create.calls.last.request.content) == {"body": f"planning\n\n{MARKER}"}
    assert created.id == 4


def test_add_reaction_to_a_comment(
    github_api: respx.MockRouter, client: InstallationClient
) -> None:
    route = github_api.post("/repos/octo/widgets/issues/comments/5/reactions").respond(
        201, json=reaction(1, "eyes")
    )

    client.add_reaction("octo/widgets", 5, "eyes")

    assert json.loads(route.calls.last.request.content) == {"content": "eyes"}
    with pytest.raises(GitHubError, match="unknown reaction"):
        client.add_reaction("octo/widgets", 5, "party")


def test_read_file_decodes_the_file_at_the_given_ref(
    github_api: respx.MockRouter, client: InstallationClient
) -> None:
    text = "trigger_label: ai\ntest_command: pytest -q\n"
    route = github_api.get("/repos/octo/widgets/contents/.github/draftsmith.yml").respond(
        200, json=content_file(".github/draftsmith.yml", text)
    )

    assert client.read_file("octo/widgets", ".github/draftsmith.yml", ref="main") == text
    assert route.calls.last.request.url.params["ref"] == "main"


def test_read_file_returns_none_when_missing(
    github_api: respx.MockRouter, client: InstallationClient
) -> None:
    github_api.get("/repos/octo/widgets/contents/.github/draftsmith.yml").respond(
        404, json={"message": "Not Found"}
    )

    assert client.read_file("octo/widgets", ".github/draftsmith.yml", ref="main") is None


def test_read_file_refuses_a_directory(
    github_api: respx.MockRouter, client: InstallationClient
) -> None:
    github_api.get("/repos/octo/widgets/contents/docs").respond(
        200, json=[content_file("docs/a.md", "a")]
    )

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
