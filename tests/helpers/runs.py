"""Seeding runs in a given state for tests (the product moves runs only through bot/run/)."""

from __future__ import annotations

from typing import Any

from bot.store.runs import Store
from bot.store.tables import Run


def seed_state(
    store: Store, run_id: int, *, status: str, phase: str | None = None, **values: Any
) -> Run:
    """Put a run at (`phase`, `status`) with other fields, as if it had moved there."""
    run = store.get_run(run_id)
    fields = {"status": status, "phase": phase or run.phase}
    fields.update(values)
    moved = store.transition_run(
        run_id, from_phase=run.phase, from_status=run.status, values=fields
    )
    assert moved is not None
    return moved
