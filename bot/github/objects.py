"""The GitHub objects Draftsmith reads, each with only the fields it uses (`bot.github.answers`).

A field GitHub may omit or null on some servers and that Draftsmith can do without has a default;
the others are required, and their absence fails the call with the field's name. `Publication`
is what a run asks to publish; `Published` is what publishing it left on GitHub (stored as the
run's `published` artifact).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.github.answers import Answer
from bot.policy.decide import Decision
from bot.shared.contracts import PullRequestDraft, ReviewResult


class Account(Answer):
    """A user, bot or organization, by login."""

    login: str


class App(Answer):
    """A GitHub App (GET /app)."""

    id: int
    slug: str | None = None


class Repository(Answer):
    """A repository: where to clone it and its default branch."""

    full_name: str
    default_branch: str
    clone_url: str


class Permission(Answer):
    """A collaborator's permission on a repository."""

    permission: str
    role_name: str | None = None


class Membership(Answer):
    """A team membership."""

    state: str


class Comment(Answer):
    """An issue or pull-request comment."""

    id: int
    body: str | None = None
    html_url: str | None = None


class Review(Answer):
    """A pull-request review: by whom (null for a deleted account), its state, of which commit."""

    user: Account | None = None
    state: str
    commit_id: str | None = None


class ReviewComment(Answer):
    """A line comment of a review (`line` is absent from older servers' answers)."""

    path: str
    line: int | None = None
    original_line: int | None = None
    body: str = ""
    in_reply_to_id: int | None = None


class ContentFile(Answer):
    """A file of the contents API (`type` says whether it is a file at all)."""

    type: str
    encoding: str | None = None
    content: str | None = None


class Branch(Answer):
    """A pull request's head or base (`repo` is null once a fork is deleted)."""

    ref: str
    sha: str | None = None


class PullRequest(Answer):
    """A pull request, as listed or in full."""

    number: int
    state: str
    html_url: str
    node_id: str
    title: str | None = None
    body: str | None = None
    draft: bool | None = None
    head: Branch | None = None


class CheckOutput(Answer):
    """A check run's output."""

    title: str | None = None
    summary: str | None = None
    text: str | None = None
    annotations_count: int = 0


class CheckRun(Answer):
    """A check run."""

    id: int
    name: str
    head_sha: str | None = None
    status: str
    conclusion: str | None = None
    output: CheckOutput = CheckOutput()


class CheckRunList(Answer):
    """A page of check runs."""

    check_runs: list[CheckRun]


class CheckAnnotation(Answer):
    """An annotation of a check run."""

    path: str
    start_line: int
    annotation_level: str | None = None
    message: str | None = None


class HookDelivery(Answer):
    """One delivery of the App's webhook."""

    id: int
    guid: str
    delivered_at: datetime
    status: str
    status_code: int
    event: str | None = None
    action: str | None = None


class Via(StrEnum):
    """How the branch reached GitHub."""

    git_data_api = "git-data-api"
    git_push = "git-push"


@dataclass(frozen=True)
class Publication:
    """What a run asks to publish: its branch and draft PR, against which base, decided how."""

    repo: str
    """The repository, `owner/name`."""
    clone_url: str
    """Where git pushes the branch when the Git Data API cannot make its commits."""
    draft: PullRequestDraft
    """The draft PR: branch, title, body and labels."""
    issue_number: int
    """The issue the PR closes."""
    base_branch: str
    """The branch the PR targets."""
    existing_pr: int | None
    """The run's PR from an earlier revision, updated rather than opened again."""
    decision: Decision
    """The policy's decision: a blocked one publishes nothing, a gated one labels the PR."""
    review: ReviewResult | None
    """The review whose issues annotate the check run."""
    head_sha: str | None = None
    """The workspace's commit to publish (default: its HEAD)."""
    changed_paths: Sequence[str] | None = None
    """The paths whose owners review the PR (default: the diff with `origin/<base_branch>`)."""
    author: str | None = None
    """Who asked for the change; never requested as a reviewer."""
    bot_login: str | None = None
    """The App's own login; never requested as a reviewer."""
    run_id: int | None = None
    """The run, as the check run's external id."""
    incomplete: str | None = None
    """Why the run stopped early: the check run then asks for action instead of passing."""
    base_sha: str | None = None
    """What the branch's first commit builds on (default: the merge base with the base branch)."""


@dataclass(frozen=True)
class Published:
    """What publishing left on GitHub: the pull request, its check run and requested reviewers."""

    pr_number: int
    pr_url: str
    pr_node_id: str
    check_run_id: int
    created: bool
    reviewers_requested: list[str] = field(default_factory=list)
    head_sha: str = ""
    """The branch's head on GitHub (GitHub's own commit when made through the API)."""
    via: str = Via.git_push.value
    """How the commits reached GitHub: `git-data-api` (signed by GitHub) or `git-push`."""
