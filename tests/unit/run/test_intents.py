"""Intents applied by the run core to runs in a real SQLite store."""

from __future__ import annotations

import pytest

from bot.run.intents import (
    ApprovePlan,
    CiFailed,
    Feedback,
    Intents,
    ReleaseGate,
    Retry,
    Revise,
    Stop,
)
from bot.run.lifecycle import Lifecycle
from bot.run.states import Phase, Status
from bot.run.transitions import Move
from bot.shared.errors import StoreError
from bot.store.runs import Store
from bot.store.tables import Run
from bot.store.vocabulary import EventKind
from tests.helpers.runs import seed_state


def new_run(store: Store, issue: int = 7) -> Run:
    run, _ = store.create_run(
        repo="octo/widgets", issue_number=issue, clone_url="file:///x", title="t", request="r"
    )
    return run


def test_stop_ends_a_running_run_and_a_late_step_result_does_not_overwrite_it(
    sqlite_store: Store,
) -> None:
    lifecycle = Lifecycle(sqlite_store)
    running = lifecycle.finish(new_run(sqlite_store), Move.start)
    assert running is not None
    result = Intents(sqlite_store).apply(running, Stop("carol"))
    assert result.applied and result.progress and result.run.status == Status.stopped
    assert lifecycle.finish(running, Move.advance) is None  # the step finished after the stop
    run = sqlite_store.get_run(running.id)
    assert (run.status, run.phase, run.status_reason) == (
        Status.stopped,
        Phase.planning,
        "stopped by @carol",
    )
    assert run.active_key is None


def test_stop_of_an_ended_run_is_refused_with_a_reply(sqlite_store: Store) -> None:
    run = seed_state(
        sqlite_store, new_run(sqlite_store).id, status=Status.approved, phase=Phase.done
    )
    result = Intents(sqlite_store).apply(run, Stop("carol"))
    assert not result.applied and result.reply == f"Run `{run.id}` has already ended (approved)."


def test_retry_after_stop_resumes_at_the_stopped_phase_and_opens_an_attempt(
    sqlite_store: Store,
) -> None:
    run = seed_state(
        sqlite_store, new_run(sqlite_store).id, status=Status.stopped, phase=Phase.testing
    )
    result = Intents(sqlite_store).apply(run, Retry("carol"))
    assert result.applied and result.enqueue
    assert (result.run.status, result.run.phase, result.run.revision) == (
        Status.queued,
        Phase.testing,
        0,
    )
    assert [e.message for e in sqlite_store.events(run.id, EventKind.attempt)] == ["retry"]


@pytest.mark.parametrize(
    ("status", "phase", "detail"),
    [
        pytest.param("running", "coding", "run still active", id="active"),
        pytest.param("approved", "done", "run already finished", id="finished"),
        pytest.param("waiting", "plan_approval", "run waiting", id="waiting-for-plan"),
    ],
)
def test_retry_is_refused_when_there_is_nothing_to_retry(
    sqlite_store: Store, status: str, phase: str, detail: str
) -> None:
    run = seed_state(sqlite_store, new_run(sqlite_store).id, status=status, phase=phase)
    result = Intents(sqlite_store).apply(run, Retry("carol"))
    assert (result.applied, result.detail) == (False, detail) and result.reply
    assert sqlite_store.get_run(run.id).status == status


def test_revise_on_a_delivered_run_makes_a_new_revision_from_the_coder(sqlite_store: Store) -> None:
    run = seed_state(
        sqlite_store, new_run(sqlite_store).id, status=Status.approved, phase=Phase.done
    )
    result = Intents(sqlite_store).apply(run, Revise("carol", "use a loop"))
    assert (result.run.status, result.run.phase, result.run.revision) == (
        Status.queued,
        Phase.coding,
        1,
    )
    assert [e.message for e in sqlite_store.events(run.id, EventKind.input)] == ["use a loop"]


def test_feedback_on_an_active_run_waits_for_the_coder(sqlite_store: Store) -> None:
    run = seed_state(
        sqlite_store, new_run(sqlite_store).id, status=Status.running, phase=Phase.testing
    )
    intent = Feedback("dave", "Comment on a.py:3: no", "review_comment", "line comment by @dave")
    result = Intents(sqlite_store).apply(run, intent)
    assert result.applied and not result.enqueue
    assert (sqlite_store.get_run(run.id).status, sqlite_store.get_run(run.id).revision) == (
        Status.running,
        0,
    )
    assert len(sqlite_store.events(run.id, EventKind.input)) == 1


def test_ci_failure_reopens_a_delivered_run_for_one_repair(sqlite_store: Store) -> None:
    run = seed_state(
        sqlite_store, new_run(sqlite_store).id, status=Status.needs_approval, phase=Phase.done
    )
    result = Intents(sqlite_store).apply(run, CiFailed("99", "test_x failed"))
    assert result.run.status == Status.queued and result.run.phase == Phase.coding
    assert len(sqlite_store.events(run.id, EventKind.ci_repair)) == 1


def test_reopening_is_refused_while_another_run_of_the_issue_is_active(
    sqlite_store: Store,
) -> None:
    first = seed_state(
        sqlite_store, new_run(sqlite_store).id, status=Status.failed, phase=Phase.coding
    )
    second = new_run(sqlite_store)
    assert second.id != first.id
    result = Intents(sqlite_store).apply(first, Retry("carol"))
    assert not result.applied and result.reply == "Another Draftsmith run is active on this issue."
    assert sqlite_store.get_run(first.id).status == Status.failed


def test_approve_plan_moves_only_a_waiting_plan(sqlite_store: Store) -> None:
    run = new_run(sqlite_store)
    refused = Intents(sqlite_store).apply(run, ApprovePlan("carol"))
    assert not refused.applied and refused.reply
    waiting = seed_state(sqlite_store, run.id, status=Status.waiting, phase=Phase.plan_approval)
    result = Intents(sqlite_store).apply(waiting, ApprovePlan("carol"))
    assert result.enqueue and (result.run.status, result.run.phase) == (Status.queued, Phase.setup)
    assert len(sqlite_store.events(run.id, EventKind.plan_approved)) == 1


def test_release_gate_approves_only_a_gated_run(sqlite_store: Store) -> None:
    run = seed_state(
        sqlite_store, new_run(sqlite_store).id, status=Status.needs_approval, phase=Phase.done
    )
    result = Intents(sqlite_store).apply(run, ReleaseGate("owner"))
    assert result.run.status == Status.approved and result.run.status_reason == "released by @owner"
    again = Intents(sqlite_store).apply(result.run, ReleaseGate("owner"))
    assert not again.applied


def test_the_store_refuses_state_writes_outside_the_core(sqlite_store: Store) -> None:
    run = new_run(sqlite_store)
    with pytest.raises(StoreError, match="cannot set status"):
        sqlite_store.update_run(run.id, status="approved")
