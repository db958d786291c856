"""Seeding runs in a given state for tests, through the run core's own transition table.

`seed_state` finds the shortest walk of `Move`s from where the run is to (`phase`, `status`) in
`bot.run.transitions.RULES` and makes each move with the `Lifecycle`, as the product would; a
state the table cannot reach is an error of the test. Other fields are set afterwards.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from sqlalchemy import update

from bot.run.lifecycle import Lifecycle
from bot.run.states import Phase, Status
from bot.run.transitions import RULES, Move, target
from bot.shared.errors import TransitionError
from bot.store.runs import Store
from bot.store.tables import Run


def walk(start: tuple[Phase, Status], goal: tuple[Phase, Status]) -> list[Move]:
    """The shortest sequence of moves the table allows from `start` to `goal`."""
    paths: dict[tuple[Phase, Status], list[Move]] = {start: []}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        if state == goal:
            return paths[state]
        for move in RULES:
            try:
                reached = target(move, *state)
            except (TransitionError, ValueError):  # ValueError: no phase after this one
                continue
            if reached not in paths:
                paths[reached] = [*paths[state], move]
                queue.append(reached)
    raise AssertionError(f"the transition table cannot move a run from {start} to {goal}")


def seed_state(
    store: Store,
    run_id: int,
    *,
    status: Status,
    phase: Phase | None = None,
    reason: str | None = None,
    **values: Any,
) -> Run:
    """Move a run to (`phase`, `status`) through the lifecycle, then set other fields."""
    run = store.get_run(run_id)
    reason = values.pop("status_reason", reason)
    goal = (Phase(phase or run.phase), Status(status))
    lifecycle = Lifecycle(store)
    for move in walk((run.phase, run.status), goal):
        moved = lifecycle.request(run_id, move, reason=reason)
        assert moved is not None, f"{move} refused on the way to {goal}"
    when = {key: values.pop(key) for key in ("finished_at", "updated_at") if key in values}
    if values:
        store.update_run(run_id, **values)
    if when:  # the moves' own times, as if they had happened then (the lifecycle sets them now)
        with store.session() as s:
            s.execute(update(Run).where(Run.id == run_id).values(**when))
    return store.get_run(run_id)
