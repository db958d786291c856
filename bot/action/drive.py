"""`draftsmith action`: one workflow event handled as the App handles its webhook, then every
run it touched worked to its end in this process (no server, no queue daemon).

The event (read by `webhooks/action_event.py`) is stored as a delivery and handed to the same
`Runtime.handle_delivery` and `Runtime.advance` a worker runs, through a huey queue kept in
memory that this module drains itself: tasks run in order, a delayed one (a run waiting for the
model endpoint, or held by a concurrency cap) after its delay. GitHub is reached with one token
(`TokenGateway`), the sandbox is the runner's own machine.

State between workflow runs: the run store is a SQLite file that the workflow restores before
this step and saves after it (actions/cache, keyed by repository and issue or PR number: see
the README). What was not carried fails here, loudly (`StateNotCarried`), never starts over.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from huey import MemoryHuey
from pydantic import SecretStr
from rich.console import Console

from bot.github.client import TokenGateway
from bot.jobs.queue import TaskQueue
from bot.observe.progress import marker
from bot.run.states import ACTIVE
from bot.runtime import Runtime
from bot.runtime.local import EXIT_CODES, check_model
from bot.shared.config import Settings
from bot.shared.errors import ConfigError, DraftsmithError
from bot.steering.commands import (
    Command,
    CommentCommand,
    InstallationChanged,
    Mention,
    ReviewComment,
    ReviewSubmitted,
    StartRun,
    dump_command,
)
from bot.store.runs import Store
from bot.store.tables import Run
from bot.store.vocabulary import DeliveryState

logger = logging.getLogger(__name__)

PROGRESS_MARKER = marker(0).replace("0 -->", "")  # `<!-- draftsmith:run:` of any run
REFUSED = (DeliveryState.not_permitted, DeliveryState.throttled)


class StateNotCarried(DraftsmithError):
    """The event steers a run whose state is not in this workflow run's store."""


@dataclass(frozen=True)
class ActionRequest:
    """What the workflow's event asks, read from its event file (`webhooks/action_event.py`)."""

    event: str
    repo: str
    sender: str
    delivery_id: str
    command: Command | None
    ignored: str = ""
    draftsmith_pr: int | None = None
    """The PR's number when the event is on a pull request Draftsmith opened."""


@dataclass
class ActionOutcome:
    """How the event was handled and the runs it touched; `code` is the process's exit code."""

    code: int
    detail: str
    runs: list[Run] = field(default_factory=list)

    def outputs(self) -> dict[str, str]:
        """The step's outputs (`$GITHUB_OUTPUT`): what the workflow keys the saved store by."""
        run = self.runs[-1] if self.runs else None
        return {
            "outcome": self.detail,
            "run-id": str(run.id) if run else "",
            "status": run.status if run else "",
            "issue-number": str(run.issue_number or "") if run else "",
            "pr-number": str(run.pr_number or "") if run else "",
        }


def store_place(database_url: str) -> str:
    """Where the run store is, for people: the SQLite file, never a URL's password."""
    if database_url.startswith("sqlite:///"):
        return f"the run store {Path(database_url.removeprefix('sqlite:///')).resolve()}"
    return "the run store (DRAFTSMITH_DATABASE_URL)"


def check_state_carried(
    store: Store, request: ActionRequest, gateway: TokenGateway, where: str
) -> None:
    """StateNotCarried when the event steers a run GitHub shows but the store does not hold:
    on a pull request Draftsmith opened, or a `/draftsmith` command on an issue that carries a
    run's progress comment."""
    if request.command is None:
        return
    hint = (
        "restore the store before this step as the README's example workflow does "
        "(actions/cache/restore of the database file, keyed by the issue or PR number) and "
        "save it after, with `if: always()`; nothing was started over"
    )
    if request.draftsmith_pr is not None:
        if store.run_for_pr(request.repo, request.draftsmith_pr) is None:
            raise StateNotCarried(
                f"pull request #{request.draftsmith_pr} was opened by Draftsmith, but {where} "
                "holds no run for it: the run's state was not carried to this workflow run",
                hint,
            )
        return
    command = request.command
    if not isinstance(command, CommentCommand) or command.is_pull_request:
        return
    number = command.issue_number
    if store.latest_run_for(request.repo, number) is not None:
        return
    gh = gateway.installation(command.repo.installation_id or 0, [request.repo])
    if gh.find_comment(request.repo, number, PROGRESS_MARKER) is not None:
        raise StateNotCarried(
            f"issue #{number} has a Draftsmith run (its progress comment), but {where} "
            "holds none: the run's state was not carried to this workflow run",
            hint,
        )


class Drain:
    """Runs the in-memory queue's tasks until none is left, waiting out delayed ones."""

    def __init__(self, huey: MemoryHuey, runtime: Runtime, console: Console) -> None:
        self.huey, self.runtime, self.console = huey, runtime, console
        self.touched: dict[int, None] = {}  # run ids in the order first advanced
        runtime.queue.bind(runtime.handle_delivery, self.advance, runtime.resume)

    def advance(self, run_id: int) -> None:
        """Advance one step, printing the phase it finished."""
        before = self.runtime.store.get_run(run_id)
        self.touched.setdefault(run_id, None)
        self.runtime.advance(run_id)
        after = self.runtime.store.get_run(run_id)
        if (after.phase, after.status) != (before.phase, before.status):
            self.console.print(
                f"  run {run_id}: {before.phase} done -> {after.phase} ({after.status})"
            )

    def tasks(self) -> Iterator[object]:
        """The next task to run, sleeping until a scheduled one is due; ends when none is left."""
        while True:
            task = self.huey.dequeue()
            if task is not None:
                yield task
                continue
            scheduled = self.huey.scheduled()
            if not scheduled:
                return
            due = min(t.eta for t in scheduled)
            wait = (due - datetime.now(UTC).replace(tzinfo=None)).total_seconds()
            if wait > 0:
                self.console.print(f"  waiting {wait:.0f}s for a delayed step (see the log)")
                time.sleep(wait)
            for ready in self.huey.read_schedule():
                self.huey.enqueue(ready)

    def run(self) -> None:
        """Every task, in order (huey logs a task that raised; its run's status tells)."""
        for task in self.tasks():
            self.huey.execute(task)


def action_settings(settings: Settings, env: Mapping[str, str]) -> Settings:
    """Settings inside a workflow: GitHub's own variables fill what DRAFTSMITH_* leave unset
    (`GITHUB_TOKEN`, `GITHUB_API_URL`), and the store and work directory go to the runner's
    temporary directory (`RUNNER_TEMP/draftsmith`), the place the workflow saves and restores."""
    update: dict[str, object] = {}
    if settings.github_token is None and env.get("GITHUB_TOKEN"):
        update["github_token"] = SecretStr(env["GITHUB_TOKEN"])
    if "DRAFTSMITH_GITHUB_API_URL" not in env and env.get("GITHUB_API_URL"):
        update["github_api_url"] = env["GITHUB_API_URL"]
    state = Path(env.get("RUNNER_TEMP") or ".") / "draftsmith"
    if "DRAFTSMITH_DATABASE_URL" not in env:
        update["database_url"] = f"sqlite:///{state / 'draftsmith.db'}"
    if "DRAFTSMITH_WORK_DIR" not in env:
        update["work_dir"] = state / "work"
    if "DRAFTSMITH_QUEUE_URL" not in env:  # not used (the queue is in memory), kept out of cwd
        update["queue_url"] = f"sqlite:///{state / 'queue.db'}"
    return settings.model_copy(update=update)


def gateway_for(settings: Settings) -> TokenGateway:
    """The token gateway of the action; ConfigError when no token was passed."""
    if settings.github_token is None:
        raise ConfigError(
            "no GitHub token: `draftsmith action` acts with the workflow's token",
            "set DRAFTSMITH_GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }} (or an App installation "
            "token) in the step's env; the action.yml does this from its github-token input",
        )
    return TokenGateway(
        settings.github_token.get_secret_value(),
        settings.github_api_url,
        app_id=settings.github_app_id,
    )


def run_action(settings: Settings, request: ActionRequest, console: Console) -> ActionOutcome:
    """Handle the event as the App would and work every run it touched to its end."""
    console.print(f"event: {request.event} on {request.repo} by {request.sender or '-'}")
    if request.command is None:
        console.print(f"nothing to do: {request.ignored}")
        return ActionOutcome(0, f"ignored: {request.ignored}")
    check_model(settings)
    gateway = gateway_for(settings)
    if settings.database_url.startswith("sqlite:///"):  # a fresh runner has no such folder
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    huey = MemoryHuey("draftsmith-action")
    runtime = Runtime.from_settings(settings, gateway=gateway, queue=TaskQueue(huey))
    runtime.store.migrate()
    check_state_carried(runtime.store, request, gateway, store_place(settings.database_url))
    command = request.command
    repo = None if isinstance(command, InstallationChanged) else command.repo
    fresh = runtime.store.record_delivery(
        request.delivery_id,
        event=request.event.partition(".")[0],
        action=request.event.partition(".")[2] or None,
        installation_id=repo.installation_id if repo else None,
        repo=request.repo,
        command=dump_command(command),
        outcome=DeliveryState.queued,
        sender=request.sender or None,
    )
    if not fresh:
        console.print(f"this workflow run's event ({request.delivery_id}) was handled before")
    drain = Drain(huey, runtime, console)
    runs, deliveries = runtime.recover()  # this event's delivery, and runs left unfinished
    logger.info("action: %d unfinished runs and %d deliveries queued", runs, deliveries)
    drain.run()
    addressed = _addressed_run(runtime.store, command)
    if addressed is not None:
        drain.touched.setdefault(addressed.id, None)
    return _outcome(runtime, request.delivery_id, list(drain.touched), console)


def _addressed_run(store: Store, command: Command) -> Run | None:
    """The run the event is about, advanced or not (a kept gate, a refused comment)."""
    if isinstance(command, ReviewSubmitted | ReviewComment):
        return store.run_for_pr(command.repo.full_name, command.pr_number)
    if isinstance(command, CommentCommand | Mention | StartRun):
        repo, number = command.repo.full_name, command.issue_number
        if not isinstance(command, StartRun) and command.is_pull_request:
            return store.run_for_pr(repo, number)
        return store.latest_run_for(repo, number)
    return None


def _outcome(
    runtime: Runtime, delivery_id: str, run_ids: list[int], console: Console
) -> ActionOutcome:
    outcome = _judge(runtime.store, delivery_id, run_ids)
    for run in outcome.runs:
        console.print(
            f"run {run.id}: status {run.status}"
            + (f" ({run.status_reason})" if run.status_reason else "")
            + (f"; pull request #{run.pr_number}" if run.pr_number else "")
        )
        evidence = runtime.engine.run_dir(run) / "evidence.md"
        if evidence.exists():
            console.print(f"  evidence: {evidence}")
    color = "red" if outcome.code == 2 else "yellow" if outcome.code else "green"
    console.print(f"[{color}]result:[/{color}] {outcome.detail} (exit {outcome.code})")
    return outcome


def _judge(store: Store, delivery_id: str, run_ids: list[int]) -> ActionOutcome:
    """The exit code: 0 handled (a run approved or gated, an event ignored or refused), 1 a run
    that did not converge, 2 the event failed or a run was left unfinished."""
    delivery = store.get_delivery(delivery_id)
    assert delivery is not None  # recorded above
    state, why = delivery.outcome, delivery.error or ""
    runs = [store.get_run(run_id) for run_id in run_ids]
    if state == DeliveryState.failed:
        return ActionOutcome(2, f"the event could not be handled: {why}", runs)
    if state in REFUSED:
        return ActionOutcome(0, f"refused: {why}", runs)
    unfinished = [run for run in runs if run.status in ACTIVE]
    if unfinished:
        return ActionOutcome(2, f"run {unfinished[0].id} did not finish", runs)
    codes = [EXIT_CODES.get(run.status, 2) for run in runs]
    return ActionOutcome(max(codes, default=0), f"{state}: {why}" if why else str(state), runs)


def write_outputs(outcome: ActionOutcome, path: Path | None) -> None:
    """Append the step's outputs to `$GITHUB_OUTPUT` (nothing outside a workflow)."""
    if path is None:
        return
    with path.open("a") as out:
        for key, value in outcome.outputs().items():
            out.write(f"{key}={value.replace(chr(10), ' ')}\n")
