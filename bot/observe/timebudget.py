"""Where a run's wall time went, from its own stored records: phases, tests, model, the rest.

Rows, each with seconds or None (unknown, never 0 for what was not measured):
- one per phase (all its executions summed, a revision's too);
- inside setup, the environment's preparation as its record says (`setup_s`: the testing step
  reuses the setup phase's environment and its record; a step resumed on a fresh clone that
  prepares it again counts that in the rest of testing);
- inside testing, each suite run the tester timed (`change_s`, `change_plain_s`,
  `new_tests_s`, `base_s`, ... from each revision's test outcome), and the rest of the testing
  phase (reading results, git, the store). The new test files' runs alone that went beside the
  change's suite (`beside_s`: the wall time of the three, bot.testing.suite) overlap it: the
  rest counts that wall time once, not the three runs' sum;
- the model's answering time per role (each call's latency), which the phases contain.
The benchmark `benchmarks/run_breakdown.py` prints it for any store; the run page shows it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass

from bot.run.transitions import PHASE_ORDER
from bot.store.runs import Store
from bot.store.tables import as_aware
from bot.store.vocabulary import EventKind

BESIDE = "beside"  # the change's suite with the new test files' runs alone beside it, wall time
OVERLAPPED = frozenset({"change", "new_tests", "base_new_tests"})  # the runs `beside` holds


@dataclass(frozen=True)
class TimeRow:
    """One part of the run's time: its name, seconds (None: unknown) and what it belongs to."""

    part: str
    seconds: float | None
    within: str = ""  # the phase it is part of ("" for a phase itself)


def time_budget(store: Store, run_id: int) -> list[TimeRow]:
    """The run's time by phase, by timed test run inside testing, and by model role."""
    phases: dict[str, float | None] = defaultdict(float)
    for record in store.phases(run_id):
        started, finished = as_aware(record.started_at), as_aware(record.finished_at)
        if finished is None or started is None:
            phases[record.name] = None  # still running, or cut short by a kill: not measured
        elif phases[record.name] is not None:
            phases[record.name] = (phases[record.name] or 0.0) + (
                finished - started
            ).total_seconds()
    rows = [TimeRow(str(name), phases[name]) for name in PHASE_ORDER if name in phases]
    testing: dict[str, float] = defaultdict(float)
    timed = 0.0  # wall seconds the timed runs took inside testing, overlapping runs counted once
    for artifact in store.artifacts(run_id):
        if not artifact.name.startswith("testoutcome."):
            continue
        stored = (json.loads(artifact.content) or {}).get("timings") or {}
        timings = {
            key.removesuffix("_s"): float(value)
            for key, value in stored.items()
            if isinstance(value, int | float)
        }
        for key, value in timings.items():
            testing[key] += value
        beside = BESIDE in timings
        timed += sum(
            value
            for key, value in timings.items()
            if key != "setup" and not (beside and key in OVERLAPPED)
        )
    # the environment's preparation is the setup phase's record (the testing step reuses it);
    # counted inside testing it would exceed the phase and leave its rest unknown
    environment = testing.pop("setup", None)
    if environment is not None:
        rows.append(TimeRow("environment", environment, "setup"))
    for key in sorted(testing):
        rows.append(TimeRow(key, testing[key], "testing"))
    if testing and phases.get("testing") is not None:
        rest = (phases["testing"] or 0.0) - timed
        # timings that overlap (or one taken in another phase) leave the rest unknown, not 0
        rows.append(TimeRow("rest of testing", rest if rest >= 0 else None, "testing"))
    model: dict[str, float] = defaultdict(float)
    for event in store.events(run_id, EventKind.model_call):
        latency = event.data.get("latency_s")
        if isinstance(latency, int | float):
            model[event.message] += float(latency)
    for role in sorted(model):
        rows.append(TimeRow(f"model: {role}", model[role], "model"))
    return rows
