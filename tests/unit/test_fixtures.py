"""The vendored webhook payloads parse and carry what routing reads; the loader and signer work."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers.payloads import body_of, fixture_names, load_payload, sign

EXPECTED = [
    "check_suite.completed",
    "installation.created",
    "installation.deleted",
    "installation_repositories.added",
    "installation_repositories.removed",
    "issue_comment.created",
    "issues.labeled",
    "issues.opened",
    "ping",
    "pull_request.opened",
    "pull_request_review.submitted",
    "pull_request_review_comment.created",
]
INSTALLATION_EVENTS = [n for n in EXPECTED if n.startswith("installation")]
REPOSITORY_EVENTS = [n for n in EXPECTED if not n.startswith("installation")]


def _at(payload: dict[str, Any], dotted: str) -> Any:
    node: Any = payload
    for part in dotted.split("."):
        assert isinstance(node, dict) and part in node, f"missing {dotted}"
        node = node[part]
    return node


def test_every_handled_payload_is_vendored() -> None:
    assert fixture_names() == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_fixture_has_action_matching_its_name_and_a_typed_sender(name: str) -> None:
    payload = load_payload(name)
    expected_action = name.split(".")[1] if "." in name else None
    assert payload.get("action") == expected_action
    assert _at(payload, "sender.type") in {"User", "Bot", "Organization"}
    assert isinstance(_at(payload, "sender.login"), str)


@pytest.mark.parametrize("name", INSTALLATION_EVENTS)
def test_installation_event_carries_installation_id_and_account(name: str) -> None:
    payload = load_payload(name)
    assert isinstance(_at(payload, "installation.id"), int)
    assert isinstance(_at(payload, "installation.account.login"), str)


@pytest.mark.parametrize("name", REPOSITORY_EVENTS)
def test_repository_event_carries_full_name_and_clone_url(name: str) -> None:
    payload = load_payload(name)
    full_name = _at(payload, "repository.full_name")
    assert full_name.count("/") == 1
    assert _at(payload, "repository.clone_url") == f"https://github.com/{full_name}.git"
    assert isinstance(_at(payload, "repository.default_branch"), str)
    if "installation" in payload:
        assert isinstance(_at(payload, "installation.id"), int)


@pytest.mark.parametrize(
    ("name", "fields"),
    [
        ("issues.labeled", ["label.name", "issue.number", "issue.title", "issue.user.login"]),
        ("issue_comment.created", ["comment.body", "comment.user.login", "issue.number"]),
        (
            "pull_request_review.submitted",
            ["review.state", "review.user.login", "pull_request.number", "pull_request.head.ref"],
        ),
        (
            "pull_request_review_comment.created",
            ["comment.body", "comment.path", "comment.user.login", "pull_request.number"],
        ),
        ("check_suite.completed", ["check_suite.head_branch", "check_suite.conclusion"]),
        ("installation_repositories.added", ["repositories_added"]),
        ("installation_repositories.removed", ["repositories_removed"]),
        ("ping", ["zen", "hook_id"]),
    ],
    ids=lambda v: v if isinstance(v, str) else "fields",
)
def test_event_specific_fields_routing_reads_are_present(name: str, fields: list[str]) -> None:
    payload = load_payload(name)
    for field in fields:
        assert _at(payload, field) is not None, field


def test_load_payload_merges_changes_into_a_deep_copy() -> None:
    original = load_payload("issues.labeled")
    changed = load_payload(
        "issues.labeled",
        label={"name": "draftsmith"},
        installation={"id": 42},
        **{"issue.number": 7},
    )
    assert changed["label"]["name"] == "draftsmith"
    assert changed["label"]["color"] == original["label"]["color"]  # other fields kept
    assert changed["installation"] == {"id": 42}
    assert changed["issue"]["number"] == 7
    assert load_payload("issues.labeled") == original  # the cached fixture is untouched


def test_load_payload_accepts_double_underscore_paths() -> None:
    payload = load_payload("issue_comment.created", comment__body="/draftsmith retry")
    assert payload["comment"]["body"] == "/draftsmith retry"


def test_load_payload_refuses_a_path_through_a_non_object() -> None:
    with pytest.raises(TypeError, match="issue.title"):
        load_payload("issues.labeled", **{"issue.title.x": 1})


def test_load_payload_names_the_known_fixtures_when_one_is_missing() -> None:
    with pytest.raises(FileNotFoundError, match="issues.labeled"):
        load_payload("issues.nope")


def test_sign_matches_githubs_documented_example() -> None:
    # From docs.github.com "Validating webhook deliveries".
    assert sign(b"Hello, World!", "It's a Secret to Everybody") == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


def test_body_of_is_compact_json_that_round_trips() -> None:
    payload = load_payload("ping")
    body = body_of(payload)
    assert b": " not in body[:50]
    assert json.loads(body) == payload
