"""How every GitHub request travels, on githubkit: its retry hook, HTTP transport and token cache.

- `RetryPolicy` is githubkit's `auto_retry` decision: backoff for 5xx and network errors, GitHub's
  own wait for rate limits (githubkit reads `retry-after` / `x-ratelimit-reset`), bounded attempts,
  and no retry at all when GitHub asks for a wait longer than `max_wait_s`.
- `GatewayTransport` is the httpx transport under githubkit: one tracing span per HTTP request,
  request bodies masked (PR bodies, comments and check runs are read by people), the API version.
- `MaskingCacheStrategy` is githubkit's in-memory cache of the App JWT and installation tokens:
  every credential it stores is registered with the masker; tokens leave it `margin` early.
- `GitHubClient` is githubkit's client whose failures arrive as `GitHubError` with a hint.
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

import httpx
from githubkit import GitHub
from githubkit.cache import MemCacheStrategy
from githubkit.cache.mem_cache import MemCache
from githubkit.exception import (
    GitHubException,
    GraphQLFailed,
    PrimaryRateLimitExceeded,
    RateLimitExceeded,
    RequestError,
    RequestFailed,
)
from githubkit.retry import RetryOption

from bot.observe.telemetry import github_span, record_status
from bot.security.masking import process_masker, register_secret
from bot.shared.errors import GitHubError

logger = logging.getLogger(__name__)

API_VERSION: Final = "2022-11-28"
"""The REST API version we speak; GitHub.com and every supported GHES release accept it."""


def failure_of(exc: GitHubException) -> GitHubException:
    """The failure itself: githubkit wraps one raised inside the token request in RequestError."""
    while isinstance(exc, RequestError) and isinstance(exc.exc, GitHubException):
        exc = exc.exc
    return exc


@dataclass(frozen=True)
class RetryPolicy:
    """githubkit's `auto_retry`: how often and how long to wait before sending a request again."""

    max_attempts: int = 4
    backoff_base_s: float = 1.0
    backoff_max_s: float = 30.0
    max_wait_s: float = 900.0

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1-based) after a 5xx or network error."""
        delay = min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1))
        return float(delay + random.uniform(0, delay / 10))

    def __call__(self, exc: GitHubException, retry_count: int) -> RetryOption:
        """Whether to retry after `exc` (githubkit counts retries from 0), and after how long."""
        failure, attempt = failure_of(exc), retry_count + 1
        if isinstance(failure, RateLimitExceeded):
            slack = 1.0 if isinstance(failure, PrimaryRateLimitExceeded) else 0.0
            wait, why = failure.retry_after.total_seconds() + slack, "rate limit"
            if wait > self.max_wait_s:
                return RetryOption(False)
        elif isinstance(failure, RequestFailed) and failure.response.status_code >= 500:
            wait, why = self.backoff(attempt), f"server error {failure.response.status_code}"
        elif isinstance(failure, RequestError) and isinstance(failure.exc, httpx.TransportError):
            wait, why = self.backoff(attempt), f"network error {type(failure.exc).__name__}"
        else:
            return RetryOption(False)
        if attempt >= self.max_attempts:
            exc.add_note(f"after {attempt} attempts")
            return RetryOption(False)
        logger.warning(
            "github: %s, retry %d/%d in %.1fs", why, attempt, self.max_attempts - 1, wait
        )
        # githubkit sleeps 60s on a zero wait: never hand it one
        return RetryOption(True, timedelta(seconds=max(wait, 0.001)))


_HINTS = {
    401: "check DRAFTSMITH_GITHUB_APP_ID and the private key; the App's JWT or token was refused",
    403: "the App lacks a permission: compare app.yml with the installation's accepted permissions",
    404: "check the repository/resource name and that the App is installed on that repository",
    409: "the resource changed concurrently; re-read it and try again",
    422: "GitHub rejected the request body; see the message for the field at fault",
}
LIMITED_HINT = "GitHub's rate limit is exhausted; the run can be retried after the reset"


def error_hint(status: int | None) -> str:
    """What a reader should do about a GitHub error with this status."""
    if status is None:
        return "check the network and DRAFTSMITH_GITHUB_API_URL"
    if status >= 500:
        return "GitHub is failing; retry later (see https://www.githubstatus.com)"
    return _HINTS.get(status, "see the message GitHub returned")


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        message = str(body.get("message", ""))
        errors = body.get("errors")
        return f"{message} {errors}" if errors else message
    return ""


def github_error(exc: GitHubException) -> GitHubError:
    """githubkit's exception as a GitHubError naming the request, GitHub's message and a hint."""
    failure = failure_of(exc)
    notes = "".join(f" ({note})" for note in getattr(exc, "__notes__", ()))
    if isinstance(failure, GraphQLFailed):
        messages = "; ".join(str(e.message) for e in failure.response.errors or ())
        return GitHubError(f"GitHub GraphQL failed: {messages}", "see the message GitHub returned")
    if isinstance(failure, RequestFailed):
        request, status = failure.request, failure.response.status_code
        what = f"GitHub {request.method} {request.url.path} failed {status}"
        detail = _message(failure.response.raw_response)
        if isinstance(failure, RateLimitExceeded):
            wait = failure.retry_after.total_seconds()
            return GitHubError(
                f"{what}: {detail}; GitHub asks to wait {wait:.0f}s{notes}", LIMITED_HINT, status
            )
        return GitHubError(f"{what}: {detail}{notes}", error_hint(status), status)
    if isinstance(failure, RequestError) and isinstance(failure.exc, httpx.TransportError):
        request = failure.exc.request
        return GitHubError(
            f"GitHub {request.method} {request.url.path} failed: "
            f"{type(failure.exc).__name__}{notes}",
            error_hint(None),
        )
    return GitHubError(
        f"GitHub request could not be sent: {failure!r}",
        "check the App credentials and DRAFTSMITH_GITHUB_API_URL",
    )


class GitHubClient(GitHub[Any]):
    """githubkit's client; what still fails after its retries is raised as GitHubError."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        """githubkit's request (retried per the client's `auto_retry`), errors translated."""
        try:
            return super().request(*args, **kwargs)
        except GitHubException as exc:
            raise github_error(exc) from exc

    def graphql_data(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        """The `data` of a GraphQL operation; GitHubError when GitHub reports errors."""
        try:
            return self.graphql.request(query, dict(variables))
        except GitHubException as exc:
            raise github_error(exc) from exc


_REPO_PATH = re.compile(r"^/repos/[^/]+/[^/]+")
_NUMBER = re.compile(r"/\d+(?=/|$)")
_SHA = re.compile(r"/[0-9a-f]{40}(?=/|$)")


def route_template(path: str) -> str:
    """The route of a request path for traces: owner, repo, numbers and shas as placeholders."""
    path = _REPO_PATH.sub("/repos/{owner}/{repo}", path.split("?", 1)[0])
    path = _SHA.sub("/{sha}", path)
    return _NUMBER.sub("/{id}", path)


class GatewayTransport(httpx.BaseTransport):
    """The HTTP transport under githubkit: traced, masked, versioned; connections are pooled."""

    def __init__(self, base_path: str, inner: httpx.BaseTransport | None = None) -> None:
        self.base_path = base_path.rstrip("/")
        self.inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send one request inside a span named by its route template."""
        request = _masked(request)
        request.headers.setdefault("X-GitHub-Api-Version", API_VERSION)
        path = request.url.path
        if self.base_path and path.startswith(self.base_path + "/"):
            path = path[len(self.base_path) :]
        with github_span(request.method, route_template(path)) as span:
            response = self.inner.handle_request(request)
            record_status(span, response.status_code)
            return response

    def close(self) -> None:
        """Kept open: githubkit closes its httpx client after every request; the pool stays."""


def _masked(request: httpx.Request) -> httpx.Request:
    if "json" not in request.headers.get("content-type", "") or not request.content:
        return request
    body = json.loads(request.content)
    masked = process_masker().mask_obj(body)
    if masked == body:
        return request
    headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() != "content-length"]
    return httpx.Request(
        request.method, request.url, headers=headers, json=masked, extensions=request.extensions
    )


class MaskingCache(MemCache):
    """githubkit's memory cache; each credential stored is masked from then on."""

    def __init__(self, margin: timedelta) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.margin = margin

    def set(self, key: str, value: str, ex: timedelta) -> None:
        """Store a JWT or token; installation tokens expire from the cache `margin` early."""
        register_secret(value)  # masked in everything that leaves the process
        if ":installation:" in key:
            ex -= self.margin
            logger.info("installation token %s cached for %.0fs", key, ex.total_seconds())
        super().set(key, value, ex)


class MaskingCacheStrategy(MemCacheStrategy):
    """githubkit's memory cache strategy with a `MaskingCache` for credentials."""

    def __init__(self, margin: timedelta) -> None:
        super().__init__()
        self._credentials = MaskingCache(margin)

    def get_cache_storage(self) -> MaskingCache:
        """The one credential cache of this gateway."""
        return self._credentials
