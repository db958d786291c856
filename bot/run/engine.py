"""The engine: `advance(run_id)` performs the run's current step and makes the move it returns.

The order is: start (queued -> running), open the context (clone, config, policy, model),
check budgets, run the step, record usage, make the step's move through the lifecycle (only if
the run is still where the step found it), then update the progress comment.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from bot.config import Settings
from bot.errors import ContractError, DraftsmithError
from bot.github.client import InstallationClient
from bot.llm import ModelClient
from bot.policy import Policy, RepoConfig, load_default_policy, merge
from bot.run import artifacts, budgets
from bot.run.artifacts import Artifacts
from bot.run.checkout import open_workspace, repo_config
from bot.run.context import RunContext, Services, StepResult, usage_dict
from bot.run.evidence import keep_best
from bot.run.lifecycle import Lifecycle
from bot.run.states import TERMINAL, Phase, Status
from bot.run.steps import STEPS
from bot.run.transitions import Move, target
from bot.sandbox.base import Limits, Sandbox
from bot.store import Store
from bot.tables import Run
from bot.telemetry import phase_span, record_outcome, run_span

logger = logging.getLogger(__name__)

GIVE_UP_STATUSES = frozenset({Status.needs_human_review, Status.failed})


class Engine:
    """Advances runs one step at a time; collaborators are passed in, built once."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        sandbox_factory: Callable[[], Sandbox],
        llm_factory: Callable[[RepoConfig | None], ModelClient],
        on_progress: Callable[[Run], None] | None = None,
        github_for_run: Callable[[Run], InstallationClient] | None = None,
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
        if run.status in TERMINAL or run.status == Status.waiting:
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
                return self.store.get_run(run.id), StepResult(Move.start, None, "not started")
            run = started
        phase_id = self.store.start_phase(run.id, run.phase, run.revision)
        ctx: RunContext | None = None
        try:
            ctx = self._context(run)
            result = self._perform(ctx)
        except ContractError as exc:
            result = StepResult(Move.give_up, exc.message, "invalid answer")
        except DraftsmithError as exc:
            logger.error("phase failed: %s", exc, extra=log)
            result = StepResult(Move.fail, str(exc), "error")
        except Exception as exc:  # a bug must end the run with a reason, not leave it running
            logger.exception("phase crashed", extra=log)
            reason = f"internal error in {run.phase}: {exc.__class__.__name__}: {exc}"
            result = StepResult(Move.fail, reason[:500], "crash")
        self._record_usage(run, phase_id, ctx, result)
        result = self._revise_or_give_up(run, ctx, result)
        moved = self._move(run, ctx, result)
        self.store.add_event(
            run.id,
            "phase",
            f"{log['phase']} -> {moved.phase} ({moved.status})",
            {"outcome": result.outcome, "reason": result.reason},
        )
        logger.info("phase %s done: now %s/%s", log["phase"], moved.phase, moved.status, extra=log)
        if self.on_progress is not None:
            try:
                self.on_progress(moved)
            except DraftsmithError as exc:
                logger.warning("progress comment not updated: %s", exc, extra=log)
        return moved, result

    def _perform(self, ctx: RunContext) -> StepResult:
        exceeded = budgets.exceeded(ctx.run, ctx.policy.budgets)
        if exceeded:
            return StepResult(Move.give_up, exceeded, "budget")
        step = STEPS.get(Phase(ctx.run.phase))
        if step is None:
            return StepResult(Move.fail, f"no step for phase {ctx.run.phase!r}", "error")
        return asyncio.run(step.run(ctx))

    def _context(self, run: Run) -> RunContext:
        workspace = open_workspace(self.services, run)
        run = self.store.get_run(run.id)
        config = repo_config(self.store, run, workspace)
        base = self.services.base_policy
        policy = merge(base, config) if config else base
        llm = self.services.llm_factory(config)
        return RunContext(run, workspace, policy, config, llm, self.services)

    def _record_usage(
        self, run: Run, phase_id: int, ctx: RunContext | None, result: StepResult
    ) -> None:
        tokens = sum(u.total_tokens for u in ctx.usages) if ctx else 0
        cost = sum(u.cost_usd for u in ctx.usages) if ctx else 0.0
        if ctx is not None and (ctx.usages or ctx.tool_calls):
            self.store.add_usage(run.id, tokens=tokens, cost_usd=cost, tool_calls=ctx.tool_calls)
            for usage in ctx.usages:
                self.store.add_event(run.id, "model_call", usage.role, usage_dict(usage))
        self.store.finish_phase(phase_id, result.outcome, tokens=tokens, cost_usd=cost)

    def _revise_or_give_up(
        self, run: Run, ctx: RunContext | None, result: StepResult
    ) -> StepResult:
        """A revision only while revisions are left; its feedback is stored for the coder."""
        if result.move is not Move.revise:
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
        revision = run.revision + 1 if result.move is Move.revise else None
        phase, status = target(result.move, Phase(run.phase), Status(run.status))
        if status in GIVE_UP_STATUSES and ctx is not None:
            keep_best(self.services, ctx.run, phase, status, result.reason)
        moved = self.lifecycle.finish(run, result.move, reason=result.reason, revision=revision)
        return moved if moved is not None else self.store.get_run(run.id)


def model_client(settings: Settings, config: RepoConfig | None) -> ModelClient:
    """The model client of a run, with the repository's per-role models."""
    models = {}
    if config is not None:
        models = {k: v for k, v in config.models.model_dump().items() if v}
    return ModelClient(settings, models=models)
