"""Sending one REST request through githubkit with bounded retries on 5xx and rate limits."""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from githubkit import GitHub, Response
from githubkit.exception import (
    PrimaryRateLimitExceeded,
    RequestError,
    RequestFailed,
    SecondaryRateLimitExceeded,
)

from bot.errors import GitHubError
from bot.security.masking import process_masker
from bot.telemetry import github_span, record_status

logger = logging.getLogger(__name__)

API_VERSION = "2022-11-28"
"""The REST API version we speak; GitHub.com and every supported GHES release accept it."""

Sleep = Callable[[float], None]
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, timezone-aware UTC (the default clock)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry: backoff for 5xx, GitHub's own waits for rate limits."""

    max_attempts: int = 4
    backoff_base_s: float = 1.0
    backoff_max_s: float = 30.0
    default_limit_wait_s: float = 60.0
    max_wait_s: float = 900.0

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1-based) after a 5xx or network error."""
        delay = min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1))
        return float(delay + random.uniform(0, delay / 10))


_HINTS = {
    401: "check DRAFTSMITH_GITHUB_APP_ID and the private key; the App's JWT or token was refused",
    403: "the App lacks a permission: compare app.yml with the installation's accepted permissions",
    404: "check the repository/resource name and that the App is installed on that repository",
    409: "the resource changed concurrently; re-read it and try again",
    422: "GitHub rejected the request body; see the message for the field at fault",
}


def error_hint(status: int | None) -> str:
    """What a reader should do about a GitHub error with this status."""
    if status is None:
        return "check the network and DRAFTSMITH_GITHUB_API_URL"
    if status >= 500:
        return "GitHub is failing; retry later (see https://www.githubstatus.com)"
    return _HINTS.get(status, "see the message GitHub returned")


def _message(response: Response[Any]) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.raw_response.text[:200]
    if isinstance(body, dict):
        message = str(body.get("message", ""))
        errors = body.get("errors")
        return f"{message} {errors}" if errors else message
    return ""


_REPO_PATH = re.compile(r"^/repos/[^/]+/[^/]+")
_NUMBER = re.compile(r"/\d+(?=/|$)")
_SHA = re.compile(r"/[0-9a-f]{40}(?=/|$)")


def route_template(url: str) -> str:
    """The route of a request path for traces: owner, repo, numbers and shas as placeholders."""
    path = url.split("?", 1)[0]
    path = _REPO_PATH.sub("/repos/{owner}/{repo}", path)
    path = _SHA.sub("/{sha}", path)
    return _NUMBER.sub("/{id}", path)


class Requester:
    """Sends requests through a githubkit client, retrying what GitHub says is worth retrying."""

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        sleep: Sleep | None = None,
        clock: Clock = utc_now,
    ) -> None:
        import time

        self.policy = policy or RetryPolicy()
        self.sleep: Sleep = sleep or time.sleep
        self.clock = clock

    def send(
        self,
        client: GitHub[Any],
        method: str,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response[Any]:
        """One request; raises GitHubError (with `status`) once retries are exhausted."""
        all_headers = {"X-GitHub-Api-Version": API_VERSION, **(headers or {})}
        # PR and issue bodies, comments and check-run output are read by people: masked.
        json = process_masker().mask_obj(json) if json is not None else None
        attempt = 0
        while True:
            attempt += 1
            try:
                with github_span(method, route_template(url)) as span:
                    try:
                        response = client.request(
                            method,
                            url,
                            params=dict(params) if params else None,
                            json=json,
                            headers=all_headers,
                        )
                    except RequestFailed as failed:
                        record_status(span, failed.response.status_code)
                        raise
                    record_status(span, response.status_code)
                    return response
            except PrimaryRateLimitExceeded as exc:
                wait, why = self._primary_wait(exc.response), "primary rate limit"
                status: int | None = exc.response.status_code
                detail = _message(exc.response)
            except SecondaryRateLimitExceeded as exc:
                wait, why = self._secondary_wait(exc.response), "secondary rate limit"
                status, detail = exc.response.status_code, _message(exc.response)
            except RequestFailed as exc:
                status, detail = exc.response.status_code, _message(exc.response)
                if status < 500:
                    raise self._error(method, url, status, detail) from exc
                wait, why = self.policy.backoff(attempt), f"server error {status}"
            except RequestError as exc:
                if not isinstance(exc.exc, httpx.TransportError):
                    raise GitHubError(
                        f"GitHub {method} {url} could not be sent: {exc.exc!r}",
                        "check the App credentials and DRAFTSMITH_GITHUB_API_URL",
                    ) from exc
                status, detail = None, type(exc.exc).__name__
                wait, why = self.policy.backoff(attempt), f"network error {detail}"
            if attempt >= self.policy.max_attempts:
                raise self._error(method, url, status, f"{detail} (after {attempt} attempts)")
            if wait > self.policy.max_wait_s:
                raise self._error(
                    method, url, status, f"{why}: would have to wait {wait:.0f}s", limited=True
                )
            logger.warning(
                "github %s %s: %s, retry %d/%d in %.1fs",
                method,
                url,
                why,
                attempt,
                self.policy.max_attempts - 1,
                wait,
            )
            self.sleep(wait)

    def _primary_wait(self, response: Response[Any]) -> float:
        reset = response.headers.get("x-ratelimit-reset")
        if reset is None or not reset.isdigit():
            return self.policy.default_limit_wait_s
        resets_at = datetime.fromtimestamp(int(reset), UTC)
        return max(0.0, (resets_at - self.clock()).total_seconds()) + 1.0

    def _secondary_wait(self, response: Response[Any]) -> float:
        retry_after = response.headers.get("retry-after")
        if retry_after is not None and retry_after.isdigit():
            return float(retry_after)
        return self._primary_wait(response)

    @staticmethod
    def _error(
        method: str, url: str, status: int | None, detail: str, limited: bool = False
    ) -> GitHubError:
        hint = (
            "GitHub's rate limit is exhausted; the run can be retried after the reset"
            if limited
            else error_hint(status)
        )
        shown = f" {status}" if status is not None else ""
        return GitHubError(f"GitHub {method} {url} failed{shown}: {detail}", hint, status=status)
