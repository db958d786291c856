"""The GitHub gateway: App auth, scoped installation tokens, and the calls Draftsmith makes."""

from __future__ import annotations

import base64
import binascii
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
from githubkit import AppAuthStrategy, GitHub, Response, TokenAuthStrategy

from bot.errors import ConfigError, GitHubError
from bot.github.checks import CheckRuns
from bot.github.models import (
    DeliveryPage,
    InstallationToken,
    IssueComment,
    RepoLike,
    Repository,
    UserPermission,
    WebhookDelivery,
    parse_repo,
)
from bot.github.pulls import PullRequests
from bot.github.transport import Clock, Requester, RetryPolicy, Sleep, utc_now
from bot.security.masking import register_secret

if TYPE_CHECKING:
    from bot.config import Settings

logger = logging.getLogger(__name__)

__all__ = [
    "GitHubGateway",
    "InstallationClient",
    "authenticated_clone_url",
    "parse_repo",
]

DEFAULT_API_URL = "https://api.github.com"
REACTIONS = frozenset({"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"})
_TokenKey = tuple[int, tuple[str, ...], tuple[tuple[str, str], ...]]


def authenticated_clone_url(clone_url: str, token: str) -> str:
    """An https clone URL carrying `x-access-token:<token>@`; file:// URLs and paths unchanged."""
    parts = urlsplit(clone_url)
    if parts.scheme != "https":  # never put a token on plain http, file:// or a path
        return clone_url
    host = parts.hostname or ""
    netloc = f"x-access-token:{quote(token, safe='')}@{host}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


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
    """The one door to GitHub: App JWT calls here, repository calls via `installation(...)`."""

    def __init__(
        self,
        app_id: int,
        private_key: str,
        api_url: str = DEFAULT_API_URL,
        *,
        sleep: Sleep | None = None,
        clock: Clock = utc_now,
        retry: RetryPolicy | None = None,
        refresh_margin: timedelta = timedelta(minutes=5),
        timeout_s: float = 30.0,
    ) -> None:
        _check_private_key(private_key)
        self.app_id = app_id
        self.api_url = api_url.rstrip("/")
        self.clock = clock
        self.refresh_margin = refresh_margin
        self.requester = Requester(retry, sleep, clock)
        self._timeout_s = timeout_s
        self._app = self._client(AppAuthStrategy(app_id, private_key))
        self._tokens: dict[_TokenKey, tuple[InstallationToken, GitHub[Any]]] = {}
        self._lock = threading.Lock()

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

    def _client(self, auth: AppAuthStrategy | TokenAuthStrategy) -> GitHub[Any]:
        return GitHub(
            auth,
            base_url=self.api_url,
            user_agent=f"draftsmith (app {self.app_id})",
            timeout=self._timeout_s,
            http_cache=False,
            auto_retry=False,
        )

    @property
    def graphql_url(self) -> str:
        """GraphQL endpoint: `<api>/graphql`, or `/api/graphql` on GHES (`.../api/v3`)."""
        if self.api_url.endswith("/api/v3"):
            return self.api_url[: -len("/v3")] + "/graphql"
        return self.api_url + "/graphql"

    def app_request(self, method: str, path: str, **kwargs: Any) -> Response[Any]:
        """A request authenticated as the App itself (JWT)."""
        return self.requester.send(self._app, method, path, **kwargs)

    def installation_token(
        self,
        installation_id: int,
        repositories: Sequence[str] | None = None,
        permissions: Mapping[str, str] | None = None,
    ) -> InstallationToken:
        """A token for the installation, limited to `repositories` (names) and `permissions`."""
        return self._token_entry(installation_id, repositories, permissions)[0]

    def _token_entry(
        self,
        installation_id: int,
        repositories: Sequence[str] | None,
        permissions: Mapping[str, str] | None,
    ) -> tuple[InstallationToken, GitHub[Any]]:
        key: _TokenKey = (
            installation_id,
            tuple(sorted(repositories or ())),
            tuple(sorted((permissions or {}).items())),
        )
        with self._lock:
            cached = self._tokens.get(key)
            if cached is not None and cached[0].expires_at - self.refresh_margin > self.clock():
                return cached
            body: dict[str, Any] = {}
            if repositories:
                body["repositories"] = list(key[1])
            if permissions:
                body["permissions"] = dict(key[2])
            response = self.app_request(
                "POST", f"/app/installations/{installation_id}/access_tokens", json=body
            )
            token = InstallationToken.model_validate(response.json())
            register_secret(token.token)  # masked in everything that leaves the process
            logger.info(
                "installation token for %s (repos=%s, permissions=%s) valid until %s",
                installation_id,
                list(key[1]) or "all",
                dict(key[2]) or "all",
                token.expires_at.isoformat(),
            )
            entry = (token, self._client(TokenAuthStrategy(token.token)))
            self._tokens[key] = entry
            return entry

    def installation(
        self,
        installation_id: int,
        repositories: Sequence[str] | None = None,
        permissions: Mapping[str, str] | None = None,
    ) -> InstallationClient:
        """A client acting as the installation, with a token scoped as given (cached, refreshed)."""
        return InstallationClient(self, installation_id, repositories, permissions)

    def list_deliveries(self, cursor: str | None = None, per_page: int = 100) -> DeliveryPage:
        """One page of the App's webhook deliveries, newest first."""
        params: dict[str, str | int] = {"per_page": per_page}
        if cursor:
            params["cursor"] = cursor
        response = self.app_request("GET", "/app/hook/deliveries", params=params)
        deliveries = [WebhookDelivery.model_validate(item) for item in response.json()]
        next_link = response.raw_response.links.get("next", {}).get("url")
        next_cursor = httpx.URL(next_link).params.get("cursor") if next_link else None
        return DeliveryPage(deliveries, next_cursor)

    def redeliver(self, delivery_id: int) -> None:
        """Ask GitHub to send a webhook delivery again."""
        self.app_request("POST", f"/app/hook/deliveries/{delivery_id}/attempts")


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
        self.repositories = tuple(repositories or ())
        self.permissions = dict(permissions or {})
        self.pulls = PullRequests(self)
        self.checks = CheckRuns(self)

    def token(self) -> InstallationToken:
        """The current (cached or refreshed) scoped token, e.g. for `authenticated_clone_url`."""
        return self.gateway.installation_token(
            self.installation_id, self.repositories, self.permissions
        )

    def request(self, method: str, url: str, **kwargs: Any) -> Response[Any]:
        """A REST (or GraphQL) request with the installation token; retried per the policy."""
        _, client = self.gateway._token_entry(
            self.installation_id, self.repositories, self.permissions
        )
        return self.gateway.requester.send(client, method, url, **kwargs)

    def paginate(
        self, path: str, params: Mapping[str, str | int] | None = None, key: str | None = None
    ) -> Iterator[Any]:
        """Every item of a paginated list (following `Link: rel="next"`), 100 per page."""
        url: str | None = path
        page_params: dict[str, str | int] | None = {"per_page": 100, **(params or {})}
        while url is not None:
            response = self.request("GET", url, params=page_params)
            body = response.json()
            yield from (body[key] if key else body)
            url = response.raw_response.links.get("next", {}).get("url")
            page_params = None  # the next link carries the query

    def graphql(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        """Run a GraphQL operation; raises GitHubError when GitHub reports errors."""
        response = self.request(
            "POST", self.gateway.graphql_url, json={"query": query, "variables": dict(variables)}
        )
        body = response.json()
        if body.get("errors"):
            messages = "; ".join(str(e.get("message")) for e in body["errors"])
            raise GitHubError(
                f"GitHub GraphQL failed: {messages}", "see the message GitHub returned"
            )
        data: dict[str, Any] = body.get("data") or {}
        return data

    def repository(self, repo: RepoLike) -> Repository:
        """The repository, with its default branch and clone URL."""
        ref = parse_repo(repo)
        return Repository.model_validate(self.request("GET", f"/repos/{ref.full_name}").json())

    def user_permission(self, repo: RepoLike, username: str) -> UserPermission | None:
        """The user's permission on the repository; None when GitHub answers 404."""
        ref = parse_repo(repo)
        path = f"/repos/{ref.full_name}/collaborators/{quote(username, safe='')}/permission"
        try:
            return UserPermission.model_validate(self.request("GET", path).json())
        except GitHubError as exc:
            if exc.status == 404:
                return None
            raise

    def has_write_access(self, repo: RepoLike, username: str) -> bool:
        """True when the user is admin, maintainer or writer of the repository."""
        permission = self.user_permission(repo, username)
        return permission is not None and permission.can_write

    def create_comment(self, repo: RepoLike, issue_number: int, body: str) -> IssueComment:
        """Comment on an issue or pull request."""
        ref = parse_repo(repo)
        path = f"/repos/{ref.full_name}/issues/{issue_number}/comments"
        return _comment(self.request("POST", path, json={"body": body}).json())

    def update_comment(self, repo: RepoLike, comment_id: int, body: str) -> IssueComment:
        """Replace a comment's body."""
        ref = parse_repo(repo)
        path = f"/repos/{ref.full_name}/issues/comments/{comment_id}"
        return _comment(self.request("PATCH", path, json={"body": body}).json())

    def list_comments(self, repo: RepoLike, issue_number: int) -> list[IssueComment]:
        """Every comment of an issue or pull request, oldest first."""
        ref = parse_repo(repo)
        path = f"/repos/{ref.full_name}/issues/{issue_number}/comments"
        return [_comment(item) for item in self.paginate(path)]

    def find_comment(self, repo: RepoLike, issue_number: int, marker: str) -> IssueComment | None:
        """The first comment containing `marker` (e.g. `<!-- draftsmith:run:12 -->`), or None."""
        for comment in self.list_comments(repo, issue_number):
            if comment.body and marker in comment.body:
                return comment
        return None

    def upsert_comment(
        self, repo: RepoLike, issue_number: int, marker: str, body: str
    ) -> IssueComment:
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
        ref = parse_repo(repo)
        path = f"/repos/{ref.full_name}/issues/comments/{comment_id}/reactions"
        self.request("POST", path, json={"content": content})

    def read_file(self, repo: RepoLike, path: str, ref: str | None = None) -> str | None:
        """A text file at `ref` (default: the default branch); None when it does not exist."""
        repo_ref = parse_repo(repo)
        url = f"/repos/{repo_ref.full_name}/contents/{quote(path.lstrip('/'), safe='/')}"
        try:
            response = self.request("GET", url, params={"ref": ref} if ref else None)
        except GitHubError as exc:
            if exc.status == 404:
                return None
            raise
        body = response.json()
        if not isinstance(body, dict) or body.get("type") != "file":
            raise GitHubError(f"{path} in {repo_ref.full_name} is not a file", "name a file")
        if body.get("encoding") != "base64":
            raise GitHubError(
                f"{path} in {repo_ref.full_name} is too large for the contents API (over 1 MB)",
                "keep configuration files small",
            )
        try:
            return base64.b64decode(body.get("content", "")).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise GitHubError(f"{path} is not UTF-8 text", "name a text file") from exc


def _comment(item: Mapping[str, Any]) -> IssueComment:
    user = item.get("user") or {}
    return IssueComment.model_validate({**item, "user_login": user.get("login")})
