"""Reading GitHub's answers tolerantly: only the fields Draftsmith uses, into small models.

githubkit's typed models require every field the current REST description marks required; an
older GitHub (a GitHub Enterprise Server a few releases behind) omits some, and validating the
whole object would fail a call on a field nobody reads. Models here declare only what a caller
uses and ignore the rest; a missing field that is used fails with a GitHubError naming it and the
server's version.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.shared.errors import GitHubError

if TYPE_CHECKING:
    from githubkit import GitHub

VERSION_HEADERS = ("x-github-enterprise-version", "x-github-api-version-selected")
"""Headers that say which GitHub answered (GHES sends its release; github.com the API version)."""


class Answer(BaseModel):
    """Base of the answer models: unknown fields ignored, nothing else assumed."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class HasBody(Protocol):
    """What we read of a githubkit (or httpx) response: its bytes and headers."""

    @property
    def content(self) -> bytes:
        """The raw body."""
        ...

    @property
    def headers(self) -> Any:
        """The response headers (a case-insensitive mapping)."""
        ...


A = TypeVar("A", bound=Answer)


def server_version(response: HasBody) -> str:
    """Which GitHub answered, from its version headers ("unknown" when it does not say)."""
    for name in VERSION_HEADERS:
        value = response.headers.get(name)
        if value:
            return f"{name}: {value}"
    return "unknown"


def body_of(response: HasBody, what: str) -> Any:
    """The decoded JSON body; GitHubError when it is not JSON."""
    try:
        return json.loads(response.content or b"null")
    except ValueError as exc:
        raise GitHubError(
            f"GitHub's answer to {what} is not JSON (server {server_version(response)})",
            "check DRAFTSMITH_GITHUB_API_URL points at the REST API (GHES: https://HOST/api/v3)",
        ) from exc


def parse(model: type[A], data: Any, what: str, version: str = "unknown") -> A:
    """`data` read as `model`; a missing or malformed field Draftsmith uses is a GitHubError."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "the body"
        problem = "is missing" if first["type"] == "missing" else f"is invalid ({first['msg']})"
        raise GitHubError(
            f"GitHub's answer to {what}: field {field!r} {problem}; Draftsmith needs it "
            f"(server {version})",
            "upgrade the GitHub Enterprise Server, or report this answer to Draftsmith",
        ) from exc


def read(model: type[A], response: HasBody, what: str) -> A:
    """The response's JSON body read as `model` (see `parse`)."""
    return parse(model, body_of(response, what), what, server_version(response))


def read_list(model: type[A], response: HasBody, what: str) -> list[A]:
    """The response's JSON list read item by item as `model`."""
    data = body_of(response, what)
    version = server_version(response)
    if not isinstance(data, list):
        raise GitHubError(
            f"GitHub's answer to {what} is not a list (server {version})",
            "report this answer to Draftsmith",
        )
    return [parse(model, item, f"{what} (item {i})", version) for i, item in enumerate(data)]


def read_pages(
    github: GitHub[Any], method: Callable[..., Any], model: type[A], what: str, **params: Any
) -> list[A]:
    """Every page of a listing (100 items a page), each read item by item as `model`."""
    pages: Iterable[A] = github.rest.paginate(
        method, map_func=lambda response: read_list(model, response, what), per_page=100, **params
    )
    return list(pages)
