"""The run core: a typed lifecycle that steering, stop and budgets cannot break.

Where things live:
- `states.py`       `Phase` and `Status` (str enums; stored values are their strings).
- `transitions.py`  `PHASE_ORDER`, `Move` and `RULES`: the one table of every move between
                    (phase, status) pairs.
- `lifecycle.py`    `Lifecycle`: the only writer of a run's phase/status. `finish` applies a
                    step's move only if the run is still where the step found it (so a stop is
                    never overwritten); `request` applies an intent's move from wherever the run
                    is. Retry, reopen and approve-plan open a new attempt.
- `intents.py`      `Stop`, `Retry`, `ApprovePlan`, `Revise`, `Feedback`, `CiFailed`,
                    `ReleaseGate`: what handlers send; `Intents.apply` answers an `IntentResult`.
- `artifacts.py`    the registry of artifact kinds (name, pydantic-validated type, per
                    revision) and `Artifacts`, the typed reads and writes of one run.
- `ports.py`        the Protocols the run core types against (`RunStore`, `GitHubEffects`, and
                    `Model`/`Sandbox` from their base modules); the concrete adapters are built
                    at the composition root (`bot/runtime/__init__.py`) and passed in.
- `context.py`      `Services` (built once per process), `RunContext` (one run, one worker),
                    `StepResult` and the `Step` protocol.
- `steps/`          one module per working phase: planning, coding, reviewing, testing,
                    deploying; `steps.STEPS` registers them (`steps/trials.py`: best of N
                    in the testing step).
- `candidates.py`   best of N (`DRAFTSMITH_CANDIDATES`): a pure ranking of candidates on their
                    evidence, and why each other one lost.
- `engine.py`       `Engine.advance(run_id)`: start, context, budgets, step, usage, move,
                    progress.
- `checkout.py`, `budgets.py`, `evidence.py`: the clone, the budgets, the evidence.

Extending: a new step (e.g. preparing the environment between coding and testing, or a
reviewer after the tester) is a `Phase`, a place in `PHASE_ORDER`, a `Step` class in `steps/`
registered in `STEPS`, and a progress label in `bot/observe/progress.py`. A new state (e.g.
waiting on a
model outage) is a `Status`, plus a `Move` into it and out of it with their `Rule`s. A new
intent is a dataclass in `intents.py` and its entry in `Intents._apply`.

This package's `__init__` imports nothing, so `bot.run.states` is cheap to import anywhere.
"""
