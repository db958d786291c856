"""The run's budgets (tokens, cost, tool calls, wall time), checked before each step."""

from __future__ import annotations

from bot.policy import Budgets
from bot.tables import Run, as_aware, utcnow


def exceeded(run: Run, budgets: Budgets) -> str | None:
    """Why the run may not go on, or None while every budget has room."""
    created = as_aware(run.created_at) or utcnow()
    elapsed = (utcnow() - created).total_seconds()
    if run.tokens_used >= budgets.max_tokens:
        return f"token budget reached ({run.tokens_used} >= {budgets.max_tokens})"
    if run.cost_usd >= budgets.max_cost_usd > 0:
        return f"cost budget reached (${run.cost_usd:.4f} >= ${budgets.max_cost_usd:.2f})"
    if run.tool_calls > budgets.max_tool_calls:
        return f"tool-call budget reached ({run.tool_calls} > {budgets.max_tool_calls})"
    if elapsed >= budgets.max_wall_time_s:
        return f"wall-time budget reached ({elapsed:.0f}s >= {budgets.max_wall_time_s}s)"
    return None
