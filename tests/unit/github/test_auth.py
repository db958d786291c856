"""App authentication: the JWT, scoped installation tokens and their cache, GHES base URLs."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from bot.github.client import GitHubGateway, git_credentials
from bot.security.masking import mask, register_secret
from bot.shared.config import Settings
from bot.shared.errors import ConfigError
from tests.helpers.fake_github import FakeGitHub
from tests.helpers.github_objects import pull
from tests.unit.github.support import check_calls_documented, token_body

TOKENS = "/app/installations/77/access_tokens"
SECRET = "v1.a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5"
"""A token no credential pattern recognises: masked only if the gateway registers it."""


def test_app_calls_carry_a_jwt_signed_with_the_app_key(
    fake_github: FakeGitHub, gateway: GitHubGateway, private_key: str
) -> None:
    gateway.installation(77).token()

    (asked,) = fake_github.calls("POST", TOKENS)
    authorization = asked.headers["Authorization"]
    scheme, _, encoded = authorization.partition(" ")
    public_key = load_pem_private_key(private_key.encode(), None).public_key()
    claims = jwt.decode(encoded, public_key, algorithms=["RS256"])  # type: ignore[arg-type]
    assert scheme == "Bearer"
    assert claims["iss"] == "42"
    assert claims["exp"] - claims["iat"] <= 600


def test_installation_token_is_cached_unless_it_has_under_five_minutes_left(
    fake_github: FakeGitHub, gateway: GitHubGateway
) -> None:
    now = datetime.now(UTC)
    fake_github.script(
        "POST",
        TOKENS,
        httpx.Response(
            201, json=token_body("ghs_short", expires_at=now + timedelta(minutes=4, seconds=50))
        ),
        httpx.Response(201, json=token_body("ghs_long", expires_at=now + timedelta(hours=1))),
    )
    client = gateway.installation(77)

    short = client.token()  # under 5 minutes of validity: handed out once, never reused
    refreshed = client.token()
    cached = gateway.installation(77).token()  # another client of the same scope: cached

    assert (short, refreshed, cached) == ("ghs_short", "ghs_long", "ghs_long")
    assert len(fake_github.calls("POST", TOKENS)) == 2


def test_installation_token_request_is_scoped_to_repositories_and_permissions(
    fake_github: FakeGitHub, gateway: GitHubGateway
) -> None:
    fake_github.script(
        "POST",
        TOKENS,
        httpx.Response(201, json=token_body("ghs_scoped")),
        httpx.Response(201, json=token_body("ghs_other_scope")),
    )
    permissions = {"issues": "write", "contents": "write", "pull_requests": "write"}

    scoped = gateway.installation(77, ["widgets"], permissions).token()
    same = gateway.installation(77, ["widgets"], dict(reversed(permissions.items()))).token()
    other = gateway.installation(77, ["widgets"], {"issues": "read"}).token()

    asked = fake_github.calls("POST", TOKENS)
    assert len(asked) == 2
    assert json.loads(asked[0].content) == {
        "repositories": ["widgets"],
        "permissions": {"contents": "write", "issues": "write", "pull_requests": "write"},
    }
    assert json.loads(asked[1].content) == {
        "repositories": ["widgets"],
        "permissions": {"issues": "read"},
    }
    assert (scoped, same, other) == (
        "ghs_scoped",
        "ghs_scoped",
        "ghs_other_scope",
    )


def test_installation_calls_use_the_installation_token_and_never_log_it(
    fake_github: FakeGitHub, gateway: GitHubGateway, caplog: pytest.LogCaptureFixture
) -> None:
    fake_github.token = SECRET
    caplog.set_level(logging.DEBUG)

    created = gateway.installation(77, ["widgets"]).create_comment("octo/widgets", 7, "On it")

    (sent,) = fake_github.calls("POST", "/repos/octo/widgets/issues/7/comments")
    assert sent.headers["Authorization"] == "token v1.a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5"
    assert sent.headers["X-GitHub-Api-Version"] == "2022-11-28"
    (stored,) = fake_github.comments[7]
    assert (created.id, created.body) == (stored["id"], "On it")
    assert SECRET not in caplog.text
    assert SECRET not in mask("cloned with v1.a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5")


def test_ghes_base_url_is_honoured_for_rest_and_graphql(private_key: str) -> None:
    base = "https://ghe.example.com/api/v3"
    settings = Settings(github_app_id=42, github_private_key=private_key, github_api_url=base + "/")
    gateway = GitHubGateway.from_settings(settings)
    github = FakeGitHub(base_path="/api/v3", default_branch="trunk")
    github.pulls[9] = pull(9)
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        github.install(router)
        client = gateway.installation(77)

        repo = client.repository("octo/widgets")
        client.pulls.mark_ready_for_review("PR_kwDOA9")

        check_calls_documented(router, base_path="/api/v3")
    assert repo.default_branch == "trunk"
    sent = [f"{r.method} {r.url.host}{r.url.path}" for r in github.requests]
    assert sent == [
        "POST ghe.example.com/api/v3/app/installations/77/access_tokens",
        "GET ghe.example.com/api/v3/repos/octo/widgets",
        "POST ghe.example.com/api/graphql",
    ]
    assert github.ready_marked == ["PR_kwDOA9"] and github.unexpected == []


def test_invalid_private_key_is_a_config_error_with_a_hint() -> None:
    with pytest.raises(ConfigError) as caught:
        GitHubGateway(
            42, "-----BEGIN RSA PRIVATE KEY-----\nnot a key\n-----END RSA PRIVATE KEY-----"
        )
    assert "pem" in caught.value.hint.lower()


def test_missing_app_id_is_a_config_error(private_key: str) -> None:
    with pytest.raises(ConfigError, match="DRAFTSMITH_GITHUB_APP_ID"):
        GitHubGateway.from_settings(Settings(github_private_key=private_key))


BASIC = "Authorization: Basic eC1hY2Nlc3MtdG9rZW46Z2hzX2FiYw=="  # x-access-token:ghs_abc


@pytest.mark.parametrize(
    ("clone_url", "expected"),
    [
        pytest.param(
            "https://github.com/octo/widgets.git",
            {"http.https://github.com/.extraHeader": BASIC},
            id="github-https",
        ),
        pytest.param(
            "https://ghe.example.com:8443/octo/widgets.git",
            {"http.https://ghe.example.com:8443/.extraHeader": BASIC},
            id="ghes-with-port",
        ),
        pytest.param("file:///srv/git/widgets.git", {}, id="file-url"),
        pytest.param("http://git.example/w.git", {}, id="plain-http"),
        pytest.param("/srv/git/widgets", {}, id="local-path"),
    ],
)
def test_git_credentials_scope_the_token_to_the_https_host(
    clone_url: str, expected: dict[str, str]
) -> None:
    env = git_credentials(clone_url, "ghs_abc")
    configured = {
        env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"]
        for i in range(int(env.get("GIT_CONFIG_COUNT", "0")))
    }
    assert configured == expected


def test_what_the_gateway_sends_is_masked(fake_github: FakeGitHub, gateway: GitHubGateway) -> None:
    secret = "s3cr3t-value-9f8e7d6c5b4a"
    register_secret(secret)

    gateway.installation(77).create_comment("octo/widgets", 7, f"the key is {secret}")

    (request,) = fake_github.calls("POST", "/repos/octo/widgets/issues/7/comments")
    sent = json.loads(request.content)
    assert secret not in sent["body"] and sent["body"].startswith("the key is ")
    assert secret not in fake_github.sent_text()
