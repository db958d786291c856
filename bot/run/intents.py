"""Intents: what people, reviews and CI ask of a run; the run core decides what happens.

Handlers (comment commands, reviews, line comments, check suites) check *who* may ask (write
access, code ownership) and then send an intent here; `apply_intent` records it and makes the
move the transition table allows, and answers with an `IntentResult` saying what the handler
should tell people and whether the run must be queued. Handlers never write `status`/`phase`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.run.lifecycle import Lifecycle
from bot.run.ports import RunStore
from bot.run.states import ACTIVE, DELIVERED, Phase, Status
from bot.run.transitions import Move
from bot.shared.errors import ActiveRunConflict
from bot.store.tables import Run
from bot.store.vocabulary import EventKind


@dataclass(frozen=True)
class Stop:
    """`/draftsmith stop`."""

    author: str


@dataclass(frozen=True)
class Retry:
    """`/draftsmith retry`: resume a stopped or failed run from its stored work."""

    author: str


@dataclass(frozen=True)
class ApprovePlan:
    """`/draftsmith approve-plan`."""

    author: str


@dataclass(frozen=True)
class Revise:
    """`/draftsmith revise <text>`: a new revision with this feedback."""

    author: str
    text: str


@dataclass(frozen=True)
class Feedback:
    """A changes-requested review or a line comment on the draft PR: revision feedback."""

    author: str
    text: str
    source: str  # "review" | "review_comment"
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CiFailed:
    """The repository's CI failed on the PR's head: one repair revision."""

    suite: str
    context: str


@dataclass(frozen=True)
class ReleaseGate:
    """A code owner's approving review released the policy gate (checked by the handler)."""

    reviewer: str


Intent = Stop | Retry | ApprovePlan | Revise | Feedback | CiFailed | ReleaseGate


@dataclass(frozen=True)
class IntentResult:
    """What applying an intent did: `applied`, the run now, and what to tell people."""

    applied: bool
    run: Run
    detail: str
    reply: str | None = None  # a comment for the person who asked, when refused
    enqueue: bool = False  # the run must be queued for a worker
    progress: bool = False  # the progress comment must be updated


class Intents:
    """Applies intents to runs through the lifecycle."""

    def __init__(self, store: RunStore) -> None:
        self.store = store
        self.lifecycle = Lifecycle(store)
        self._apply: dict[type[Any], Callable[[Run, Any], IntentResult]] = {
            Stop: self._stop,
            Retry: self._retry,
            ApprovePlan: self._approve_plan,
            Revise: self._revise,
            Feedback: self._feedback,
            CiFailed: self._ci_failed,
            ReleaseGate: self._release_gate,
        }

    def apply(self, run: Run, intent: Intent) -> IntentResult:
        """Record `intent` on `run` and make the move it asks for, if the table allows it."""
        return self._apply[type(intent)](run, intent)

    def _stop(self, run: Run, intent: Stop) -> IntentResult:
        reason = f"stopped by @{intent.author}"
        moved = self.lifecycle.request(run.id, Move.stop, reason=reason)
        if moved is None:
            now = self.store.get_run(run.id)
            return IntentResult(
                False,
                now,
                "run already ended",
                reply=f"Run `{now.id}` has already ended ({now.status}).",
            )
        self.store.add_event(run.id, EventKind.stopped, reason, {"author": intent.author})
        return IntentResult(True, moved, f"run {run.id} stopped", progress=True)

    def _approve_plan(self, run: Run, intent: ApprovePlan) -> IntentResult:
        if not self.lifecycle.can(run, Move.approve_plan):
            reply = f"Run `{run.id}` has no plan waiting for approval."
            return IntentResult(False, run, "no plan waiting", reply=reply)
        self.store.add_event(
            run.id, EventKind.plan_approved, f"by @{intent.author}", {"author": intent.author}
        )
        moved = self.lifecycle.request(run.id, Move.approve_plan)
        if moved is None:
            return IntentResult(False, run, "no plan waiting", reply="The plan is not waiting.")
        return IntentResult(True, moved, f"plan of run {run.id} approved", enqueue=True)

    def _retry(self, run: Run, intent: Retry) -> IntentResult:
        status = run.status
        if status in ACTIVE:
            reply = f"Run `{run.id}` is still in progress ({run.phase})."
            return IntentResult(False, run, "run still active", reply=reply)
        if status in DELIVERED or run.phase == Phase.done:
            reply = (
                f"Run `{run.id}` finished ({run.status}); there is nothing to retry. Use "
                "`/draftsmith revise <what to change>` for a new revision."
            )
            return IntentResult(False, run, "run already finished", reply=reply)
        if status is Status.waiting:
            reply = f"Run `{run.id}` is waiting for `/draftsmith approve-plan`; nothing to retry."
            return IntentResult(False, run, "run waiting", reply=reply)
        return self._reopen(run, Move.retry, f"retry asked by @{intent.author}")

    def _revise(self, run: Run, intent: Revise) -> IntentResult:
        data = {"author": intent.author, "source": "comment"}
        self.store.add_event(run.id, EventKind.input, intent.text, data)
        return self._reopen(run, Move.reopen, f"revision asked by @{intent.author}")

    def _feedback(self, run: Run, intent: Feedback) -> IntentResult:
        data = {"author": intent.author, "source": intent.source, **intent.details}
        self.store.add_event(run.id, EventKind.input, intent.text, data)
        return self._reopen(run, Move.reopen, intent.reason)

    def _ci_failed(self, run: Run, intent: CiFailed) -> IntentResult:
        self.store.add_event(run.id, EventKind.ci_repair, f"suite {intent.suite}")
        self.store.add_event(
            run.id,
            EventKind.input,
            f"The repository's CI failed on the PR:\n{intent.context}",
            {"author": "ci", "source": "check_suite"},
        )
        return self._reopen(run, Move.reopen, "repair of failing CI")

    def _reopen(self, run: Run, move: Move, reason: str) -> IntentResult:
        """Hand an ended run back to work; on an active run the input waits for the coder."""
        if run.status in ACTIVE:
            return IntentResult(True, run, f"input recorded for active run {run.id}")
        try:
            # New feedback for the coder makes a new revision; a retry resumes where it stopped.
            moved = self.lifecycle.request(
                run.id, move, revision_step=1 if move is Move.reopen else 0
            )
        except ActiveRunConflict:
            reply = "Another Draftsmith run is active on this issue."
            return IntentResult(False, run, "another run active", reply=reply)
        if moved is None:  # it became active meanwhile: the input waits for the coder
            return IntentResult(True, run, f"input recorded for active run {run.id}")
        self.store.add_event(run.id, EventKind.reopened, reason)
        return IntentResult(
            True, moved, f"run {run.id} resumed at {moved.phase}", enqueue=True, progress=True
        )

    def _release_gate(self, run: Run, intent: ReleaseGate) -> IntentResult:
        reason = f"released by @{intent.reviewer}"
        moved = self.lifecycle.request(run.id, Move.release_gate, reason=reason)
        if moved is None:
            return IntentResult(False, run, "approval recorded; the run is not gated")
        self.store.add_event(run.id, EventKind.gate_released, reason)
        return IntentResult(True, moved, f"gate of run {run.id} {reason}", progress=True)


__all__ = [
    "ApprovePlan",
    "CiFailed",
    "Feedback",
    "Intent",
    "IntentResult",
    "Intents",
    "ReleaseGate",
    "Retry",
    "Revise",
    "Stop",
]
