"""The run's budgets: tokens, cost and tool calls over the run; wall time per **attempt**.

An attempt is the first run, then each retry, revise (or review feedback) and CI repair: each
opens its own wall-time window (an `attempt` event, written by the lifecycle), so feedback that
arrives the next morning is worked on. The evidence shows the total over all attempts.
Within a step, `bot/run/guard.py` checks the same budgets before every model call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.policy.decide import Budgets
from bot.run.ports import RunStore
from bot.run.waiting import waited_s
from bot.store.tables import Run, as_aware, utcnow
from bot.store.vocabulary import EventKind


def attempt_started(store: RunStore, run: Run) -> datetime:
    """When the run's current attempt began (its last `attempt` event, else its creation),
    moved later by the time it spent waiting on the model endpoint since: waiting is not
    wall time."""
    attempts = store.events(run.id, EventKind.attempt)
    started = as_aware(attempts[-1].at) if attempts else as_aware(run.created_at)
    began = started or utcnow()
    return began + timedelta(seconds=waited_s(store, run.id, since=began))


def exceeded(run: Run, budgets: Budgets, started: datetime) -> str | None:
    """Why the run may not go on, or None while every budget has room."""
    elapsed = (utcnow() - started).total_seconds()
    if run.tokens_used >= budgets.max_tokens:
        return f"token budget reached ({run.tokens_used} >= {budgets.max_tokens})"
    if run.cost_usd >= budgets.max_cost_usd > 0:
        return f"cost budget reached (${run.cost_usd:.4f} >= ${budgets.max_cost_usd:.2f})"
    if run.tool_calls > budgets.max_tool_calls:
        return f"tool-call budget reached ({run.tool_calls} > {budgets.max_tool_calls})"
    if elapsed >= budgets.max_wall_time_s:
        return (
            f"wall-time budget of this attempt reached ({elapsed:.0f}s >= "
            f"{budgets.max_wall_time_s}s)"
        )
    return None


@dataclass(frozen=True)
class WallTime:
    """Seconds worked: in the current attempt and over all attempts (phase records)."""

    attempts: int
    current_s: float
    total_s: float


def wall_time(store: RunStore, run: Run) -> WallTime:
    """Time the run's steps took, over all attempts and in the current one."""
    started = attempt_started(store, run)
    total = current = 0.0
    for record in store.phases(run.id):
        begin = as_aware(record.started_at) or utcnow()
        end = as_aware(record.finished_at) or utcnow()
        seconds = max(0.0, (end - begin).total_seconds())
        total += seconds
        if begin >= started:
            current += seconds
    return WallTime(1 + len(store.events(run.id, EventKind.attempt)), current, total)
