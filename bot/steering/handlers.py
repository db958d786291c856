"""What a worker does with each command of a delivery (the intake only stored it).

Each handler is idempotent for its delivery: a delivery is claimed once (store), a run is created
once per issue (store's active-run key), and comments are found by marker before being written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.github.client import InstallationClient
from bot.jobs.queue import TaskQueue
from bot.observe.progress import post_progress
from bot.policy.decide import Policy, load_default_policy
from bot.run import artifacts
from bot.run.intents import (
    CiFailed,
    Intent,
    IntentResult,
    Intents,
    ReleaseGate,
)
from bot.run.states import Status
from bot.shared.config import Settings
from bot.steering.commands import (
    CheckSuiteCompleted,
    Command,
    CommentCommand,
    InstallationChanged,
    Mention,
    RepoRef,
    ReviewComment,
    ReviewSubmitted,
    StartRun,
)
from bot.steering.mentions import RunRequest, handle_mention
from bot.steering.ratelimit import RateLimiter
from bot.steering.replies import (
    NOT_A_WRITER,
    RATE_LIMITED_COMMANDS,
    RATE_LIMITED_MARKER,
    RATE_LIMITED_RUN,
    RATE_LIMITED_SENDER,
)
from bot.steering.reviews import review_feedback
from bot.steering.trigger_label import repo_trigger_label
from bot.steering.verbs import MissingArgument, help_text, intent_for
from bot.store.runs import Store
from bot.store.tables import Run
from bot.store.vocabulary import DeliveryState, EventKind, github_event_kind

logger = logging.getLogger(__name__)

BOT_LOGIN = "draftsmith[bot]"
MAX_CI_REPAIRS = 1


@dataclass(frozen=True)
class Outcome:
    """How a delivery was handled: `processed` or `ignored`, and why."""

    status: DeliveryState
    detail: str


GitHubFor = Callable[[RepoRef], InstallationClient]


class Handlers:
    """Executes commands; `github_for` gives a client scoped to the command's repository."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        queue: TaskQueue,
        github_for: GitHubFor,
        policy: Policy | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.queue = queue
        self.github_for = github_for
        self._policy = policy

    @property
    def limiter(self) -> RateLimiter:
        """Rate limits of the built-in policy (repositories cannot change them)."""
        if self._policy is None:
            self._policy = load_default_policy()
        return RateLimiter(self.store, self._policy)

    def handle(self, command: Command, delivery_id: str) -> Outcome:
        """Dispatch one command."""
        if isinstance(command, StartRun):
            return self.start_run(command, delivery_id)
        if isinstance(command, CommentCommand):
            return self.comment_command(command, delivery_id)
        if isinstance(command, Mention):
            return self.mention(command, delivery_id)
        if isinstance(command, ReviewSubmitted | ReviewComment | CheckSuiteCompleted):
            return self.pull_request_event(command)
        return self.installation(command)

    # runs ---------------------------------------------------------------------------------
    def trigger_label(self, gh: InstallationClient, repo: RepoRef, issue: int) -> str:
        """The repository's trigger label (its config, else the global one); bad config reported."""
        return repo_trigger_label(gh, repo, issue, self.settings.trigger_label)

    def start_run(self, command: StartRun, delivery_id: str) -> Outcome:
        """Start a run when the label is the trigger label; one active run per issue."""
        gh = self.github_for(command.repo)
        trigger = self.trigger_label(gh, command.repo, command.issue_number)
        if command.label != trigger:
            return Outcome(
                DeliveryState.ignored, f"label {command.label!r} is not the trigger {trigger!r}"
            )
        asked = RunRequest(
            command.repo,
            command.issue_number,
            title=command.title,
            request=command.body,
            sender=command.sender.login,
            delivery_id=delivery_id,
            started_by=f"the new `{trigger}` label",
        )
        return self.open_run(gh, asked)

    def open_run(self, gh: InstallationClient, asked: RunRequest) -> Outcome:
        """Create and queue an issue's run (rate-limited; one active run per issue)."""
        repo, issue_number, delivery_id = asked.repo, asked.issue_number, asked.delivery_id
        verdict = self.limiter.run(repo.installation_id)
        if not verdict.allowed:
            limit = self.limiter.policy.max_runs_per_hour_per_installation
            gh.upsert_comment(
                repo.full_name,
                issue_number,
                RATE_LIMITED_MARKER,
                RATE_LIMITED_RUN.format(limit=limit),
            )
            return Outcome(DeliveryState.ignored, f"rate-limited: {verdict.detail}")
        run, created = self.store.create_run(
            repo=repo.full_name,
            issue_number=issue_number,
            clone_url=repo.clone_url,
            title=asked.title,
            request=asked.request,
            installation_id=repo.installation_id,
            requested_by=asked.sender,
            delivery_id=delivery_id,
        )
        if not created and delivery_id and run.delivery_id == delivery_id:
            # This very delivery created the run and its worker died: finish what it started.
            self.post_progress(gh, run)
            self.queue.enqueue_run(run.id)
            return Outcome(DeliveryState.processed, f"run {run.id} resumed after a worker stopped")
        if not created:
            gh.create_comment(
                repo.full_name,
                issue_number,
                f"Draftsmith is already working on this issue (run `{run.id}`, phase "
                f"`{run.phase}`); {asked.started_by} started nothing. Use "
                "`/draftsmith stop` or `/draftsmith retry` to steer it.",
            )
            return Outcome(DeliveryState.processed, f"run {run.id} already active")
        self.post_progress(gh, run)
        self.queue.enqueue_run(run.id)
        logger.info("run created", extra={"run_id": run.id, "delivery_id": delivery_id})
        return Outcome(DeliveryState.processed, f"run {run.id} created")

    def post_progress(self, gh: InstallationClient, run: Run) -> None:
        """Create or edit the run's one progress comment."""
        post_progress(self.store, gh, run)

    # steering -----------------------------------------------------------------------------
    def comment_command(self, command: CommentCommand, delivery_id: str = "") -> Outcome:
        """A `/draftsmith` command: rate-limited, writers only, acknowledged, then acted on.

        Write access is asked of GitHub when the command is executed, not when it arrived, so
        a person removed from the repository in between is refused.
        """
        gh = self.github_for(command.repo)
        repo, number = command.repo.full_name, command.issue_number
        if (refused := self.admit(gh, command, delivery_id)) is not None:
            return refused
        intent = intent_for(command.verb, command.sender.login, command.argument)
        if intent is None:
            gh.create_comment(repo, number, help_text())
            return Outcome(DeliveryState.processed, "help")
        run = (
            self.store.run_for_pr(repo, number) if command.is_pull_request else None
        ) or self.store.latest_run_for(repo, number)
        if run is None:
            gh.create_comment(
                repo,
                number,
                f"There is no Draftsmith run for #{number}. Label the issue "
                f"`{self.settings.trigger_label}` to start one.",
            )
            return Outcome(DeliveryState.ignored, "no run")
        if isinstance(intent, MissingArgument):
            gh.create_comment(repo, number, intent.reply)
            return Outcome(DeliveryState.ignored, f"{command.verb} without text")
        return self.send(gh, run, intent, reply_to=number)

    def send(
        self, gh: InstallationClient, run: Run, intent: Intent, reply_to: int | None = None
    ) -> Outcome:
        """Hand `intent` to the run core and tell people what it did (replies on `reply_to`,
        else on the run's issue)."""
        result: IntentResult = Intents(self.store).apply(run, intent)
        thread = reply_to if reply_to is not None else run.issue_number
        if result.reply and thread is not None:
            gh.create_comment(run.repo, thread, result.reply)
        if result.progress:
            self.post_progress(gh, result.run)
        if result.enqueue:
            self.queue.enqueue_run(run.id)
        return Outcome(
            DeliveryState.processed if result.applied else DeliveryState.ignored, result.detail
        )

    def mention(self, command: Mention, delivery_id: str) -> Outcome:
        """`@<app> <what>`: start a run for the issue, or revise the run that owns the PR."""
        handled = handle_mention(self, command, delivery_id)
        return Outcome(handled.status, handled.detail)

    def admit(
        self, gh: InstallationClient, command: CommentCommand | Mention, delivery_id: str
    ) -> Outcome | None:
        """Rate limits and write access of a steering comment; None when it may act (👀 added).

        The sender's own limit is checked first, without asking GitHub; then write access (a
        non-writer hears why once an hour); only then the installation's budget, which counts
        only commands that could act.
        """
        repo, number = command.repo.full_name, command.issue_number
        installation, login = command.repo.installation_id, command.sender.login
        mine = self.limiter.sender(installation, login, delivery_id)
        if not mine.allowed:
            if mine.reply:
                limit = self.limiter.policy.max_commands_per_hour_per_sender
                gh.create_comment(
                    repo, number, RATE_LIMITED_SENDER.format(login=login, limit=limit)
                )
            return Outcome(DeliveryState.throttled, f"rate-limited: {mine.detail}")
        if not gh.has_write_access(repo, login):
            if mine.count <= 1:
                gh.create_comment(repo, number, NOT_A_WRITER.format(login=login))
            return Outcome(DeliveryState.not_permitted, f"{login} has no write access")
        verdict = self.limiter.command(installation, delivery_id)
        if not verdict.allowed:
            if verdict.reply:
                limit = self.limiter.policy.max_commands_per_hour_per_installation
                gh.create_comment(repo, number, RATE_LIMITED_COMMANDS.format(limit=limit))
            return Outcome(DeliveryState.ignored, f"rate-limited: {verdict.detail}")
        gh.add_reaction(repo, command.comment_id, "eyes")
        return None

    def pull_request_event(
        self, command: ReviewSubmitted | ReviewComment | CheckSuiteCompleted
    ) -> Outcome:
        """Hand a review, line comment or check suite to the run that owns the pull request."""
        repo = command.repo.full_name
        numbers = (
            command.pr_numbers if isinstance(command, CheckSuiteCompleted) else [command.pr_number]
        )
        run = next(
            (r for r in (self.store.run_for_pr(repo, n) for n in numbers) if r is not None), None
        )
        if run is None:
            return Outcome(DeliveryState.ignored, "no Draftsmith run owns this pull request")
        self.store.add_event(
            run.id, github_event_kind(command.kind), "", command.model_dump(mode="json")
        )
        gh = self.github_for(command.repo)
        if isinstance(command, ReviewSubmitted):
            return self.review(gh, run, command)
        if isinstance(command, ReviewComment):
            return self.line_comment(gh, run, command)
        return self.check_suite(gh, run, command)

    def review(self, gh: InstallationClient, run: Run, command: ReviewSubmitted) -> Outcome:
        """An approval may release the gate; a writer's review becomes one revision, all of it.

        "Changes requested" always does; a commented review only when it addresses Draftsmith
        (`@<app>` in its text or in one of its comments). Its line comments go with it, one
        revision for the whole review; replies in a thread count only when they mention the App.
        """
        if command.state == "approved":
            return self.release_gate(gh, run, command)
        if command.state not in ("changes_requested", "commented"):
            return Outcome(DeliveryState.processed, f"{command.state} review recorded")
        login = command.sender.login
        if not gh.has_write_access(run.repo, login):
            return Outcome(DeliveryState.ignored, f"{login} has no write access")
        notes = gh.pulls.review_comments(run.repo, command.pr_number, command.review_id)
        feedback = review_feedback(command, notes, self.settings.app_slug)
        if isinstance(feedback, str):
            return Outcome(DeliveryState.processed, feedback)
        return self.send(gh, run, feedback)

    def line_comment(self, gh: InstallationClient, run: Run, command: ReviewComment) -> Outcome:
        """A line comment waits for its review (see `bot/steering/reviews.py`)."""
        where = f"{command.path}:{command.line}" if command.line else command.path
        waits = f"line comment on {where} waits for review {command.review_id}"
        return Outcome(DeliveryState.processed, waits)

    def release_gate(self, gh: InstallationClient, run: Run, command: ReviewSubmitted) -> Outcome:
        """Release a gated run when a code owner of the gated paths approves."""
        from bot.github.gate import release_on_review

        stored = artifacts.Artifacts(self.store, run.id)
        decision = stored.load(artifacts.DECISION)
        published = stored.load(artifacts.PUBLISHED)
        if run.status != Status.needs_approval or decision is None or published is None:
            return Outcome(DeliveryState.processed, "approval recorded; the run is not gated")
        outcome = release_on_review(
            gh,
            repo=run.repo,
            pr_number=command.pr_number,
            review_state=command.state,
            reviewer=command.sender.login,
            pr_author=command.author_login or "",
            bot_login=BOT_LOGIN,
            decision=decision,
            check_run_id=published.check_run_id,
            pr_node_id=published.pr_node_id,
            head_sha=run.head_sha,
            review_commit=command.head_sha,
        )
        if not outcome.released:
            self.store.add_event(run.id, EventKind.gate_kept, outcome.reason)
            return Outcome(DeliveryState.processed, f"gate kept: {outcome.reason}")
        return self.send(gh, run, ReleaseGate(command.sender.login))

    def check_suite(
        self, gh: InstallationClient, run: Run, command: CheckSuiteCompleted
    ) -> Outcome:
        """A failing CI run on the PR's head gets at most `MAX_CI_REPAIRS` repair revisions."""
        from bot.github.gate import repair_context

        if command.conclusion not in ("failure", "timed_out") or command.head_sha != run.head_sha:
            return Outcome(DeliveryState.processed, f"check suite {command.conclusion} recorded")
        repairs = len(self.store.events(run.id, EventKind.ci_repair))
        if repairs >= MAX_CI_REPAIRS:
            if run.pr_number is not None:
                gh.create_comment(
                    run.repo,
                    run.pr_number,
                    f"The repository's checks still fail after {repairs} repair attempt(s) by "
                    "Draftsmith; a person needs to look.",
                )
            return Outcome(DeliveryState.processed, "no repairs left")
        context = repair_context(gh, run.repo, command.check_suite_id)
        if not context:
            return Outcome(DeliveryState.processed, "no failing check runs found")
        return self.send(gh, run, CiFailed(str(command.check_suite_id), context))

    # installations ------------------------------------------------------------------------
    def installation(self, command: InstallationChanged) -> Outcome:
        """Keep the installations table in step with GitHub."""
        if command.action in ("installation.deleted", "installation.suspend"):
            self.store.deactivate_installation(command.installation_id)
        elif command.action == "installation.created":
            self.store.upsert_installation(
                command.installation_id,
                account_login=command.account_login,
                account_type=command.account_type,
                repositories=command.repos_added,
            )
        else:
            self.store.change_installation_repos(
                command.installation_id, added=command.repos_added, removed=command.repos_removed
            )
        return Outcome(DeliveryState.processed, command.action)
