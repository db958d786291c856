"""The run store on SQLite and on the machine's PostgreSQL, over real connections."""

from __future__ import annotations

import threading

import pytest

from bot.run.lifecycle import Lifecycle
from bot.run.states import Phase, Status
from bot.run.transitions import Move
from bot.shared.errors import ActiveRunConflict, StoreError
from bot.store.runs import Store
from bot.store.vocabulary import DeliveryState, EventKind
from tests.helpers.runs import seed_state


def new_run(store: Store, issue: int = 1) -> tuple[int, bool]:
    run, created = store.create_run(
        repo="octo/repo", issue_number=issue, clone_url="file:///x", title="t", request="r"
    )
    return run.id, created


def test_a_delivery_id_is_recorded_once(store: Store) -> None:
    kwargs = dict(event="issues", action="labeled", installation_id=1, repo="o/r", command=None)
    assert store.record_delivery("abc", outcome=DeliveryState.queued, **kwargs) is True  # type: ignore[arg-type]
    assert store.record_delivery("abc", outcome=DeliveryState.queued, **kwargs) is False  # type: ignore[arg-type]
    assert store.count_deliveries() == 1


def test_one_issue_never_has_two_active_runs(store: Store) -> None:
    first, created = new_run(store)
    again, created_again = new_run(store)
    assert created and not created_again and again == first
    seed_state(store, first, status=Status.failed, status_reason="boom")
    third, created_third = new_run(store)
    assert created_third and third != first


def test_concurrent_creation_for_one_issue_creates_one_run(store: Store) -> None:
    results: list[tuple[int, bool]] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        barrier.wait()
        results.append(new_run(store, issue=99))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(created for _, created in results) == 1
    assert len({run_id for run_id, _ in results}) == 1


def test_only_one_worker_holds_a_run_lock(store: Store) -> None:
    run_id, _ = new_run(store)
    assert store.claim_run(run_id, "w1", ttl_s=60)
    assert not store.claim_run(run_id, "w2", ttl_s=60)
    store.release_run(run_id, "w1")
    assert store.claim_run(run_id, "w2", ttl_s=60)


def test_an_expired_lock_can_be_taken_over(store: Store) -> None:
    run_id, _ = new_run(store)
    assert store.claim_run(run_id, "dead-worker", ttl_s=-1)
    assert store.claim_run(run_id, "w2", ttl_s=60)


def test_a_delivery_is_claimed_by_one_worker(store: Store) -> None:
    store.record_delivery(
        "d",
        event="issues",
        action="labeled",
        installation_id=1,
        repo="o/r",
        command="{}",
        outcome=DeliveryState.queued,
    )
    assert store.claim_delivery("d") is True
    assert store.claim_delivery("d") is False


def test_events_are_appended_in_order_and_inputs_consumed_once(store: Store) -> None:
    run_id, _ = new_run(store)
    store.add_event(run_id, "input", "use a dataclass", {"author": "octocat"})
    store.add_event(run_id, "phase", "planning -> coding")
    kinds = [e.kind for e in store.events(run_id)]
    assert kinds == [EventKind.created, EventKind.input, EventKind.phase]
    assert [e.message for e in store.take_inputs(run_id)] == ["use a dataclass"]
    assert store.take_inputs(run_id) == []


def test_the_newest_artifact_of_a_name_wins(store: Store) -> None:
    run_id, _ = new_run(store)
    store.put_artifact(run_id, "plan", {"v": 1})
    store.put_artifact(run_id, "plan", {"v": 2})
    artifact = store.get_artifact(run_id, "plan")
    assert artifact is not None and artifact.content.count('"v": 2') == 1
    assert artifact.media_type == "application/json"


def test_usage_adds_up_atomically(store: Store) -> None:
    run_id, _ = new_run(store)
    store.add_usage(run_id, tokens=100, cost_usd=0.5, tool_calls=2)
    store.add_usage(run_id, tokens=50, cost_usd=0.25)
    run = store.get_run(run_id)
    assert (run.tokens_used, run.cost_usd, run.tool_calls) == (150, 0.75, 2)


def test_a_finished_run_can_be_reopened_unless_the_issue_has_another(store: Store) -> None:
    run_id, _ = new_run(store)
    lifecycle = Lifecycle(store)
    lifecycle.request(run_id, Move.start)
    lifecycle.request(run_id, Move.give_up, reason="no revisions left")
    reopened = lifecycle.request(run_id, Move.reopen, revision_step=1)
    assert reopened is not None and (reopened.status, reopened.phase) == (
        Status.queued,
        Phase.coding,
    )
    lifecycle.request(run_id, Move.start)
    lifecycle.request(run_id, Move.fail, reason="clone failed")
    other, _ = new_run(store)
    with pytest.raises(ActiveRunConflict):
        lifecycle.request(run_id, Move.reopen, revision_step=1)
    assert store.get_run(other).status == Status.queued
    assert store.get_run(run_id).status == Status.failed


def test_state_is_written_only_by_the_run_core(store: Store) -> None:
    run_id, _ = new_run(store)
    with pytest.raises(StoreError, match="cannot set phase, status"):
        store.update_run(run_id, status="approved", phase="done")
    assert store.get_run(run_id).status == Status.queued


def test_unknown_run_is_a_clear_error(store: Store) -> None:
    with pytest.raises(StoreError, match="no run 12345"):
        store.get_run(12345)


def test_an_unreachable_database_is_a_store_error() -> None:
    store = Store("postgresql+psycopg://postgres@127.0.0.1:1/none")
    with pytest.raises(StoreError, match="unavailable|cannot migrate"):
        store.ping()


def test_installations_follow_github(store: Store) -> None:
    store.upsert_installation(
        5, account_login="octo", account_type="Organization", repositories=["octo/a"]
    )
    store.change_installation_repos(5, added=["octo/b"], removed=["octo/a"])
    inst = store.get_installation(5)
    assert inst is not None and inst.repositories == ["octo/b"]
    store.deactivate_installation(5)
    inst = store.get_installation(5)
    assert inst is not None and inst.active is False


def test_a_runs_title_and_request_are_stored_masked(store: Store) -> None:
    token = "ghp_" + "A1b2C3d4E5" * 4
    run, _ = store.create_run(
        repo="o/r", issue_number=99, clone_url="file:///x",
        title=f"Fix login ({token})", request=f"The token {token} leaks in logs",
    )  # fmt: skip
    stored = store.get_run(run.id)
    assert token not in stored.title and token not in stored.request
    assert stored.title.startswith("Fix login (") and "leaks in logs" in stored.request
