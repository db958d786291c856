"""Load the vendored GitHub webhook payloads (tests/fixtures/webhooks) and sign request bodies."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from functools import cache
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "webhooks"


def fixture_names() -> list[str]:
    """The names of every vendored payload, e.g. `issues.labeled` and `ping`."""
    return sorted(p.name.removesuffix(".json") for p in FIXTURES.glob("*.json"))


@cache
def _read(name: str) -> dict[str, Any]:
    path = FIXTURES / f"{name.removesuffix('.json')}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no webhook fixture {path.name}; have: {fixture_names()}")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _merge(target: dict[str, Any], key: str, value: Any) -> None:
    current = target.get(key)
    if isinstance(value, dict) and isinstance(current, dict):
        for sub_key, sub_value in value.items():
            _merge(current, sub_key, sub_value)
    else:
        target[key] = copy.deepcopy(value)


def load_payload(name: str, **changes: Any) -> dict[str, Any]:
    """A deep copy of fixture `name` with `changes` applied.

    A key is a top-level field or a dotted path (`**{"comment.body": "/draftsmith retry"}`;
    `comment__body=...` is the same). A dict value is merged into an existing dict (so
    `label={"name": "draftsmith"}` keeps the label's other fields); any other value replaces.
    Missing intermediate objects are created, e.g. `installation={"id": 42}`.
    """
    payload = copy.deepcopy(_read(name))
    for raw_key, value in changes.items():
        parts = raw_key.replace("__", ".").split(".")
        node = payload
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise TypeError(f"{raw_key}: {part!r} is a {type(child).__name__}, not an object")
            node = child
        _merge(node, parts[-1], value)
    return payload


def body_of(payload: dict[str, Any]) -> bytes:
    """The payload serialised as GitHub sends it (compact JSON, UTF-8)."""
    return json.dumps(payload, separators=(",", ":")).encode()


def sign(body: bytes, secret: str) -> str:
    """The X-Hub-Signature-256 header value for `body`: `sha256=<hex HMAC-SHA256>`."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"
