"""The verb table: parsing, the help text and the intents all come from `VERBS`."""

from __future__ import annotations

import pytest

from bot.run.intents import ApprovePlan, Retry, Revise, Stop
from bot.steering.verbs import (
    VERBS,
    MissingArgument,
    Verb,
    help_text,
    intent_for,
    parse_comment_command,
)


@pytest.mark.parametrize(
    ("body", "parsed"),
    [
        ("/draftsmith revise use a dataclass", (Verb.revise, "use a dataclass")),
        ("/draftsmith approve", (Verb.approve_plan, "")),
        ("/draftsmith approve_plan", (Verb.approve_plan, "")),
        ("/Draftsmith STOP", None),
        ("/draftsmith STOP", (Verb.stop, "")),
        ("/draftsmith", (Verb.help, "")),
        ("/draftsmith frobnicate", (Verb.help, "frobnicate")),
    ],
    ids=[
        "revise",
        "approve-alias",
        "underscore",
        "case-of-prefix",
        "case-of-verb",
        "bare",
        "unknown",
    ],
)
def test_comments_parse_to_a_verb_of_the_table(body: str, parsed: tuple[Verb, str] | None) -> None:
    assert parse_comment_command(body) == parsed


def test_the_help_text_lists_every_verb_of_the_table_and_nothing_else() -> None:
    text = help_text()
    listed = [line for line in text.splitlines() if line.startswith("- ")]
    assert len(listed) == len(VERBS) - 1
    for verb, spec in VERBS.items():
        assert (f"`{spec.usage}`" in text) == (verb is not Verb.help)


@pytest.mark.parametrize(
    ("verb", "argument", "intent"),
    [
        (Verb.revise, "smaller", Revise("ana", "smaller")),
        (Verb.retry, "", Retry("ana")),
        (Verb.stop, "ignored words", Stop("ana")),
        (Verb.approve_plan, "", ApprovePlan("ana")),
        (Verb.help, "", None),
    ],
    ids=lambda v: str(v),
)
def test_each_verb_becomes_its_intent(verb: Verb, argument: str, intent: object) -> None:
    assert intent_for(verb, "ana", argument) == intent


def test_revise_without_text_says_what_to_write() -> None:
    missing = intent_for(Verb.revise, "ana", "")
    assert isinstance(missing, MissingArgument) and "/draftsmith revise <what>" in missing.reply
