"""`@draftsmith <what to do>` in a comment: a run on an issue, a revision on Draftsmith's PR.

`Handlers.mention` acts on it; this module holds what it says and the run's request.

The same rules as `/draftsmith` commands (`Handlers.admit`): rate-limited per installation with
one reply per window, people with write access only (readers get a polite refusal), bots never
reach here (routing ignores them), and a redelivered webhook is dropped at intake by its
delivery id, so it starts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.github.client import InstallationClient
from bot.run.intents import Intent, Revise
from bot.shared.config import Settings
from bot.steering.commands import Mention, RepoRef
from bot.store.runs import Store
from bot.store.tables import Run
from bot.store.vocabulary import DeliveryState


class Handled(Protocol):
    """How a command was handled (the handlers' `Outcome`)."""

    @property
    def status(self) -> DeliveryState:
        """`processed` or `ignored`."""
        ...

    @property
    def detail(self) -> str:
        """Why."""
        ...


@dataclass(frozen=True)
class RunRequest:
    """An issue's run to open: where, what was asked, by whom, and what asked for it."""

    repo: RepoRef
    issue_number: int
    title: str
    request: str
    sender: str
    delivery_id: str
    started_by: str
    """What started it, for the reply when a run is already active ("the mention")."""


@dataclass(frozen=True)
class Ignored:
    """A mention that did nothing, and why."""

    detail: str
    status: DeliveryState = DeliveryState.ignored


class MentionHandlers(Protocol):
    """What a mention needs of the handlers (`bot.steering.handlers.Handlers`)."""

    settings: Settings
    store: Store

    def github_for(self, repo: RepoRef) -> InstallationClient: ...

    def admit(
        self, gh: InstallationClient, command: Mention, delivery_id: str
    ) -> Handled | None: ...

    def open_run(self, gh: InstallationClient, asked: RunRequest) -> Handled: ...

    def send(
        self, gh: InstallationClient, run: Run, intent: Intent, reply_to: int | None = None
    ) -> Handled: ...


NOT_OURS = (
    "This pull request was not opened by Draftsmith, so there is nothing for it to revise. "
    "Mention it on an issue to start a run."
)
SAY_WHAT = "Say what to change: `@{login} <what to change>`."


def mention_request(command: Mention) -> str:
    """The run's request: the issue, then the comment that asked for it."""
    asked = command.text or "(no further text: do what the issue asks)"
    return f"{command.issue_body}\n\nAsked by @{command.sender.login} in a comment:\n{asked}"


def handle_mention(handlers: MentionHandlers, command: Mention, delivery_id: str) -> Handled:
    """Start a run for the issue, or revise the Draftsmith run that owns the pull request."""
    gh = handlers.github_for(command.repo)
    repo, number = command.repo.full_name, command.issue_number
    if (refused := handlers.admit(gh, command, delivery_id)) is not None:
        return refused
    if not command.is_pull_request:
        asked = RunRequest(
            command.repo,
            number,
            title=command.issue_title,
            request=mention_request(command),
            sender=command.sender.login,
            delivery_id=delivery_id,
            started_by="the mention",
        )
        return handlers.open_run(gh, asked)
    run = handlers.store.run_for_pr(repo, number)
    if run is None:
        gh.create_comment(repo, number, NOT_OURS)
        return Ignored("pull request not opened by Draftsmith")
    if not command.text:
        gh.create_comment(repo, number, SAY_WHAT.format(login=handlers.settings.app_slug))
        return Ignored("mention without text on a pull request")
    return handlers.send(gh, run, Revise(command.sender.login, command.text), reply_to=number)
