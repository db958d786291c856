"""A `draftsmith worker` process dispatches what a server stored after it started.

The server without the embedded worker only writes the delivery (no outbox in its interpreter);
each worker runs the outbox and finds new deliveries by polling the store.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bot.steering.commands import dump_command
from bot.store.runs import Store
from bot.store.vocabulary import DeliveryState
from webhooks.routing import route

FIXTURE = Path(__file__).parents[2] / "fixtures" / "webhooks" / "issues.labeled.json"


def record(store: Store, delivery_id: str) -> None:
    """Store a real `issues.labeled` delivery as the webhook does (outcome `queued`)."""
    command = dump_command(route("issues", json.loads(FIXTURE.read_text())))  # type: ignore[arg-type]
    store.record_delivery(
        delivery_id,
        event="issues",
        action="labeled",
        installation_id=1,
        repo="o/r",
        command=command,
        outcome=DeliveryState.queued,
    )


# Not ended: waiting for a worker, or claimed by one (`processing`) and not yet finished. A poll
# between the claim and the finish sees `processing`; taking that for an end made the test flaky.
UNFINISHED = {DeliveryState.queued, DeliveryState.dispatched, DeliveryState.processing}


def wait_ended(store: Store, delivery_id: str, timeout_s: float, log: Path) -> DeliveryState:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        outcome = store.get_delivery(delivery_id).outcome
        if outcome not in UNFINISHED:
            return DeliveryState(outcome)
        time.sleep(0.1)
    outcome = store.get_delivery(delivery_id).outcome
    raise AssertionError(f"{delivery_id} still {outcome}; the worker's log:\n{log.read_text()}")


def test_a_worker_dispatches_deliveries_stored_after_it_started(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.migrate()
    env = {
        **os.environ,
        "DRAFTSMITH_DATABASE_URL": store.url,
        "DRAFTSMITH_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}",
        "DRAFTSMITH_WORK_DIR": str(tmp_path / "work"),
        "DRAFTSMITH_CATCHUP_INTERVAL_S": "0",
    }
    record(store, "before")
    log_path = tmp_path / "worker.log"
    log = log_path.open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "worker", "--workers", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        # Recovered at the worker's start: this shows the worker is up.
        assert (
            wait_ended(store, "before", 60, log_path) == DeliveryState.failed
        )  # no App configured
        record(store, "after")
        # Nobody notifies the worker: only its outbox, polling the store, can dispatch this one.
        assert wait_ended(store, "after", 15, log_path) == DeliveryState.failed
    finally:
        worker.kill()
        worker.wait(30)
        log.close()
    text = log_path.read_text()
    assert "Traceback" not in text
    assert text.count("the GitHub App is not configured") >= 2, text
