"""The outbox: accepted deliveries move from the run store into the queue off the ack path.

The webhook only writes the delivery (outcome `queued`); a thread of the process that runs the
consumers enqueues what is waiting and marks it `dispatched`. In `draftsmith serve` with the
embedded worker the webhook wakes it at once; each `draftsmith worker` polls the store every
`retry_interval_s`, so a server without the embedded worker spends nothing past the INSERT on a
delivery. A queue that is down delays work and loses nothing: the deliveries wait in the store and
go out when it answers again.
"""

from __future__ import annotations

import logging
import threading

from bot.jobs.queue import TaskQueue
from bot.shared.errors import DraftsmithError
from bot.store.runs import Store

logger = logging.getLogger(__name__)

BATCH = 500


class Outbox:
    """Moves `queued` deliveries into the task queue; `notify()` wakes it at once."""

    def __init__(self, store: Store, queue: TaskQueue, *, retry_interval_s: float = 1.0) -> None:
        self.store = store
        self.queue = queue
        self.retry_interval_s = retry_interval_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def notify(self) -> None:
        """A delivery was stored: dispatch soon."""
        self._wake.set()

    def drain(self) -> int:
        """Enqueue every waiting delivery; returns how many went out."""
        sent = 0
        while True:
            ids = self.store.deliveries_to_dispatch(BATCH)
            if not ids:
                return sent
            for delivery_id in ids:
                self.queue.enqueue_delivery(delivery_id)
            self.store.mark_dispatched(ids)
            sent += len(ids)

    def start(self) -> None:
        """Run the outbox in a daemon thread until `stop()`."""
        self._thread = threading.Thread(target=self._loop, name="outbox", daemon=True)
        self._thread.start()
        self._wake.set()

    def stop(self) -> None:
        """Stop the thread (deliveries still waiting stay in the store)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        failing = False
        while not self._stop.is_set():
            self._wake.wait(self.retry_interval_s)
            self._wake.clear()
            try:
                self.drain()
                if failing:
                    logger.info("queue reachable again; waiting deliveries dispatched")
                failing = False
            except DraftsmithError as exc:
                if not failing:
                    logger.error("deliveries wait in the store, the queue is unreachable: %s", exc)
                failing = True
