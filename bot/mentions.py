"""`@draftsmith <what to do>` in a comment: a run on an issue, a revision on Draftsmith's PR.

The same rules as `/draftsmith` commands (`Handlers.admit`): rate-limited per installation with
one reply per window, people with write access only (readers get a polite refusal), bots never
reach here (routing ignores them), and a redelivered webhook is dropped at intake by its
delivery id, so it starts nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.commands import Mention
from bot.run.intents import Revise

if TYPE_CHECKING:
    from bot.handlers import Handlers, Outcome

NOT_OURS = (
    "This pull request was not opened by Draftsmith, so there is nothing for it to revise. "
    "Mention it on an issue to start a run."
)
SAY_WHAT = "Say what to change: `@{login} <what to change>`."


def mention_request(command: Mention) -> str:
    """The run's request: the issue, then the comment that asked for it."""
    asked = command.text or "(no further text: do what the issue asks)"
    return f"{command.issue_body}\n\nAsked by @{command.sender.login} in a comment:\n{asked}"


def handle_mention(handlers: Handlers, command: Mention, delivery_id: str) -> Outcome:
    """Start a run for the issue, or revise the Draftsmith run that owns the pull request."""
    from bot.handlers import Outcome

    gh = handlers.github_for(command.repo)
    repo, number = command.repo.full_name, command.issue_number
    if (refused := handlers.admit(gh, command, delivery_id)) is not None:
        return refused
    if command.is_pull_request:
        run = handlers.store.run_for_pr(repo, number)
        if run is None:
            gh.create_comment(repo, number, NOT_OURS)
            return Outcome("ignored", "pull request not opened by Draftsmith")
        if not command.text:
            login = handlers.settings.app_slug
            gh.create_comment(repo, number, SAY_WHAT.format(login=login))
            return Outcome("ignored", "mention without text on a pull request")
        return handlers.send(gh, run, Revise(command.sender.login, command.text), reply_to=number)
    return handlers.open_run(
        gh,
        command.repo,
        number,
        title=command.issue_title,
        request=mention_request(command),
        sender=command.sender.login,
        delivery_id=delivery_id,
        started_by="the mention",
    )
