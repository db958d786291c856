"""The run's guarded sandbox shows the inner sandbox's toolbox (uv, ruff) to what looks there."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.environment.prepare import installer_for
from bot.policy.decide import load_default_policy
from bot.run.guard import GuardedSandbox, Spent, StepGuard
from bot.sandbox.bwrap import BwrapSandbox
from bot.sandbox.toolbox import BIN_DIR, toolbox_program
from bot.store.runs import Store


def test_a_guarded_sandbox_prepares_environments_with_the_toolbox_uv(tmp_path: Path) -> None:
    """Through the guard (as every run's tester sees it), uv is found: pip was used instead."""
    toolbox = tmp_path / "toolbox"
    for name in ("uv", "ruff"):
        binary = toolbox / BIN_DIR / name
        binary.parent.mkdir(parents=True, exist_ok=True)
        binary.write_text("#!/bin/sh\n")
    inner = BwrapSandbox(toolbox=toolbox)
    guard = StepGuard(
        store=Store(f"sqlite:///{tmp_path / 'db.sqlite'}"),
        run_id=1,
        budgets=load_default_policy().budgets,
        before=Spent(tokens=0, cost_usd=0.0, tool_calls=0),
        attempt_started=datetime.now(UTC),
        prices={},
    )
    guarded = GuardedSandbox(inner, guard)
    assert installer_for(guarded).name == "uv" == installer_for(inner).name
    assert toolbox_program(guarded, "ruff") == toolbox_program(inner, "ruff") is not None
