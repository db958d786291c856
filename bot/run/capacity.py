"""Concurrency caps: a run starts only while fewer than the caps are working; others queue.

`DRAFTSMITH_MAX_CONCURRENT_RUNS` caps working (`running`) runs in total and
`DRAFTSMITH_MAX_CONCURRENT_RUNS_PER_INSTALLATION` per GitHub installation (0: no cap). A queued
run over a cap is not started: its advance is scheduled again after `DRAFTSMITH_QUEUE_RECHECK_S`.
The start is one guarded write (the count is part of the UPDATE, and guarded writes are
serialised), so two workers starting runs at the same instant cannot both pass a cap.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.run.lifecycle import Lifecycle
from bot.run.ports import RunCaps, RunStore
from bot.run.transitions import Move
from bot.shared.config import Settings
from bot.store.tables import Run


@dataclass(frozen=True)
class Room:
    """Whether a run may start now, and if not, which cap holds it."""

    allowed: bool
    detail: str


def caps_of(settings: Settings) -> RunCaps:
    """The concurrency caps the settings name."""
    return RunCaps(settings.max_concurrent_runs, settings.max_concurrent_runs_per_installation)


def room_for(store: RunStore, run: Run, settings: Settings) -> Room:
    """Whether `run` may start: the running runs (other than itself) are under both caps."""
    total, mine = store.working_runs(excluding=run.id, installation_id=run.installation_id)
    cap = settings.max_concurrent_runs
    if cap and total >= cap:
        return Room(False, f"{total} runs are working (DRAFTSMITH_MAX_CONCURRENT_RUNS={cap})")
    per = settings.max_concurrent_runs_per_installation
    if per and run.installation_id is not None and mine >= per:
        return Room(
            False,
            f"{mine} runs of installation {run.installation_id} are working "
            f"(DRAFTSMITH_MAX_CONCURRENT_RUNS_PER_INSTALLATION={per})",
        )
    return Room(True, "room")


def start_when_room(lifecycle: Lifecycle, run: Run, settings: Settings) -> Run | None:
    """Start a queued run (queued -> running) only while it stays under both caps.

    None when the caps are full (or the run moved meanwhile)."""
    return lifecycle.finish(run, Move.start, caps=caps_of(settings))
