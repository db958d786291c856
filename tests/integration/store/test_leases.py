"""Leases with a heartbeat on SQLite and PostgreSQL: a dead worker's run and delivery are taken
over by the reaper, once; a live holder keeps them."""

from __future__ import annotations

import threading

from bot.jobs.leases import Heartbeat, Leases
from bot.run.lifecycle import Lifecycle
from bot.run.transitions import Move
from bot.store.runs import Store
from bot.store.vocabulary import DeliveryState


def new_run(store: Store, issue: int = 1) -> int:
    run, _ = store.create_run(
        repo="octo/repo", issue_number=issue, clone_url="file:///x", title="t", request="r"
    )
    return run.id


def record(store: Store, delivery_id: str) -> None:
    kwargs = dict(event="issues", action="labeled", installation_id=1, repo="o/r", command="{}")
    store.record_delivery(delivery_id, outcome=DeliveryState.queued, **kwargs)  # type: ignore[arg-type]


def test_a_run_whose_holder_stopped_renewing_is_taken_over_once(store: Store) -> None:
    run_id = new_run(store)
    Lifecycle(store).request(run_id, Move.start)
    dead = Leases(store, ttl_s=-1, stale_s=3600)  # its lease ran out at once
    assert dead.claim_run(run_id, "host:1#1")
    live = Leases(store, ttl_s=60, stale_s=3600)
    assert live.reap().runs == [run_id]
    assert live.reap().runs == []  # a second reaper finds nothing left to take
    run = store.get_run(run_id)
    assert run.locked_by is None and run.locked_until is None
    assert live.claim_run(run_id, "host:2#1")


def test_a_renewed_lock_is_not_taken_over(store: Store) -> None:
    run_id = new_run(store)
    leases = Leases(store, ttl_s=60, stale_s=3600)
    assert leases.claim_run(run_id, "host:1#1")
    assert leases.renew_run(run_id, "host:1#1")
    assert leases.reap().runs == []
    assert not leases.claim_run(run_id, "host:2#1")


def test_only_the_holder_renews_a_lock(store: Store) -> None:
    run_id = new_run(store)
    leases = Leases(store, ttl_s=60, stale_s=3600)
    assert leases.claim_run(run_id, "host:1#1")
    assert not leases.renew_run(run_id, "host:2#1")


def test_an_unlocked_run_nobody_touched_is_queued_again_and_a_finished_one_is_not(
    store: Store,
) -> None:
    waiting, finished = new_run(store, 1), new_run(store, 2)
    Lifecycle(store).request(finished, Move.start)
    Lifecycle(store).request(finished, Move.stop)
    stale = Leases(store, ttl_s=60, stale_s=-1)  # everything is older than "stale"
    assert stale.reap().runs == [waiting]
    assert Leases(store, ttl_s=60, stale_s=3600).reap().runs == []  # touched by the first reap


def test_a_delivery_held_by_a_dead_worker_is_dispatched_again_and_claimed_once(
    store: Store,
) -> None:
    record(store, "d-1")
    assert store.claim_delivery("d-1")
    assert Leases(store, ttl_s=60, stale_s=3600).reap().deliveries == []  # still alive
    assert Leases(store, ttl_s=-1, stale_s=3600).reap().deliveries == ["d-1"]
    delivery = store.get_delivery("d-1")
    assert delivery is not None and delivery.outcome == DeliveryState.dispatched
    assert store.claim_delivery("d-1") and not store.claim_delivery("d-1")


def test_a_delivery_whose_heartbeat_is_renewed_stays_with_its_worker(store: Store) -> None:
    record(store, "d-2")
    assert store.claim_delivery("d-2")
    leases = Leases(store, ttl_s=60, stale_s=3600)
    assert leases.renew_delivery("d-2")
    assert leases.reap().deliveries == []
    store.finish_delivery("d-2", "processed")
    assert not leases.renew_delivery("d-2")  # a finished delivery has no lease


def test_a_dispatched_delivery_whose_message_was_lost_is_dispatched_again(store: Store) -> None:
    record(store, "d-3")
    store.mark_dispatched(["d-3"])
    assert Leases(store, ttl_s=60, stale_s=3600).reap().deliveries == []
    assert Leases(store, ttl_s=60, stale_s=-1).reap().deliveries == ["d-3"]


def test_a_heartbeat_beats_while_its_block_runs_and_stops_after(sqlite_store: Store) -> None:
    beats: list[int] = []
    twice = threading.Event()

    def beat() -> bool:
        beats.append(1)
        if len(beats) >= 2:
            twice.set()
        return True

    heartbeat = Heartbeat(0.05, beat, "test")
    with heartbeat:
        assert twice.wait(10)
    assert not heartbeat._thread.is_alive()  # joined on leaving the block: no beat after it
