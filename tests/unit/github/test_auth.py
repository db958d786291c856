"""App authentication: the JWT, scoped installation tokens and their cache, GHES base URLs."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from bot.config import Settings
from bot.errors import ConfigError
from bot.github.client import GitHubGateway, authenticated_clone_url
from tests.unit.github.support import START, FakeClock, check_calls_documented, comment, token_body

TOKENS = "/app/installations/77/access_tokens"


def test_app_calls_carry_a_jwt_signed_with_the_app_key(
    github_api: respx.MockRouter, gateway: GitHubGateway, private_key: str
) -> None:
    route = github_api.post(TOKENS).respond(201, json=token_body())

    gateway.installation_token(77)

    authorization = route.calls.last.request.headers["Authorization"]
    scheme, _, encoded = authorization.partition(" ")
    public_key = load_pem_private_key(private_key.encode(), None).public_key()
    claims = jwt.decode(encoded, public_key, algorithms=["RS256"])  # type: ignore[arg-type]
    assert scheme == "Bearer"
    assert claims["iss"] == "42"
    assert claims["exp"] - claims["iat"] <= 600


def test_installation_token_is_cached_until_shortly_before_expiry(
    github_api: respx.MockRouter, gateway: GitHubGateway, clock: FakeClock
) -> None:
    route = github_api.post(TOKENS).mock(
        side_effect=[
            httpx.Response(
                201, json=token_body("ghs_first", expires_at=START + timedelta(hours=1))
            ),
            httpx.Response(
                201, json=token_body("ghs_second", expires_at=START + timedelta(hours=2))
            ),
        ]
    )

    first = gateway.installation_token(77)
    clock.advance(minutes=54)  # 6 minutes of validity left: still cached
    again = gateway.installation_token(77)
    clock.advance(minutes=2)  # 4 minutes left: inside the 5-minute margin, refreshed
    refreshed = gateway.installation_token(77)

    assert (first.token, again.token, refreshed.token) == ("ghs_first", "ghs_first", "ghs_second")
    assert route.call_count == 2


def test_installation_token_request_is_scoped_to_repositories_and_permissions(
    github_api: respx.MockRouter, gateway: GitHubGateway
) -> None:
    route = github_api.post(TOKENS).mock(
        side_effect=[
            httpx.Response(201, json=token_body("ghs_scoped")),
            httpx.Response(201, json=token_body("ghs_other_scope")),
        ]
    )
    permissions = {"issues": "write", "contents": "write", "pull_requests": "write"}

    scoped = gateway.installation_token(77, ["widgets"], permissions)
    same = gateway.installation_token(77, ["widgets"], dict(reversed(permissions.items())))
    other = gateway.installation_token(77, ["widgets"], {"issues": "read"})

    assert json.loads(route.calls[0].request.content) == {
        "repositories": ["widgets"],
        "permissions": {"contents": "write", "issues": "write", "pull_requests": "write"},
    }
    assert json.loads(route.calls[1].request.content) == {
        "repositories": ["widgets"],
        "permissions": {"issues": "read"},
    }
    assert (scoped.token, same.token, other.token) == (
        "ghs_scoped",
        "ghs_scoped",
        "ghs_other_scope",
    )


def test_installation_calls_use_the_installation_token_and_never_log_it(
    github_api: respx.MockRouter, gateway: GitHubGateway, caplog: pytest.LogCaptureFixture
) -> None:
    github_api.post(TOKENS).respond(201, json=token_body("ghs_secret_value"))
    route = github_api.post("/repos/octo/widgets/issues/7/comments").respond(
        201, json=comment(11, "Working on it")
    )
    caplog.set_level(logging.DEBUG)

    created = gateway.installation(77, ["widgets"]).create_comment("octo/widgets", 7, "On it")

    assert route.calls.last.request.headers["Authorization"] == "token ghs_secret_value"
    assert route.calls.last.request.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert created.id == 11 and created.user_login == "draftsmith[bot]"
    assert "ghs_secret_value" not in caplog.text
    assert "ghs_secret_value" not in repr(gateway.installation_token(77, ["widgets"]))


def test_ghes_base_url_is_honoured_for_rest_and_graphql(private_key: str, clock: FakeClock) -> None:
    base = "https://ghe.example.com/api/v3"
    settings = Settings(github_app_id=42, github_private_key=private_key, github_api_url=base + "/")
    gateway = GitHubGateway.from_settings(settings, sleep=clock.sleep, clock=clock)
    with respx.mock(assert_all_called=True) as router:
        router.post(f"{base}{TOKENS}").respond(201, json=token_body())
        router.get(f"{base}/repos/octo/widgets").respond(
            200,
            json={
                "id": 1296269,
                "node_id": "R_kgDOA",
                "name": "widgets",
                "full_name": "octo/widgets",
                "private": True,
                "default_branch": "trunk",
                "clone_url": "https://ghe.example.com/octo/widgets.git",
            },
        )
        router.post("https://ghe.example.com/api/graphql").respond(
            200,
            json={"data": {"markPullRequestReadyForReview": {"pullRequest": {"isDraft": False}}}},
        )
        client = gateway.installation(77)

        repo = client.repository("octo/widgets")
        client.pulls.mark_ready_for_review("PR_kwDOA9")

        check_calls_documented(router, base_path="/api/v3")
    assert repo.default_branch == "trunk"
    assert gateway.graphql_url == "https://ghe.example.com/api/graphql"


def test_invalid_private_key_is_a_config_error_with_a_hint() -> None:
    with pytest.raises(ConfigError) as caught:
        GitHubGateway(
            42, "-----BEGIN RSA PRIVATE KEY-----\nnot a key\n-----END RSA PRIVATE KEY-----"
        )
    assert "pem" in caught.value.hint.lower()


def test_missing_app_id_is_a_config_error(private_key: str) -> None:
    with pytest.raises(ConfigError, match="DRAFTSMITH_GITHUB_APP_ID"):
        GitHubGateway.from_settings(Settings(github_private_key=private_key))


@pytest.mark.parametrize(
    ("clone_url", "expected"),
    [
        pytest.param(
            "https://github.com/octo/widgets.git",
            "https://x-access-token:ghs_abc@github.com/octo/widgets.git",
            id="github-https",
        ),
        pytest.param(
            "https://ghe.example.com:8443/octo/widgets.git",
            "https://x-access-token:ghs_abc@ghe.example.com:8443/octo/widgets.git",
            id="ghes-with-port",
        ),
        pytest.param("file:///srv/git/widgets.git", "file:///srv/git/widgets.git", id="file-url"),
        pytest.param("http://git.example/w.git", "http://git.example/w.git", id="plain-http"),
        pytest.param("/srv/git/widgets", "/srv/git/widgets", id="local-path"),
    ],
)
def test_authenticated_clone_url(clone_url: str, expected: str) -> None:
    assert authenticated_clone_url(clone_url, "ghs_abc") == expected
