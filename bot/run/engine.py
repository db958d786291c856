"""The engine: `advance(run_id)` performs the run's current step and makes the move it returns.

The order is: start (queued -> running), open the context (clone, config, policy, model, guard),
check budgets, run the step while watching for a stop, record usage, make the step's move
through the lifecycle (only if the run is still where the step found it), then update the
progress comment. A budget that ends the run brings its work to GitHub (`bot/run/incomplete.py`).
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable
from pathlib import Path

from bot.observe.endings import crash_reason
from bot.observe.telemetry import phase_span, record_outcome, run_span
from bot.policy.decide import Policy, RepoConfig, load_default_policy, merge
from bot.run import artifacts, budgets
from bot.run.artifacts import Artifacts
from bot.run.checkout import open_workspace, repo_config
from bot.run.context import RunContext, Services, Step, StepResult, usage_dict
from bot.run.evidence import keep_best
from bot.run.guard import Spent, StepGuard
from bot.run.incomplete import publish_incomplete
from bot.run.lifecycle import Lifecycle
from bot.run.ports import GitHubEffects, Model, RunStore
from bot.run.states import TERMINAL, Status
from bot.run.steps import STEPS
from bot.run.transitions import Move, target
from bot.run.waiting import end_outage, plan_wait
from bot.sandbox.base import Limits, Sandbox
from bot.shared.config import Settings
from bot.shared.errors import (
    BudgetExhausted,
    ContractError,
    DraftsmithError,
    ModelUnavailable,
    RunStopped,
)
from bot.store.tables import Run, utcnow
from bot.store.vocabulary import EventKind

logger = logging.getLogger(__name__)

GIVE_UP_STATUSES = frozenset({Status.needs_human_review, Status.failed})
STOP_POLL_S = 0.5
"""How often a running step looks for a stop (a stop cancels model calls and kills commands)."""


class Engine:
    """Advances runs one step at a time; collaborators are passed in, built once."""

    def __init__(
        self,
        settings: Settings,
        store: RunStore,
        *,
        sandbox_factory: Callable[[], Sandbox],
        llm_factory: Callable[[RepoConfig | None], Model],
        on_progress: Callable[[Run], None] | None = None,
        github_for_run: Callable[[Run], GitHubEffects] | None = None,
        base_policy: Policy | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.services = Services(
            settings=settings,
            store=store,
            sandbox_factory=sandbox_factory,
            llm_factory=llm_factory,
            base_policy=base_policy or load_default_policy(),
            limits=limits or Limits(),
            github_for_run=github_for_run,
        )
        self.store = store
        self.lifecycle = Lifecycle(store)
        self.on_progress = on_progress

    def run_dir(self, run: Run) -> Path:
        """Where a run's clone and reports live."""
        return self.services.run_dir(run)

    def advance(self, run_id: int) -> Run:
        """Perform the run's current step, persist the result, and return the updated run."""
        run = self.store.get_run(run_id)
        if run.status in TERMINAL or run.status in (Status.waiting, Status.waiting_for_model):
            return run
        with run_span(run) as trace_:
            if run.trace_context is None and trace_.traceparent:
                run = self.store.update_run(run.id, trace_context=trace_.traceparent)
            with phase_span(run.id, run.phase, run.revision) as span:
                run, result = self._step(run)
                record_outcome(span, result.outcome, run.status)
        return run

    def _step(self, run: Run) -> tuple[Run, StepResult]:
        log = {"run_id": run.id, "phase": run.phase}
        if run.status == Status.queued:
            started = self.lifecycle.finish(run, Move.start)
            if started is None:  # stopped (or moved) before a worker got to it
                return self.store.get_run(run.id), StepResult(None, None, "not started")
            run = started
        phase_id = self.store.start_phase(run.id, run.phase, run.revision)
        ctx: RunContext | None = None
        try:
            ctx = self._context(run)
            result = self._perform(ctx)
        except RunStopped:
            result = StepResult(None, None, "stopped")
        except BudgetExhausted as exc:
            result = StepResult(Move.give_up, exc.message, "budget")
        except ModelUnavailable as exc:
            logger.warning("model endpoint unavailable: %s", exc, extra=log)
            result = plan_wait(self.store, run, exc, self.services.settings, utcnow())
        except ContractError as exc:
            result = StepResult(Move.give_up, exc.message, "invalid answer")
        except DraftsmithError as exc:
            logger.error("phase failed: %s", exc, extra=log)
            result = StepResult(Move.fail, str(exc), "error")
        except Exception as exc:  # a bug must end the run with a reason, not leave it running
            logger.exception("phase crashed", extra=log)
            self.store.put_artifact(run.id, "traceback", traceback.format_exc(), "text/plain")
            result = StepResult(Move.fail, crash_reason(run.phase, exc), "crash")
        self._record_usage(run, phase_id, ctx, result)
        if result.move is not Move.await_model:
            end_outage(self.store, run.id)
        result = self._send_back_or_give_up(run, ctx, result)
        # The progress comment before the move is persisted: a worker killed in between posts it
        # again when the step is repeated; after the move it would be lost.
        expected: tuple[str, str, str | None] | None = None
        if result.move is not None:
            phase, status = target(result.move, run.phase, run.status)
            expected = (phase, status, result.reason)
            self._progress(detached(run, phase=phase, status=status, status_reason=result.reason))
        moved = self._move(run, ctx, result)
        self.store.add_event(
            run.id,
            EventKind.phase,
            f"{log['phase']} -> {moved.phase} ({moved.status})",
            {"outcome": result.outcome, "reason": result.reason},
        )
        logger.info("phase %s done: now %s/%s", log["phase"], moved.phase, moved.status, extra=log)
        if (moved.phase, moved.status, moved.status_reason) != expected:  # e.g. stopped meanwhile
            self._progress(moved)
        return moved, result

    def _progress(self, run: Run) -> None:
        if self.on_progress is None:
            return
        try:
            self.on_progress(run)
        except DraftsmithError as exc:
            logger.warning("progress comment not updated: %s", exc, extra={"run_id": run.id})

    def _perform(self, ctx: RunContext) -> StepResult:
        exceeded = budgets.exceeded(ctx.run, ctx.policy.budgets, ctx.guard.attempt_started)
        if exceeded:
            return StepResult(Move.give_up, exceeded, "budget")
        step = STEPS.get(ctx.run.phase)
        if step is None:
            return StepResult(Move.fail, f"no step for phase {ctx.run.phase!r}", "error")
        ctx.guard.check(ctx.run)  # read by _context a moment ago
        return asyncio.run(self._watched(step, ctx))

    async def _watched(self, step: Step, ctx: RunContext) -> StepResult:
        """Run `step`, cancelling it (model calls, sandbox commands) as soon as a stop lands."""
        task = asyncio.create_task(step.run(ctx))
        while True:
            done, _ = await asyncio.wait({task}, timeout=STOP_POLL_S)
            if done:
                return task.result()
            if await asyncio.to_thread(self._stopped, ctx.run.id):
                task.cancel()
                await asyncio.wait({task})
                raise RunStopped(f"run {ctx.run.id} was stopped during {ctx.run.phase}")

    def _stopped(self, run_id: int) -> bool:
        return self.store.get_run(run_id).status == Status.stopped

    def _context(self, run: Run) -> RunContext:
        workspace = open_workspace(self.services, run)
        run = self.store.get_run(run.id)
        config = repo_config(self.store, run, workspace)
        base = self.services.base_policy
        policy = merge(base, config) if config else base
        llm = self.services.llm_factory(config)
        guard = StepGuard(
            store=self.store,
            run_id=run.id,
            budgets=policy.budgets,
            before=Spent(run.tokens_used, run.cost_usd, run.tool_calls),
            attempt_started=budgets.attempt_started(self.store, run),
            prices=llm.prices,
        )
        llm.guard = guard
        return RunContext(run, workspace, policy, config, llm, self.services, guard)

    def _record_usage(
        self, run: Run, phase_id: int, ctx: RunContext | None, result: StepResult
    ) -> None:
        usages = ctx.usages if ctx else []
        tokens = sum(u.total_tokens for u in usages)
        cost = sum(u.cost_usd for u in usages)
        if ctx is not None and (usages or ctx.tool_calls):
            self.store.add_usage(run.id, tokens=tokens, cost_usd=cost, tool_calls=ctx.tool_calls)
            for usage in usages:
                self.store.add_event(run.id, EventKind.model_call, usage.role, usage_dict(usage))
        if ctx is not None:
            for model in sorted(ctx.guard.unpriced):
                self._note_unpriced(run, model, ctx.policy.budgets.max_cost_usd)
        self.store.finish_phase(phase_id, result.outcome, tokens=tokens, cost_usd=cost)

    def _note_unpriced(self, run: Run, model: str, max_cost: float) -> None:
        """Say once per model that its cost is unknown and the token budget stands in."""
        if any(
            e.data.get("model") == model for e in self.store.events(run.id, EventKind.cost_unknown)
        ):
            return
        note = f"no price for model {model}: its cost is unknown"
        if max_cost > 0:
            note += f"; the cost budget (${max_cost:.2f}) falls back to the token budget"
        self.store.add_event(run.id, EventKind.cost_unknown, note, {"model": model})

    def _send_back_or_give_up(
        self, run: Run, ctx: RunContext | None, result: StepResult
    ) -> StepResult:
        """A revision only while revisions are left; its feedback is stored for the coder."""
        if result.move is not Move.send_back:
            return result
        limit = ctx.policy.budgets.max_revisions if ctx else 0
        if run.revision >= limit:
            why = result.outcome
            reason = f"{why}; no revisions left ({run.revision} of {limit})"
            return StepResult(Move.give_up, reason, why)
        assert result.feedback is not None
        Artifacts(self.store, run.id).save(artifacts.FEEDBACK, result.feedback, run.revision + 1)
        return result

    def _move(self, run: Run, ctx: RunContext | None, result: StepResult) -> Run:
        """Make the step's move; a run moved meanwhile (e.g. stopped) keeps its newer state."""
        move = result.move
        if move is None:
            return self.store.get_run(run.id)
        revision = run.revision + 1 if move is Move.send_back else None
        phase, status = target(move, run.phase, run.status)
        if status in GIVE_UP_STATUSES and ctx is not None:
            keep_best(self.services, ctx.run, phase, status, result.reason)
            if result.outcome == "budget":
                result = publish_incomplete(ctx, result)
        moved = self.lifecycle.finish(run, move, reason=result.reason, revision=revision)
        return moved if moved is not None else self.store.get_run(run.id)


def detached(run: Run, **values: object) -> Run:
    """A copy of `run` with `values` set, bound to no session (nothing is persisted)."""
    fields = {c.key: getattr(run, c.key) for c in Run.__table__.columns}
    return Run(**{**fields, **values})
