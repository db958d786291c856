"""Steering in one room: every way a person steers a run, and the intent each becomes.

| what a person does                              | intent (bot/run/intents.py)            |
| ----------------------------------------------- | -------------------------------------- |
| `/draftsmith revise <what>` (comment)           | `Revise`: a new revision               |
| `/draftsmith retry`                             | `Retry`: resume from the stored work   |
| `/draftsmith stop`                              | `Stop`                                 |
| `/draftsmith approve-plan` (or `approve`)       | `ApprovePlan`                          |
| `/draftsmith` or `/draftsmith help`             | the help text below, no intent         |
| `@draftsmith <what>` on an issue                | a new run (`steering/mentions.py`)     |
| `@draftsmith <what>` on Draftsmith's PR         | `Revise`                               |
| a changes-requested review, a line comment      | `Feedback` (`steering/handlers.py`)    |
| a code owner's approving review of a gated run  | `ReleaseGate`                          |

`VERBS` is the one table of comment commands: parsing (`parse_comment_command`, used by the
intake), the handler (`intent_for`) and the help text (`help_text`) all read it. Only people with
write access may steer; the handlers check that before asking for an intent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from bot.run.intents import ApprovePlan, Intent, Retry, Revise, Stop
from bot.security.markdown_read import own_words


class Verb(StrEnum):
    """The verb of a `/draftsmith <verb>` comment."""

    revise = "revise"
    retry = "retry"
    stop = "stop"
    approve_plan = "approve-plan"
    help = "help"


@dataclass(frozen=True)
class VerbSpec:
    """One comment command: how it is written, what it does, and the intent it becomes."""

    usage: str
    does: str
    intent: Callable[[str, str], Intent] | None  # (author, argument); None: answered with help
    aliases: tuple[str, ...] = ()
    needs_argument: str | None = None  # the reply when the argument it needs is missing


VERBS: dict[Verb, VerbSpec] = {
    Verb.revise: VerbSpec(
        "/draftsmith revise <what to change>",
        "a new revision on the same branch",
        lambda author, text: Revise(author, text),
        needs_argument="Say what to change: `/draftsmith revise <what>`.",
    ),
    Verb.retry: VerbSpec(
        "/draftsmith retry",
        "run a stopped or failed run again from where it stopped",
        lambda author, _: Retry(author),
    ),
    Verb.stop: VerbSpec("/draftsmith stop", "stop the run", lambda author, _: Stop(author)),
    Verb.approve_plan: VerbSpec(
        "/draftsmith approve-plan",
        "let a run waiting on its plan write code",
        lambda author, _: ApprovePlan(author),
        aliases=("approve",),
    ),
    Verb.help: VerbSpec("/draftsmith help", "this list", None),
}

COMMAND_RE = re.compile(r"^[ \t]*/draftsmith(?:[ \t]+(?P<verb>[\w-]+))?(?P<rest>.*)$", re.M | re.S)
_BY_SPELLING = {
    spelling: verb for verb, spec in VERBS.items() for spelling in (verb.value, *spec.aliases)
}


def parse_comment_command(body: str) -> tuple[Verb, str] | None:
    """The verb and argument of the first `/draftsmith` line of a comment, or None.

    An unknown verb is answered with help, carrying the word that was not understood.
    """
    match = COMMAND_RE.search(body)
    if match is None:
        return None
    word = (match.group("verb") or "").lower().replace("_", "-")
    if not word:
        return Verb.help, ""
    verb = _BY_SPELLING.get(word)
    if verb is None:
        return Verb.help, word
    return verb, "" if verb is Verb.help else match.group("rest").strip()


def help_text() -> str:
    """The reply to `/draftsmith help`, from the table."""
    lines = [f"- `{spec.usage}`: {spec.does}" for verb, spec in VERBS.items() if verb != Verb.help]
    return "Draftsmith commands (people with write access only):\n" + "\n".join(lines)


@dataclass(frozen=True)
class MissingArgument:
    """The command needs text it did not get; `reply` says what to write."""

    reply: str


def intent_for(verb: Verb, author: str, argument: str) -> Intent | MissingArgument | None:
    """The intent a comment command becomes; None for help (answered, no intent)."""
    spec = VERBS[verb]
    if spec.intent is None:
        return None
    if spec.needs_argument is not None and not argument:
        return MissingArgument(spec.needs_argument)
    return spec.intent(author, argument)


def parse_mention(body: str, login: str) -> str | None:
    """The comment without its `@login` mention, or None when it does not mention `login`.

    A mention inside a quote (`> ...`), code or HTML (a comment) does not count, read as GitHub
    renders the comment: quoting someone who mentioned the App must not start a second run.
    """
    pattern = re.compile(rf"(?<![\w@/.-])@{re.escape(login)}(?![\w-])", re.I)
    if pattern.search(own_words(body)) is None:
        return None
    return re.sub(r"[ \t]{2,}", " ", pattern.sub("", body)).strip()
