"""Routing of real GitHub payloads into commands."""

from __future__ import annotations

import pytest

from bot.steering.commands import (
    CheckSuiteCompleted,
    CommentCommand,
    InstallationChanged,
    Mention,
    ReviewComment,
    ReviewSubmitted,
    StartRun,
    dump_command,
    load_command,
)
from tests.helpers.payloads import load_payload
from webhooks.routing import Ignored, MalformedPayload, Pong, parse_comment_command, route

INSTALL = {"installation": {"id": 4242}}


def test_ping_is_answered() -> None:
    assert isinstance(route("ping", load_payload("ping")), Pong)


def test_labeled_issue_starts_a_run_with_the_label_and_repository() -> None:
    payload = load_payload("issues.labeled", label={"name": "draftsmith"}, **INSTALL)
    command = route("issues", payload)
    assert isinstance(command, StartRun)
    assert command.label == "draftsmith"
    assert command.issue_number == payload["issue"]["number"]
    assert command.repo.full_name == payload["repository"]["full_name"]
    assert command.repo.clone_url == payload["repository"]["clone_url"]
    assert command.repo.installation_id == 4242
    assert load_command(dump_command(command)) == command


@pytest.mark.parametrize(
    ("body", "verb", "argument"),
    [
        ("/draftsmith revise use a dataclass", "revise", "use a dataclass"),
        ("Thanks!\n/draftsmith retry", "retry", ""),
        ("/draftsmith stop", "stop", ""),
        ("/draftsmith approve-plan", "approve-plan", ""),
        ("/draftsmith frobnicate", "help", "frobnicate"),
        ("/draftsmith", "help", ""),
    ],
    ids=["revise-with-text", "retry-after-text", "stop", "approve-plan", "unknown-verb", "bare"],
)
def test_comment_commands_are_parsed(body: str, verb: str, argument: str) -> None:
    payload = load_payload("issue_comment.created", **{"comment.body": body}, **INSTALL)
    command = route("issue_comment", payload)
    assert isinstance(command, CommentCommand)
    assert (command.verb, command.argument) == (verb, argument)
    assert command.comment_id == payload["comment"]["id"]


def test_comment_without_a_command_is_ignored() -> None:
    payload = load_payload("issue_comment.created", **{"comment.body": "looks good, thanks"})
    assert isinstance(route("issue_comment", payload), Ignored)


def test_mention_inside_a_sentence_is_not_a_command() -> None:
    assert parse_comment_command("please do not run /draftsmith stop here") is None


@pytest.mark.parametrize(
    ("body", "text"),
    [
        pytest.param("@draftsmith add a mul function", "add a mul function", id="leading"),
        pytest.param("Could @Draftsmith fix this?", "Could fix this?", id="inside-any-case"),
        pytest.param("@draftsmith", "", id="alone"),
        pytest.param(
            "> @draftsmith old\n\n@draftsmith new",
            "> old\n\n new",
            id="quoted-then-real",
        ),
    ],
)
def test_a_mention_of_the_app_becomes_a_mention_command(body: str, text: str) -> None:
    payload = load_payload("issue_comment.created", **{"comment.body": body})
    routed = route("issue_comment", payload, mention_login="draftsmith")
    assert isinstance(routed, Mention)
    assert routed.text == text
    assert routed.issue_body == payload["issue"]["body"]
    assert routed.is_pull_request is False
    assert load_command(dump_command(routed)) == routed


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("> @draftsmith do it", id="quoted"),
        pytest.param("run `@draftsmith fix` to start", id="inline-code"),
        pytest.param("```\n@draftsmith fix\n```", id="code-block"),
        pytest.param("~~~\n@draftsmith fix\n~~~", id="tilde-fence"),
        pytest.param("see:\n\n    @draftsmith fix\n", id="indented-code"),
        pytest.param("thanks <!-- @draftsmith fix -->", id="html-comment"),
        pytest.param("hi\n> > @draftsmith do it", id="nested-quote"),
        pytest.param("``@draftsmith `fix` it``", id="double-backtick-span"),
        pytest.param("@draftsmith-helper fix", id="another-account"),
        pytest.param("mail me at ops@draftsmith.dev", id="email"),
        pytest.param("@octo-draftsmith fix", id="suffix"),
    ],
)
def test_what_is_not_a_mention_of_the_app_is_ignored(body: str) -> None:
    payload = load_payload("issue_comment.created", **{"comment.body": body})
    assert isinstance(route("issue_comment", payload, mention_login="draftsmith"), Ignored)


def test_a_command_wins_over_a_mention_and_no_login_means_no_mention_trigger() -> None:
    payload = load_payload(
        "issue_comment.created", **{"comment.body": "@draftsmith hi\n/draftsmith stop"}
    )
    assert isinstance(route("issue_comment", payload, mention_login="draftsmith"), CommentCommand)
    plain = load_payload("issue_comment.created", **{"comment.body": "@draftsmith fix it"})
    assert isinstance(route("issue_comment", plain), Ignored)


def test_a_bot_mentioning_the_app_triggers_nothing() -> None:
    payload = load_payload(
        "issue_comment.created",
        sender={"login": "someone[bot]", "type": "Bot"},
        **{"comment.body": "@draftsmith fix it"},
    )
    routed = route("issue_comment", payload, mention_login="draftsmith")
    assert isinstance(routed, Ignored) and "bot" in routed.reason


@pytest.mark.parametrize(
    "event_name", ["issue_comment.created", "issues.labeled"], ids=["comment", "label"]
)
def test_a_bot_sender_never_triggers_anything(event_name: str) -> None:
    payload = load_payload(
        event_name,
        sender={"login": "someone[bot]", "type": "Bot"},
        label={"name": "draftsmith"},
        **{"comment.body": "/draftsmith retry"},
    )
    routed = route(event_name.split(".")[0], payload)
    assert isinstance(routed, Ignored) and "bot" in routed.reason


def test_a_comment_made_through_our_own_app_is_ignored_even_from_a_user_account() -> None:
    payload = load_payload(
        "issue_comment.created",
        **{"comment.body": "/draftsmith retry", "comment.performed_via_github_app": {"id": 77}},
    )
    assert isinstance(route("issue_comment", payload, app_id=77), Ignored)
    assert isinstance(route("issue_comment", payload, app_id=78), CommentCommand)


def test_a_user_whose_login_ends_in_bot_is_still_a_user() -> None:
    payload = load_payload(
        "issue_comment.created",
        sender={"login": "mallory[bot]", "type": "User"},
        **{"comment.body": "/draftsmith stop"},
    )
    assert isinstance(route("issue_comment", payload), CommentCommand)


def test_review_comment_and_review_and_check_suite_become_commands() -> None:
    review = route("pull_request_review", load_payload("pull_request_review.submitted"))
    assert isinstance(review, ReviewSubmitted) and review.pr_number > 0
    comment = route(
        "pull_request_review_comment", load_payload("pull_request_review_comment.created")
    )
    assert isinstance(comment, ReviewComment) and comment.path
    suite = route("check_suite", load_payload("check_suite.completed"))
    assert isinstance(suite, CheckSuiteCompleted) and len(suite.head_sha) == 40


@pytest.mark.parametrize(
    "name",
    [
        "installation.created",
        "installation.deleted",
        "installation_repositories.added",
        "installation_repositories.removed",
    ],
)
def test_installation_events_update_installations(name: str) -> None:
    payload = load_payload(name)
    command = route(name.split(".")[0], payload)
    assert isinstance(command, InstallationChanged)
    assert command.installation_id == payload["installation"]["id"]
    if name == "installation_repositories.added":
        assert command.repos_added == [r["full_name"] for r in payload["repositories_added"]]
    if name == "installation_repositories.removed":
        assert command.repos_removed == [r["full_name"] for r in payload["repositories_removed"]]


@pytest.mark.parametrize(
    ("event", "name"),
    [("issues", "issues.opened"), ("pull_request", "pull_request.opened")],
    ids=["unhandled-action", "unhandled-event"],
)
def test_unhandled_events_are_ignored(event: str, name: str) -> None:
    assert isinstance(route(event, load_payload(name)), Ignored)


def test_a_payload_missing_required_fields_is_malformed() -> None:
    payload = load_payload("issues.labeled")
    del payload["issue"]
    with pytest.raises(MalformedPayload, match="issues payload"):
        route("issues", payload)
