"""The task queue on SQLite and on the machine's Redis, over real connections and consumers."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bot.jobs.outbox import Outbox
from bot.jobs.queue import TaskQueue, make_huey
from bot.shared.errors import ConfigError, QueueError
from bot.store.runs import Store
from bot.store.vocabulary import DeliveryState


def test_an_enqueued_delivery_and_run_reach_the_bound_handlers(queue: TaskQueue) -> None:
    seen: list[object] = []
    both = threading.Event()

    def record(item: object) -> None:
        seen.append(item)
        if len(seen) == 2:
            both.set()

    queue.bind(record, record)
    queue.enqueue_delivery("d-1")
    queue.enqueue_run(42)
    consumer = queue.consumer(1, embedded=True)
    consumer.start()
    try:
        assert both.wait(30), f"the consumer ran {seen}"
    finally:
        consumer.stop(graceful=True)
    assert sorted(map(str, seen)) == ["42", "d-1"]


def test_pending_tasks_are_counted_until_consumed(queue: TaskQueue) -> None:
    assert queue.ping() == 0
    queue.enqueue_run(1)
    queue.enqueue_run(2)
    assert queue.ping() == 2


def test_a_task_enqueued_by_one_process_is_seen_by_another_queue_instance(
    queue: TaskQueue,
) -> None:
    queue.enqueue_run(7)
    other = TaskQueue(queue.huey.__class__(queue.huey.name, **_connection(queue)))
    assert other.ping() == 1


def test_the_outbox_moves_stored_deliveries_into_the_queue(
    sqlite_store: Store, queue: TaskQueue
) -> None:
    kwargs = dict(event="issues", action="labeled", installation_id=1, repo="o/r", command="{}")
    for delivery_id in ("a", "b", "c"):
        sqlite_store.record_delivery(delivery_id, outcome=DeliveryState.queued, **kwargs)  # type: ignore[arg-type]
    assert Outbox(sqlite_store, queue).drain() == 3
    assert queue.ping() == 3
    assert sqlite_store.count_deliveries("dispatched") == 3
    assert Outbox(sqlite_store, queue).drain() == 0


def test_a_redis_url_names_its_queue_and_keeps_its_database() -> None:
    huey = make_huey("redis://127.0.0.1:6379/15?queue=draftsmith-named")
    assert huey.name == "draftsmith-named"
    kwargs = huey.storage.conn.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("127.0.0.1", 6379, 15)


@pytest.mark.parametrize("url", ["amqp://127.0.0.1/", "sqlite:///"])
def test_an_unusable_queue_url_is_a_clear_config_error(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make_huey(url)
    assert caught.value.hint and "sqlite:///" in caught.value.hint


def test_a_queue_file_that_cannot_be_opened_is_a_queue_error(tmp_path: Path) -> None:
    (tmp_path / "queue.db").mkdir()  # a directory where the file should be
    with pytest.raises(QueueError) as caught:
        make_huey(f"sqlite:///{tmp_path / 'queue.db'}")
    assert "queue.db" in caught.value.message and caught.value.hint


def _connection(queue: TaskQueue) -> dict[str, object]:
    storage = queue.huey.storage
    if hasattr(storage, "filename"):
        return {"filename": storage.filename}
    return {"connection_pool": storage.pool}
