"""The one table of moves between (phase, status) pairs, and the order the steps run in.

Every change of a run's `phase` or `status` is a `Move` looked up here; `bot/run/lifecycle.py`
is the only writer, and it writes a move only while the run is still in one of the move's
`from_statuses` (a conditional update), so a late result can never overwrite a newer state such
as `stopped`.

To add a step: add its `Phase` in `states.py`, put it in `PHASE_ORDER` below, and register its
step in `bot/run/steps/__init__.py`. To add a state (e.g. waiting on a model outage): add the
`Status`, a `Move` into it and a `Move` out of it, each with a `Rule` in `RULES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.run.states import ACTIVE, DELIVERED, TERMINAL, Phase, Status
from bot.shared.errors import TransitionError

# The phases a run walks, in order; `Move.advance` goes to the next one.
PHASE_ORDER: tuple[Phase, ...] = (
    Phase.planning,
    Phase.setup,  # the project's own environment, before the coder runs anything in it
    Phase.coding,  # the coder's edit-run loop (a revision comes back here, not to setup)
    Phase.testing,
    Phase.reviewing,  # on the whole evidence: analysis, test results, coverage of the change
    Phase.deploying,
)


class Move(StrEnum):
    """A change of state: the first group are step results, the second apply intents."""

    start = "start"  # a worker picked the run up
    advance = "advance"  # the step is done: on to the next phase
    send_back = "send_back"  # the reviewer sends the work back to the coder (a new revision)
    await_plan_approval = "await_plan_approval"
    deliver = "deliver"  # the draft PR is ready
    deliver_gated = "deliver_gated"  # the draft PR waits for a code owner
    block = "block"  # the policy forbids the change
    give_up = "give_up"  # could not converge, or a budget ran out: a person takes over
    fail = "fail"  # an infrastructure error
    await_model = "await_model"  # the model endpoint is down: wait, keep everything
    resume = "resume"  # the wait is over: back to the queue at the same phase
    # intents (people, reviews, CI)
    stop = "stop"
    retry = "retry"
    reopen = "reopen"  # new feedback on an ended run: a new revision from the coder
    approve_plan = "approve_plan"
    release_gate = "release_gate"


class Target(StrEnum):
    """Where a move leaves the phase, when it is not a fixed phase."""

    same = "same"
    next = "next"
    resume = "resume"  # the phase the run stopped at, re-entered from its start


@dataclass(frozen=True)
class Rule:
    """A move is allowed from `from_statuses` (and `from_phases`, when given)."""

    from_statuses: frozenset[Status]
    to_status: Status
    to_phase: Phase | Target = Target.same
    from_phases: frozenset[Phase] | None = None


_RUNNING = frozenset({Status.running})
_RETRYABLE = frozenset(
    {
        Status.needs_human_review,
        Status.blocked_by_policy,
        Status.failed,
        Status.stopped,
        Status.waiting_for_model,  # a person's retry ends the wait now
    }
)
_WAITING_FOR_MODEL = frozenset({Status.waiting_for_model})

RULES: dict[Move, Rule] = {
    Move.start: Rule(frozenset({Status.queued}), Status.running),
    Move.advance: Rule(_RUNNING, Status.running, Target.next),
    Move.send_back: Rule(_RUNNING, Status.running, Phase.coding),
    Move.await_plan_approval: Rule(
        _RUNNING, Status.waiting, Phase.plan_approval, frozenset({Phase.planning})
    ),
    Move.deliver: Rule(_RUNNING, Status.approved, Phase.done, frozenset({Phase.deploying})),
    Move.deliver_gated: Rule(
        _RUNNING, Status.needs_approval, Phase.done, frozenset({Phase.deploying})
    ),
    Move.block: Rule(_RUNNING, Status.blocked_by_policy),
    Move.give_up: Rule(_RUNNING, Status.needs_human_review),
    Move.fail: Rule(_RUNNING | {Status.queued}, Status.failed),
    Move.await_model: Rule(_RUNNING, Status.waiting_for_model),
    Move.resume: Rule(_WAITING_FOR_MODEL, Status.queued),
    Move.stop: Rule(ACTIVE | {Status.waiting, Status.waiting_for_model}, Status.stopped),
    Move.retry: Rule(_RETRYABLE, Status.queued, Target.resume),
    Move.reopen: Rule(
        TERMINAL | {Status.waiting, Status.waiting_for_model}, Status.queued, Phase.coding
    ),
    Move.approve_plan: Rule(
        frozenset({Status.waiting}), Status.queued, Phase.setup, frozenset({Phase.plan_approval})
    ),
    Move.release_gate: Rule(frozenset({Status.needs_approval}), Status.approved, Phase.done),
}


def next_phase(phase: Phase) -> Phase:
    """The phase after `phase` in `PHASE_ORDER` (`done` after the last)."""
    index = PHASE_ORDER.index(phase)
    return PHASE_ORDER[index + 1] if index + 1 < len(PHASE_ORDER) else Phase.done


def resume_phase(phase: Phase) -> Phase:
    """Where a retried run starts again: its phase, except a pause re-enters the step before it."""
    if phase is Phase.plan_approval:
        return Phase.planning  # planning finds the stored plan and asks for approval again
    if phase is Phase.done:
        return Phase.deploying
    return phase


def allowed(move: Move, phase: Phase, status: Status) -> bool:
    """Whether `move` may be made from (`phase`, `status`)."""
    rule = RULES[move]
    if status not in rule.from_statuses:
        return False
    return rule.from_phases is None or phase in rule.from_phases


def target(move: Move, phase: Phase, status: Status) -> tuple[Phase, Status]:
    """Where `move` leaves a run at (`phase`, `status`); TransitionError when it is not allowed."""
    if not allowed(move, phase, status):
        raise TransitionError(
            f"cannot {move} a run that is {status} at {phase}",
            "this is a bug in the run core: every move must be listed in bot/run/transitions.py",
        )
    rule = RULES[move]
    if rule.to_phase is Target.same:
        return phase, rule.to_status
    if rule.to_phase is Target.next:
        return next_phase(phase), rule.to_status
    if rule.to_phase is Target.resume:
        return resume_phase(phase), rule.to_status
    assert isinstance(rule.to_phase, Phase)
    return rule.to_phase, rule.to_status


__all__ = [
    "DELIVERED",
    "PHASE_ORDER",
    "RULES",
    "Move",
    "Rule",
    "Target",
    "allowed",
    "next_phase",
    "resume_phase",
    "target",
]
