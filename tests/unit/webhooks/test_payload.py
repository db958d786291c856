"""Reading a delivery body within bounds: nesting counted on the parsed value, shapes checked."""

from __future__ import annotations

import json

import pytest

from webhooks.payload import MAX_DEPTH, PayloadError, delivery_facts, nesting_depth, parse_payload


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        (b"{}", 1),
        (b'{"a": [1, {"b": 2}]}', 3),
        (b'{"a": "[[[[{{{{"}', 1),
        (b'{"a": "\\"[[[", "b": [[]]}', 3),
        (b"[" * 70 + b"]" * 70, MAX_DEPTH + 1),
        (b"1", 0),
    ],
    ids=["empty", "nested", "brackets-in-string", "escaped-quote", "past-limit", "scalar"],
)
def test_nesting_depth_counts_arrays_and_objects_not_strings(body: bytes, depth: int) -> None:
    assert nesting_depth(json.loads(body)) == depth


@pytest.mark.parametrize("levels", [65, 900, 100_000], ids=["past-limit", "under-c-limit", "huge"])
def test_a_body_past_the_depth_limit_is_refused(levels: int) -> None:
    with pytest.raises(PayloadError, match="deeper than 64"):
        parse_payload(b'{"a":' + b"[" * levels + b"]" * levels + b"}")


def test_a_body_at_the_depth_limit_parses() -> None:
    body = b'{"a":' + b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1) + b"}"
    assert nesting_depth(parse_payload(body)) == MAX_DEPTH


def test_a_github_sized_payload_parses() -> None:
    assert parse_payload(b'{"action": "labeled", "issue": {"labels": [{"name": "x"}]}}')["action"]


@pytest.mark.parametrize(
    "payload",
    [
        {"action": {"x": 1}},
        {"repository": "owner/name"},
        {"repository": {"full_name": 7}},
        {"installation": {"id": "7"}},
        {"installation": {"id": 2**64}},
        {"installation": {"id": True}},
        {"sender": {"login": ["mallory"]}},
    ],
    ids=[
        "action-object",
        "repository-string",
        "full-name-int",
        "id-string",
        "id-huge",
        "id-bool",
        "login-list",
    ],  # fmt: skip
)
def test_stored_fields_of_the_wrong_shape_are_refused(payload: dict[str, object]) -> None:
    with pytest.raises(PayloadError):
        delivery_facts(payload)
