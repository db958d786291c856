"""Reading a delivery's body as JSON within bounds, before any code of ours can recurse on it.

The body's size is bounded by the intake; its nesting is bounded here. GitHub's payloads nest
about ten levels deep, so `MAX_DEPTH` leaves room for any real event and refuses a body built
to exhaust a parser's recursion (a signed body 5,000 levels deep answered 500 before). The C
parser guards its own recursion (a RecursionError past the interpreter's limit, refused here);
the depth is then counted on the parsed value, level by level, without recursion: 0.015 ms for
a 14 kB `issues.labeled`, where scanning the bytes for it cost 0.24 ms, twice the parse.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 64


class PayloadError(ValueError):
    """The body is not a JSON object Draftsmith will read; the message says why."""


def nesting_depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """How deep a parsed JSON value's arrays and objects nest, counted up to `limit + 1`."""
    level = [value] if type(value) is dict or type(value) is list else []
    depth = 0
    while level and depth <= limit:
        depth += 1
        inner = []
        for container in level:
            for item in container.values() if type(container) is dict else container:
                if type(item) is dict or type(item) is list:
                    inner.append(item)
        level = inner
    return depth


def parse_payload(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; PayloadError when it is not one or nests past MAX_DEPTH."""
    try:
        payload = json.loads(body)
    except RecursionError:
        raise _too_deep() from None
    except ValueError as exc:
        raise PayloadError(f"body is not JSON: {exc}") from exc
    if nesting_depth(payload) > MAX_DEPTH:
        raise _too_deep()
    if not isinstance(payload, dict):
        raise PayloadError("body is not a JSON object")
    return payload


def _too_deep() -> PayloadError:
    return PayloadError(f"body nests deeper than {MAX_DEPTH} levels")


MAX_HEADER_CHARS = 64  # the deliveries table's id and event columns
_HEADER = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_BIGINT = 2**63 - 1


def check_headers(delivery: str, event: str) -> None:
    """PayloadError unless the delivery id and event name are short, plain tokens."""
    for name, value in (("X-GitHub-Delivery", delivery), ("X-GitHub-Event", event)):
        if not _HEADER.fullmatch(value):
            raise PayloadError(f"{name} must be 1-{MAX_HEADER_CHARS} letters, digits or -_.:")


@dataclass(frozen=True)
class DeliveryFacts:
    """What a delivery is stored with besides its command."""

    action: str | None
    repo: str | None
    installation: int | None
    sender: str | None


def delivery_facts(payload: dict[str, Any]) -> DeliveryFacts:
    """The action, repository, installation and sender a delivery is stored with, checked."""
    action = payload.get("action")
    repo = _member(payload, "repository").get("full_name")
    installation = _member(payload, "installation").get("id")
    sender = _member(payload, "sender").get("login")
    if sender is not None and not (isinstance(sender, str) and len(sender) <= 255):
        raise PayloadError("sender.login must be a string of at most 255 characters")
    if action is not None and not (isinstance(action, str) and len(action) <= 64):
        raise PayloadError("action must be a string of at most 64 characters")
    if repo is not None and not (isinstance(repo, str) and len(repo) <= 255):
        raise PayloadError("repository.full_name must be a string of at most 255 characters")
    if installation is not None and not (
        isinstance(installation, int) and not isinstance(installation, bool)
        and 0 < installation <= _BIGINT
    ):  # fmt: skip
        raise PayloadError("installation.id must be a positive 64-bit integer")
    return DeliveryFacts(action, repo, installation, sender)


def _member(payload: dict[str, Any], key: str) -> dict[str, Any]:
    value = payload.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(f"{key} must be an object")
    return value
