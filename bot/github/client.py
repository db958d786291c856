"""The GitHub gateway: App auth, scoped installation tokens, and the calls Draftsmith makes.

Everything travels through githubkit (`bot.github.transport` configures it): its typed REST API
(version 2022-11-28), its paginator, its retries and its installation-token cache. Answers are read
tolerantly into `bot.github.objects` (only the fields used), never githubkit's strict models.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import httpx
from githubkit import AppAuthStrategy, TokenAuthStrategy
from githubkit.utils import UNSET

from bot.github.answers import body_of, parse, read, read_pages, server_version
from bot.github.checks import CheckRuns
from bot.github.deliveries import DEFAULT_WINDOW, redeliver_failed
from bot.github.models import RepoLike, can_write, repo_parts
from bot.github.objects import App, Comment, ContentFile, Membership, Permission, Repository
from bot.github.pulls import PullRequests
from bot.github.transport import (
    API_VERSION,
    GatewayTransport,
    GitHubClient,
    MaskingCacheStrategy,
    RetryPolicy,
)
from bot.security.masking import register_secret
from bot.shared.errors import ConfigError, GitHubError

if TYPE_CHECKING:
    from githubkit.auth import BaseAuthStrategy

    from bot.shared.config import Settings

logger = logging.getLogger(__name__)

__all__ = ["GitHubGateway", "InstallationClient", "TokenGateway", "git_credentials", "catch_up"]

DEFAULT_API_URL = "https://api.github.com"
REACTIONS = frozenset({"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"})
TOKEN_MARGIN = timedelta(minutes=4)
"""githubkit drops a cached token a minute before it expires; we drop it 4 minutes earlier
still, so a token handed to git has at least 5 minutes left for a clone or a push."""


def git_credentials(clone_url: str, token: str) -> dict[str, str]:
    """Environment that makes git send the installation token to the clone URL's host only.

    The token travels as an `http.<scheme>://<host>/.extraHeader` set through git's
    `GIT_CONFIG_COUNT` variables: never in an argv (`/proc/*/cmdline` is readable by every
    process on the host) and never in `.git/config` (the sandbox reads the workspace). A process's
    environment is readable only by its own user. Empty for anything but https: a token is never
    sent over plain http, to a file:// URL or a path.
    """
    parts = urlsplit(clone_url)
    if parts.scheme != "https" or not parts.hostname:
        return {}
    origin = f"https://{parts.hostname}" + (f":{parts.port}" if parts.port is not None else "")
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"http.{origin}/.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
    }


def _check_private_key(private_key: str) -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        load_pem_private_key(private_key.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            "the GitHub App private key is not a valid unencrypted PEM key",
            "use the .pem file downloaded from the App's settings page, unchanged",
        ) from exc


class GitHubGateway:
    """The one door to GitHub: `app` acts as the App (JWT), `installation(...)` as an install."""

    def __init__(
        self,
        app_id: int,
        private_key: str,
        api_url: str = DEFAULT_API_URL,
        *,
        retry: RetryPolicy | None = None,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        _check_private_key(private_key)
        self.app_id: int | None = app_id
        self._app_auth = AppAuthStrategy(app_id, private_key)
        self._connect(self._app_auth, api_url, retry, timeout_s, transport)

    def _connect(
        self,
        auth: BaseAuthStrategy,
        api_url: str,
        retry: RetryPolicy | None,
        timeout_s: float,
        transport: httpx.BaseTransport | None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.auth = auth
        self._timeout_s = timeout_s
        self._cache = MaskingCacheStrategy(TOKEN_MARGIN)
        self._transport = GatewayTransport(httpx.URL(self.api_url).path, transport)
        self.app = self.client(self.auth)

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> GitHubGateway:
        """A gateway for the configured App; raises ConfigError when the App is not configured."""
        if settings.github_app_id is None:
            raise ConfigError(
                "DRAFTSMITH_GITHUB_APP_ID is not set", "set it to the App's numeric id"
            )
        return cls(
            settings.github_app_id, settings.private_key(), settings.github_api_url, **kwargs
        )

    def client(self, auth: BaseAuthStrategy) -> GitHubClient:
        """A githubkit client for `auth`, sharing this gateway's transport and credential cache."""
        return GitHubClient(
            auth,
            base_url=self.api_url,
            user_agent=f"draftsmith (app {self.app_id})",
            timeout=self._timeout_s,
            http_cache=False,
            auto_retry=self.retry,
            cache_strategy=self._cache,
            transport=self._transport,
        )

    def installation_auth(
        self,
        installation_id: int,
        repositories: Sequence[str] | None = None,
        permissions: Mapping[str, str] | None = None,
    ) -> BaseAuthStrategy:
        """How an installation client authenticates: a token scoped as given, minted with the
        App's JWT (sorted: the same scope in another order is the same cached token)."""
        return self._app_auth.as_installation(
            installation_id,
            repositories=sorted(repositories) if repositories else UNSET,
            permissions=cast(Any, dict(sorted(permissions.items()))) if permissions else UNSET,
        )

    def fixed_token(self) -> str | None:
        """The one token every call uses, when the gateway has no App (see TokenGateway)."""
        return None

    def installation(
        self,
        installation_id: int,
        repositories: Sequence[str] | None = None,
        permissions: Mapping[str, str] | None = None,
    ) -> InstallationClient:
        """A client acting as the installation, with a token scoped as given (cached, refreshed)."""
        return InstallationClient(self, installation_id, repositories, permissions)

    def app_slug(self) -> str:
        """The App's slug (or id), authenticated with the App JWT: proves the credentials."""
        response = self.app.rest(API_VERSION).apps.get_authenticated()
        app = read(App, response, "GET app")
        return app.slug or str(app.id)


class TokenGateway(GitHubGateway):
    """The door to GitHub with one token instead of an App: a workflow's `GITHUB_TOKEN`, or an
    App installation token minted elsewhere (`draftsmith action`). Every installation client
    sends that token (githubkit's TokenAuthStrategy) and git uses it for clones and pushes; its
    scope is whatever the workflow's `permissions:` granted, not narrowed per run."""

    def __init__(
        self,
        token: str,
        api_url: str = DEFAULT_API_URL,
        *,
        app_id: int | None = None,
        retry: RetryPolicy | None = None,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if len(token.strip()) < 16:
            raise ConfigError(
                "the GitHub token is missing or too short to be a token",
                "pass the workflow's token: DRAFTSMITH_GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}",
            )
        self._token = token.strip()
        register_secret(self._token)  # masked in logs, artifacts and request bodies from now on
        self.app_id = app_id
        self._connect(TokenAuthStrategy(self._token), api_url, retry, timeout_s, transport)

    def installation_auth(
        self,
        installation_id: int,
        repositories: Sequence[str] | None = None,
        permissions: Mapping[str, str] | None = None,
    ) -> BaseAuthStrategy:
        """The token itself, whatever the scope asked: it cannot be narrowed further."""
        return self.auth

    def fixed_token(self) -> str | None:
        """The token given."""
        return self._token

    def app_slug(self) -> str:
        """Not an App: there is no slug to ask GitHub for."""
        raise ConfigError(
            "a token gateway acts as no App", "set DRAFTSMITH_APP_SLUG to the name people mention"
        )


def catch_up(
    gateway: GitHubGateway, now: datetime | None = None, window: timedelta = DEFAULT_WINDOW
) -> list[int]:
    """Redeliver the App's failed webhook deliveries within `window`; the ids redelivered."""
    return redeliver_failed(gateway.app, now, window)


class InstallationClient:
    """Calls made as one installation; `pulls` and `checks` hold the PR and check-run calls."""

    def __init__(
        self,
        gateway: GitHubGateway,
        installation_id: int,
        repositories: Sequence[str] | None = None,
        permissions: Mapping[str, str] | None = None,
    ) -> None:
        self.gateway = gateway
        self.installation_id = installation_id
        strategy = gateway.installation_auth(installation_id, repositories, permissions)
        self.github = gateway.client(strategy)
        self.rest = self.github.rest(API_VERSION)
        self.pulls = PullRequests(self.github)
        self.checks = CheckRuns(self.github)

    def token(self) -> str:
        """The scoped installation token from githubkit's cache (fetched when missing or near
        expiry), e.g. for `git_credentials`. Drives githubkit's own auth flow; a gateway
        with one token (TokenGateway) hands out that token."""
        fixed = self.gateway.fixed_token()
        if fixed is not None:
            return fixed
        flow = self.github.auth.get_auth_flow(self.github)
        probe = httpx.Request("GET", self.github.config.base_url.join("installation"))
        steps = flow.sync_auth_flow(probe)
        request = next(steps)
        if request is not probe:  # not cached: the flow asks for a token request to be sent
            response = self.gateway.app.request(
                request.method,
                request.url,
                content=request.content,
                headers={"Content-Type": "application/json"},
            )
            request = steps.send(response.raw_response)
        steps.close()
        authorization: str = request.headers["Authorization"]
        return authorization.removeprefix("token ")

    def repository(self, repo: RepoLike) -> Repository:
        """The repository, with its default branch and clone URL."""
        return read(Repository, self.rest.repos.get(*repo_parts(repo)), "GET repos/{owner}/{repo}")

    def user_permission(self, repo: RepoLike, username: str) -> Permission | None:
        """The user's permission on the repository; None when GitHub answers 404."""
        try:
            response = self.rest.repos.get_collaborator_permission_level(
                *repo_parts(repo), username
            )
        except GitHubError as exc:
            if exc.status == 404:
                return None
            raise
        return read(Permission, response, f"GET collaborators/{username}/permission")

    def has_write_access(self, repo: RepoLike, username: str) -> bool:
        """True when the user is admin, maintainer or writer of the repository."""
        permission = self.user_permission(repo, username)
        return permission is not None and can_write(permission)

    def team_membership_active(self, team: str, username: str) -> bool:
        """Whether `username` is an active member of `@org/team` (GitHub answers 404 otherwise)."""
        org, _, slug = team.lstrip("@").partition("/")
        if not org or not slug:
            raise GitHubError(f"not a team: {team!r}", "write teams as @org/team in CODEOWNERS")
        try:
            membership = self.rest.teams.get_membership_for_user_in_org(org, slug, username)
        except GitHubError as exc:
            if exc.status == 404:
                return False
            raise
        what = f"GET teams/{slug}/memberships/{username}"
        return read(Membership, membership, what).state == "active"

    def create_comment(self, repo: RepoLike, issue_number: int, body: str) -> Comment:
        """Comment on an issue or pull request."""
        owner, name = repo_parts(repo)
        response = self.rest.issues.create_comment(owner, name, issue_number, body=body)
        return read(Comment, response, f"POST issues/{issue_number}/comments")

    def update_comment(self, repo: RepoLike, comment_id: int, body: str) -> Comment:
        """Replace a comment's body."""
        owner, name = repo_parts(repo)
        response = self.rest.issues.update_comment(owner, name, comment_id, body=body)
        return read(Comment, response, f"PATCH issues/comments/{comment_id}")

    def list_comments(self, repo: RepoLike, issue_number: int) -> list[Comment]:
        """Every comment of an issue or pull request, oldest first."""
        owner, name = repo_parts(repo)
        what = f"GET issues/{issue_number}/comments"
        return read_pages(
            self.github,
            self.rest.issues.list_comments,
            Comment,
            what,
            owner=owner,
            repo=name,
            issue_number=issue_number,
        )

    def find_comment(self, repo: RepoLike, issue_number: int, marker: str) -> Comment | None:
        """The first comment containing `marker` (e.g. `<!-- draftsmith:run:12 -->`), or None."""
        for comment in self.list_comments(repo, issue_number):
            if isinstance(comment.body, str) and marker in comment.body:
                return comment
        return None

    def upsert_comment(self, repo: RepoLike, issue_number: int, marker: str, body: str) -> Comment:
        """Update the comment carrying `marker`, or create it; the marker is appended if absent."""
        text = body if marker in body else f"{body}\n\n{marker}"
        existing = self.find_comment(repo, issue_number, marker)
        if existing is not None:
            return self.update_comment(repo, existing.id, text)
        return self.create_comment(repo, issue_number, text)

    def add_reaction(self, repo: RepoLike, comment_id: int, content: str) -> None:
        """React to an issue comment (`+1`, `eyes`, `rocket`, ...)."""
        if content not in REACTIONS:
            raise GitHubError(f"unknown reaction {content!r}", f"use one of {sorted(REACTIONS)}")
        owner, name = repo_parts(repo)
        self.rest.reactions.create_for_issue_comment(
            owner, name, comment_id, content=cast(Any, content)
        )

    def read_file(self, repo: RepoLike, path: str, ref: str | None = None) -> str | None:
        """A text file at `ref` (default: the default branch); None when it does not exist."""
        owner, name = repo_parts(repo)
        try:
            response = self.rest.repos.get_content(
                owner, name, path.lstrip("/"), ref=ref if ref else UNSET
            )
        except GitHubError as exc:
            if exc.status == 404:
                return None
            raise
        where = f"{path} in {owner}/{name}"
        data = body_of(response, f"GET contents/{path}")
        if not isinstance(data, dict):  # a directory is a list of entries
            raise GitHubError(f"{where} is not a file", "name a file")
        content = parse(ContentFile, data, f"GET contents/{path}", server_version(response))
        if content.type != "file":
            raise GitHubError(f"{where} is not a file", "name a file")
        if content.encoding != "base64" or content.content is None:
            raise GitHubError(
                f"{where} is too large for the contents API (over 1 MB)",
                "keep configuration files small",
            )
        try:
            return base64.b64decode(content.content).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise GitHubError(f"{path} is not UTF-8 text", "name a text file") from exc
