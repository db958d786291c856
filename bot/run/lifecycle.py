"""The only writer of a run's `phase` and `status`: applies `Move`s from the transition table.

Two ways in:
- `finish(run, move)`: a step's result. Written only if the run is still exactly where the step
  found it, so a `stop` (or any intent) that arrived meanwhile is never overwritten.
- `request(run_id, move)`: an intent. Re-reads the run and applies the move if the table allows
  it from wherever the run is now (retrying when it moves concurrently).

Moves that hand a run back to work (retry, reopen, approve-plan) open a new **attempt**: an
`attempt` event whose time starts the attempt's wall-time window (bot/run/budgets.py).
"""

from __future__ import annotations

import logging

from bot.run.ports import RunCaps, RunStore
from bot.run.transitions import Move, allowed, target
from bot.store.tables import Run
from bot.store.vocabulary import EventKind

logger = logging.getLogger(__name__)

ATTEMPT_MOVES = frozenset({Move.retry, Move.reopen, Move.approve_plan})
_RACE_RETRIES = 5


class Lifecycle:
    """Applies moves to runs in the store."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def finish(
        self,
        run: Run,
        move: Move,
        *,
        reason: str | None = None,
        revision: int | None = None,
        caps: RunCaps | None = None,
    ) -> Run | None:
        """Apply a step's `move` to `run` as it was read; None when the run moved since (or
        `caps`, concurrency caps checked in the same write, are full)."""
        phase, status = target(move, run.phase, run.status)
        values: dict[str, object] = {"phase": phase, "status": status, "status_reason": reason}
        if revision is not None:
            values["revision"] = revision
        moved = self.store.transition_run(
            run.id, from_phase=run.phase, from_status=run.status, values=values, caps=caps
        )
        if moved is None:
            logger.info("%s not applied: the run moved meanwhile", move, extra={"run_id": run.id})
            return None
        if move in ATTEMPT_MOVES:
            self.store.add_event(run.id, EventKind.attempt, str(move), {"move": str(move)})
        return moved

    def request(
        self,
        run_id: int,
        move: Move,
        *,
        reason: str | None = None,
        revision_step: int = 0,
    ) -> Run | None:
        """Apply `move` to the run wherever it is now; None when the table does not allow it.

        `revision_step` adds to the run's revision in the same write (1 for new feedback).
        """
        for _ in range(_RACE_RETRIES):
            run = self.store.get_run(run_id)
            if not allowed(move, run.phase, run.status):
                return None
            revision = run.revision + revision_step if revision_step else None
            moved = self.finish(run, move, reason=reason, revision=revision)
            if moved is not None:
                return moved
        return None

    def can(self, run: Run, move: Move) -> bool:
        """Whether the table allows `move` from where `run` is."""
        return allowed(move, run.phase, run.status)
