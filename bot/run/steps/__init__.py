"""The registered steps, one per working phase of `PHASE_ORDER` (bot/run/transitions.py).

To add a step: write a class with `phase`, `reads`, `writes` and `async run(ctx) -> StepResult`
in a module here, add its phase to `PHASE_ORDER`, and list it in `STEPS`.
"""

from __future__ import annotations

from bot.run.context import Step
from bot.run.states import Phase
from bot.run.steps.coding import Coding
from bot.run.steps.deploying import Deploying
from bot.run.steps.planning import Planning
from bot.run.steps.reviewing import Reviewing
from bot.run.steps.setup import Setup
from bot.run.steps.testing import Testing

STEPS: dict[Phase, Step] = {
    step.phase: step
    for step in (Planning(), Coding(), Setup(), Testing(), Reviewing(), Deploying())
}
