"""The huey queue: SqliteHuey by default, RedisHuey when DRAFTSMITH_QUEUE_URL is redis://.

A message only says "handle delivery X" or "advance run N"; the store holds everything else.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse, urlunparse

from huey import Huey, RedisHuey, SqliteHuey
from huey.consumer import Consumer

from bot.shared.errors import ConfigError, QueueError

logger = logging.getLogger(__name__)


def make_huey(queue_url: str) -> Huey:
    """The huey instance for a queue URL (`sqlite:///FILE` or `redis://HOST:PORT/DB`).

    A Redis URL may name the queue with `?queue=NAME` (default `draftsmith`), so deployments
    sharing one Redis database keep their tasks apart."""
    parsed = urlparse(queue_url)
    if parsed.scheme in ("redis", "rediss"):
        query = parse_qs(parsed.query)
        name = query.pop("queue", ["draftsmith"])[0]
        url = urlunparse(parsed._replace(query=urlencode(query, doseq=True)))
        return RedisHuey(name, url=url)
    if parsed.scheme == "sqlite":
        filename = queue_url.removeprefix("sqlite:///")
        if not filename:
            raise ConfigError(
                f"DRAFTSMITH_QUEUE_URL={queue_url} names no file",
                "use sqlite:///path/to/queue.db or redis://host:6379/0",
            )
        Path(filename).parent.mkdir(parents=True, exist_ok=True)
        try:
            return SqliteHuey("draftsmith", filename=filename)
        except sqlite3.Error as exc:
            raise QueueError(
                f"cannot open the queue file {filename}: {exc}",
                "point DRAFTSMITH_QUEUE_URL at a writable file, sqlite:///path/to/queue.db",
            ) from exc
    raise ConfigError(
        f"unsupported DRAFTSMITH_QUEUE_URL scheme {parsed.scheme!r}",
        "use sqlite:///path/to/queue.db (default) or redis://host:6379/0",
    )


class EmbeddedConsumer(Consumer):  # type: ignore[misc]
    """Consumer threads inside the web server: the server owns the process's signals."""

    def _set_signal_handlers(self) -> None:
        return None


class TaskQueue:
    """The tasks Draftsmith queues (handle a delivery, advance a run, end a run's wait on the
    model), registered on one huey instance."""

    def __init__(self, huey: Huey) -> None:
        self.huey = huey
        self._on_delivery: Callable[[str], None] | None = None
        self._on_advance: Callable[[int], None] | None = None
        self._on_resume: Callable[[int, int], None] | None = None
        self._delivery_task = huey.task(name="handle_delivery", retries=2, retry_delay=5)(
            self._handle_delivery
        )
        self._advance_task = huey.task(name="advance_run")(self._advance_run)
        self._resume_task = huey.task(name="resume_run")(self._resume_run)

    def bind(
        self,
        on_delivery: Callable[[str], None],
        on_advance: Callable[[int], None],
        on_resume: Callable[[int, int], None] | None = None,
    ) -> None:
        """Set what the consumer does for each task (the worker's composition root calls this);
        `on_resume` is kept when not given."""
        self._on_delivery = on_delivery
        self._on_advance = on_advance
        if on_resume is not None:
            self._on_resume = on_resume

    def _resume_run(self, run_id: int, wait_number: int) -> None:
        if self._on_resume is None:
            raise QueueError("resume_run ran on a queue with no handler bound")
        self._on_resume(run_id, wait_number)

    def _handle_delivery(self, delivery_id: str) -> None:
        if self._on_delivery is None:
            raise QueueError("handle_delivery ran on a queue with no handler bound")
        self._on_delivery(delivery_id)

    def _advance_run(self, run_id: int) -> None:
        if self._on_advance is None:
            raise QueueError("advance_run ran on a queue with no handler bound")
        self._on_advance(run_id)

    def enqueue_delivery(self, delivery_id: str) -> None:
        """Queue the handling of a stored delivery."""
        self._call(self._delivery_task, delivery_id)

    def enqueue_run(self, run_id: int) -> None:
        """Queue one advance of a run."""
        self._call(self._advance_task, run_id)

    def enqueue_run_later(self, run_id: int, delay_s: float) -> None:
        """Queue one advance of a run after `delay_s` seconds (held by a concurrency cap)."""
        self._schedule(self._advance_task, (run_id,), delay_s)

    def schedule_resume(self, run_id: int, wait_number: int, delay_s: float) -> None:
        """Queue the end of a run's wait on the model endpoint, `delay_s` seconds from now."""
        self._schedule(self._resume_task, (run_id, wait_number), delay_s)

    def _schedule(self, task: Any, args: tuple[Any, ...], delay_s: float) -> None:
        try:
            task.schedule(args=args, delay=max(0.0, delay_s))
        except Exception as exc:  # the driver's own error types differ per backend
            raise QueueError(
                f"cannot schedule: {exc.__class__.__name__}: {exc}",
                "check DRAFTSMITH_QUEUE_URL and that Redis (or the queue file) is reachable",
            ) from exc

    def _call(self, task: Any, arg: Any) -> None:
        try:
            task(arg)
        except Exception as exc:  # the driver's own error types differ per backend
            raise QueueError(
                f"cannot enqueue: {exc.__class__.__name__}: {exc}",
                "check DRAFTSMITH_QUEUE_URL and that Redis (or the queue file) is reachable",
            ) from exc

    def ping(self) -> int:
        """Pending task count; raises QueueError when the queue cannot be reached."""
        try:
            return int(self.huey.pending_count())
        except Exception as exc:
            raise QueueError(f"queue unreachable: {exc}", "check DRAFTSMITH_QUEUE_URL") from exc

    def consumer(self, workers: int, *, embedded: bool = False) -> Consumer:
        """Consumer threads: `embedded` ones `.start()` inside the server, else `.run()`."""
        options: dict[str, Any] = dict(
            workers=workers,
            worker_type="thread",
            periodic=False,
            check_worker_health=True,
            initial_delay=0.05,
            backoff=1.15,
            max_delay=1.0,
        )
        if embedded:
            return EmbeddedConsumer(self.huey, **options)
        return self.huey.create_consumer(**options)
