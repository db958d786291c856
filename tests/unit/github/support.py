"""Helpers for the gateway tests: the route check, a fake clock, and small GitHub REST shapes.

Response objects come from `tests/helpers/github_objects.py` (GitHub's documented examples).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import httpx
import respx

from tests.helpers import github_objects
from tests.helpers.github_objects import API, comment, pull, user

__all__ = ["API", "comment", "pull", "user"]

ROUTES_FILE = Path(__file__).resolve().parents[2] / "fixtures" / "github" / "routes.json"
GRAPHQL_PATHS = ("/graphql", "/api/graphql")
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@cache
def route_patterns() -> list[tuple[str, str, re.Pattern[str]]]:
    """(method, template, regex) for every documented REST operation."""
    patterns = []
    for route in json.loads(ROUTES_FILE.read_text())["routes"]:
        method, template = route.split(" ", 1)
        regex = re.escape(template)
        regex = regex.replace(re.escape("{path}"), ".+")
        if re.search(r"/git/refs?/\{ref\}$", template):  # `heads/<branch>`: slashes allowed
            regex = regex.replace(re.escape("{ref}"), ".+")
        regex = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", regex)
        patterns.append((method, template, re.compile(f"^{regex}$")))
    return patterns


REPOSITORY_ID_ALIAS = re.compile(r"^/repositories/\d+(?=/)")
"""GitHub's `Link: rel="next"` URLs name a repository by id (`/repositories/1296269/...`), an
undocumented alias of `/repos/{owner}/{repo}/...`; we only follow those links, never build them."""


def documented_route(method: str, path: str) -> str | None:
    """The route template a request matches, `POST /graphql` for GraphQL, else None."""
    if method == "POST" and path in GRAPHQL_PATHS:
        return "POST /graphql"
    path = REPOSITORY_ID_ALIAS.sub("/repos/owner/repo", path)
    matches = [t for m, t, rx in route_patterns() if m == method and rx.match(path)]
    # prefer the most literal template (fewest parameters) when several match
    return f"{method} {min(matches, key=lambda t: t.count('{'))}" if matches else None


def api_path(request: httpx.Request, base_path: str = "") -> str:
    """The request's path relative to the API base (GHES: without `/api/v3`)."""
    path = request.url.path
    return path[len(base_path) :] if base_path and path.startswith(base_path + "/") else path


def check_calls_documented(router: respx.MockRouter, base_path: str = "") -> None:
    """Fail unless every request the router saw is a documented GitHub route."""
    undocumented = []
    for call in router.calls:
        method, path = call.request.method, api_path(call.request, base_path)
        if documented_route(method, path) is None:
            undocumented.append(f"{method} {path}")
    assert not undocumented, f"requests not in @octokit/openapi: {undocumented}"


@dataclass
class FakeClock:
    """A clock tests move by hand; `sleep` advances it and records the wait."""

    now: datetime = START
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def token_body(
    token: str = "ghs_16C7e42F292c6912E7710c838347Ae178B4a", *, expires_at: datetime | None = None
) -> dict[str, object]:
    """POST /app/installations/{id}/access_tokens response, valid for an hour from now."""
    expires = expires_at or datetime.now(UTC) + timedelta(hours=1)
    return github_objects.token(token, expires.strftime("%Y-%m-%dT%H:%M:%SZ"))
