"""Checks made before every model call, tool call and sandbox command of a running step.

`StepGuard` is what the model client (`bot.model.base.CallGuard`) and the sandbox wrapper ask:
- has the run been stopped? (read from the store: a `/draftsmith stop` lands there) -> RunStopped;
- is this attempt's wall-time window used up? -> BudgetExhausted;
- how many completion tokens may this call ask for? The run's remaining tokens (and, when the
  model has a price, its remaining cost) minus a conservative local estimate of the prompt;
  a call that cannot fit is not made -> BudgetExhausted;
- tool calls are counted as they happen, and refused past the budget.
Every model call's usage is recorded here as it happens, so a step that fails mid-way still
accounts for what it spent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.model.usage import Price, Usage, estimate_prompt_tokens, price_for
from bot.policy.decide import Budgets
from bot.run.ports import RunStore
from bot.run.states import Status
from bot.sandbox.base import ExecResult, Limits, Sandbox
from bot.shared.errors import BudgetExhausted, RunStopped
from bot.store.tables import Run, utcnow

logger = logging.getLogger(__name__)

MIN_ANSWER_TOKENS = 256
"""A call is not made unless at least this many completion tokens remain after the prompt."""


@dataclass
class Spent:
    """What the run had spent when the step began (from the store)."""

    tokens: int
    cost_usd: float
    tool_calls: int


@dataclass
class StepGuard:
    """The budgets and stop flag of one step of one run."""

    store: RunStore
    run_id: int
    budgets: Budgets
    before: Spent
    attempt_started: datetime
    prices: Mapping[str, Price]
    usages: list[Usage] = field(default_factory=list)
    tool_calls: int = 0
    unpriced: set[str] = field(default_factory=set)

    # -- what the step has spent -------------------------------------------------------------
    @property
    def tokens(self) -> int:
        """Tokens of the run so far, this step's calls included."""
        return self.before.tokens + sum(u.total_tokens for u in self.usages)

    @property
    def cost_usd(self) -> float:
        """Cost of the run so far (priced calls only)."""
        return self.before.cost_usd + sum(u.cost_usd for u in self.usages)

    # -- checks ------------------------------------------------------------------------------
    def check(self, run: Run | None = None) -> None:
        """Raise RunStopped when the run was stopped, BudgetExhausted when its window closed
        (`run`: the run as just read, when the caller has it; else it is read)."""
        if (run or self.store.get_run(self.run_id)).status == Status.stopped:
            raise RunStopped(f"run {self.run_id} was stopped", "`/draftsmith retry` resumes it")
        elapsed = (utcnow() - self.attempt_started).total_seconds()
        if elapsed >= self.budgets.max_wall_time_s:
            raise BudgetExhausted(
                f"wall-time budget of this attempt reached ({elapsed:.0f}s >= "
                f"{self.budgets.max_wall_time_s}s)",
                "`/draftsmith retry` or a revise opens a new attempt",
            )

    def before_call(self, role: str, model: str, request: Mapping[str, Any]) -> int:
        """The `max_tokens` for this call; BudgetExhausted when the call cannot fit."""
        self.check()
        prompt = estimate_prompt_tokens(request)
        room = self.budgets.max_tokens - self.tokens - prompt
        price = price_for(model, self.prices)
        if price is None:
            self.unpriced.add(model)
        elif self.budgets.max_cost_usd > 0:
            left = self.budgets.max_cost_usd - self.cost_usd - prompt * price.input_per_m / 1e6
            room = min(room, int(left * 1e6 / price.output_per_m) if price.output_per_m else room)
        if room < MIN_ANSWER_TOKENS:
            raise BudgetExhausted(
                f"token budget reached: the {role}'s call needs about {prompt} prompt tokens "
                f"plus an answer, and {self.budgets.max_tokens - self.tokens} of "
                f"{self.budgets.max_tokens} tokens are left"
                + (f" (cost budget ${self.budgets.max_cost_usd:.2f})" if price else ""),
                "raise budgets.max_tokens / max_cost_usd in the policy, or narrow the issue",
            )
        return room

    def after_call(self, usage: Usage) -> None:
        """Record a call's usage as it happens."""
        self.usages.append(usage)

    def before_tool_call(self, name: str) -> None:
        """Count a tool call; BudgetExhausted past the run's tool-call budget."""
        self.check()
        if self.before.tool_calls + self.tool_calls >= self.budgets.max_tool_calls:
            raise BudgetExhausted(
                f"tool-call budget reached ({self.budgets.max_tool_calls}) before {name}",
                "raise budgets.max_tool_calls in the policy",
            )
        self.tool_calls += 1


class GuardedSandbox:
    """The run's sandbox: every command checks the guard first (a stopped run runs nothing).

    It shows the inner sandbox's read-only toolbox, as the inner sandbox does: what the toolbox
    holds (uv for environment preparation, ruff for the analysis) is looked up there."""

    def __init__(self, inner: Sandbox, guard: StepGuard) -> None:
        self.inner = inner
        self.guard = guard
        self.name = inner.name
        self.runtime = inner.runtime
        self.toolbox: Path | None = getattr(inner, "toolbox", None)

    async def run(
        self,
        command: list[str],
        *,
        workdir: Path,
        limits: Limits,
        network: bool = False,
        env: Mapping[str, str] | None = None,
        pass_fds: Sequence[int] = (),
        mount_at: Path | None = None,
    ) -> ExecResult:
        """Check the guard, then run `command` in the inner sandbox."""
        self.guard.check()
        return await self.inner.run(
            command,
            workdir=workdir,
            limits=limits,
            network=network,
            env=env,
            pass_fds=pass_fds,
            mount_at=mount_at,
        )
