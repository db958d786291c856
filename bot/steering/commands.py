"""Typed commands: what a webhook delivery asks Draftsmith to do.

The intake (`webhooks/routing.py`) turns a verified delivery into one of these and stores it with
the delivery; a worker executes it (`bot/steering/handlers.py`). Commands carry only what the
handler needs.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from bot.steering.verbs import Verb


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Actor(_Model):
    """The GitHub account that caused an event."""

    login: str
    id: int
    type: str = "User"


class RepoRef(_Model):
    """The repository an event is about."""

    full_name: str
    clone_url: str
    default_branch: str = "main"
    installation_id: int | None = None


class StartRun(_Model):
    """An issue got a label; if it is the repository's trigger label, start a run."""

    kind: Literal["start_run"] = "start_run"
    repo: RepoRef
    issue_number: int
    title: str
    body: str
    label: str
    sender: Actor


class CommentCommand(_Model):
    """A `/draftsmith <verb> [text]` comment on an issue or a pull request."""

    kind: Literal["comment_command"] = "comment_command"
    repo: RepoRef
    issue_number: int
    is_pull_request: bool
    comment_id: int
    verb: Verb
    argument: str = ""
    sender: Actor


class Mention(_Model):
    """A comment mentioning the App (`@draftsmith <what to do>`) on an issue or a pull request."""

    kind: Literal["mention"] = "mention"
    repo: RepoRef
    issue_number: int
    is_pull_request: bool
    comment_id: int
    issue_title: str
    issue_body: str
    text: str = Field(description="The comment with the mention taken out.")
    sender: Actor


class ReviewSubmitted(_Model):
    """A pull request review was submitted (approval, changes requested or comment)."""

    kind: Literal["review"] = "review"
    repo: RepoRef
    pr_number: int
    review_id: int
    state: str
    body: str
    head_sha: str | None
    author_login: str | None
    sender: Actor
    mentions_app: bool = False  # the review's own text addresses Draftsmith (`@<app>`)


class ReviewComment(_Model):
    """A comment on a line of a pull request's diff."""

    kind: Literal["review_comment"] = "review_comment"
    repo: RepoRef
    pr_number: int
    comment_id: int
    path: str
    line: int | None
    body: str
    sender: Actor
    review_id: int | None = None  # the review it belongs to (GitHub submits every one in one)
    in_reply_to: int | None = None  # a reply in a thread


class CheckSuiteCompleted(_Model):
    """The repository's own checks on a commit completed."""

    kind: Literal["check_suite"] = "check_suite"
    repo: RepoRef
    check_suite_id: int
    head_sha: str
    head_branch: str | None
    conclusion: str | None
    pr_numbers: list[int] = Field(default_factory=list)
    app_slug: str | None = None


class InstallationChanged(_Model):
    """The App was installed, removed, or its repositories changed."""

    kind: Literal["installation"] = "installation"
    action: str
    installation_id: int
    account_login: str
    account_type: str
    repos_added: list[str] = Field(default_factory=list)
    repos_removed: list[str] = Field(default_factory=list)


Command = Annotated[
    StartRun
    | CommentCommand
    | Mention
    | ReviewSubmitted
    | ReviewComment
    | CheckSuiteCompleted
    | InstallationChanged,
    Field(discriminator="kind"),
]
COMMAND_ADAPTER: TypeAdapter[Command] = TypeAdapter(Command)


def dump_command(command: Command) -> str:
    """A command as the JSON stored with its delivery."""
    return command.model_dump_json()


def load_command(text: str) -> Command:
    """A command back from its stored JSON."""
    return COMMAND_ADAPTER.validate_json(text)
