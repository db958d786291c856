"""The transition table: every move's allowed states and where it leaves a run."""

from __future__ import annotations

import pytest

from bot.observe.progress import LABELS
from bot.run.states import ACTIVE, TERMINAL, Phase, Status
from bot.run.steps import STEPS
from bot.run.transitions import PHASE_ORDER, RULES, Move, allowed, target
from bot.shared.errors import TransitionError


def test_every_move_has_a_rule() -> None:
    assert set(RULES) == set(Move)


def test_every_phase_the_run_walks_has_a_step_and_a_progress_label() -> None:
    assert set(PHASE_ORDER) == set(STEPS)
    assert all(STEPS[phase].phase is phase for phase in PHASE_ORDER)
    assert set(PHASE_ORDER) <= set(LABELS)


@pytest.mark.parametrize(
    ("move", "phase", "expected"),
    [
        pytest.param(Move.advance, Phase.planning, (Phase.setup, Status.running), id="plan-setup"),
        pytest.param(Move.advance, Phase.setup, (Phase.coding, Status.running), id="setup-code"),
        pytest.param(Move.advance, Phase.coding, (Phase.testing, Status.running), id="code-test"),
        pytest.param(Move.advance, Phase.testing, (Phase.reviewing, Status.running), id="test-rev"),
        pytest.param(
            Move.advance, Phase.reviewing, (Phase.deploying, Status.running), id="rev-dep"
        ),
        pytest.param(Move.send_back, Phase.testing, (Phase.coding, Status.running), id="send_back"),
        pytest.param(
            Move.give_up,
            Phase.reviewing,
            (Phase.reviewing, Status.needs_human_review),
            id="give-up-keeps-phase",
        ),
        pytest.param(Move.deliver, Phase.deploying, (Phase.done, Status.approved), id="deliver"),
        pytest.param(
            Move.await_plan_approval,
            Phase.planning,
            (Phase.plan_approval, Status.waiting),
            id="await-approval",
        ),
        pytest.param(Move.stop, Phase.testing, (Phase.testing, Status.stopped), id="stop"),
    ],
)
def test_a_running_step_moves_where_the_table_says(
    move: Move, phase: Phase, expected: tuple[Phase, Status]
) -> None:
    assert target(move, phase, Status.running) == expected


@pytest.mark.parametrize("status", sorted(TERMINAL), ids=str)
def test_no_step_result_moves_an_ended_run(status: Status) -> None:
    step_moves = (Move.advance, Move.send_back, Move.deliver, Move.give_up, Move.fail, Move.block)
    for move in step_moves:
        assert not allowed(move, Phase.testing, status)
        with pytest.raises(TransitionError):
            target(move, Phase.testing, status)


def test_stop_ends_any_unfinished_run_and_nothing_else() -> None:
    for status in Status:
        expected = status in ACTIVE or status in (Status.waiting, Status.waiting_for_model)
        assert allowed(Move.stop, Phase.coding, status) is expected, status


def test_retry_resumes_a_stopped_run_where_it_stopped() -> None:
    assert target(Move.retry, Phase.testing, Status.stopped) == (Phase.testing, Status.queued)
    assert target(Move.retry, Phase.plan_approval, Status.stopped) == (
        Phase.planning,
        Status.queued,
    )
    assert not allowed(Move.retry, Phase.done, Status.approved)


def test_only_a_waiting_plan_is_approved_and_only_a_gated_run_released() -> None:
    assert allowed(Move.approve_plan, Phase.plan_approval, Status.waiting)
    assert not allowed(Move.approve_plan, Phase.coding, Status.running)
    assert target(Move.release_gate, Phase.done, Status.needs_approval) == (
        Phase.done,
        Status.approved,
    )
    assert not allowed(Move.release_gate, Phase.done, Status.approved)


def test_stored_values_are_the_old_strings() -> None:
    assert Status.needs_human_review == "needs_human_review"
    assert Phase.plan_approval == "plan_approval"
    assert f"{Status.blocked_by_policy}" == "blocked_by_policy"
