"""The composition root: settings, store, queue, GitHub and the run engine, wired once.

The run core (bot/run) types against its ports (`bot.run.ports`); the concrete adapters are
built here and passed in: the `Store`, an `InstallationEffects` per GitHub run, a `ModelClient`
per run (`model_client`) and the process's sandbox (`bot.sandbox.choose`). `build_engine` is
the one place an `Engine` is put together (`draftsmith run` uses it too).

The package also holds the two other things that build concrete adapters from settings:
`local` (drive a run on a local git repository, for `draftsmith run`, the demo and the Action)
and `doctor` (check each dependency the settings name).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from huey.consumer import Consumer

from bot.github.client import GitHubGateway, InstallationClient
from bot.github.effects import InstallationEffects
from bot.jobs.leases import Leases
from bot.jobs.outbox import Outbox
from bot.jobs.queue import TaskQueue, make_huey
from bot.model.client import ModelClient
from bot.observe.progress import post_progress
from bot.policy.decide import RepoConfig
from bot.run.states import ACTIVE, Status
from bot.shared.config import Settings
from bot.shared.errors import ConfigError, DraftsmithError
from bot.steering.commands import RepoRef, load_command
from bot.steering.handlers import Handlers
from bot.store.runs import Store
from bot.store.tables import Run, utcnow
from bot.store.vocabulary import DeliveryState

if TYPE_CHECKING:
    from bot.run.engine import Engine

logger = logging.getLogger(__name__)

RUN_PERMISSIONS = {
    "contents": "write",
    "pull_requests": "write",
    "issues": "write",
    "checks": "write",
    "metadata": "read",
    "members": "read",
}


def _dead_local_worker(worker: str, host: str) -> bool:
    """Whether `worker` (host:pid#thread) ran on this host and its process is gone."""
    name, _, pid = worker.partition("#")[0].rpartition(":")
    if name != host or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def setup_process(settings: Settings) -> None:
    """JSON logs with every record masked: the bot's secrets and common credential patterns."""
    from bot.observe.logs import configure_logging
    from bot.observe.telemetry import TraceLogFilter, configure_tracing
    from bot.security.masking import Masker, install_masking, set_process_masker

    extra = [v for v in (os.environ.get("OPENAI_API_KEY"),) if v and len(v) >= 8]
    configure_logging(settings.log_level, filters=[TraceLogFilter()])
    masker = Masker.from_settings(settings, extra=extra)
    set_process_masker(masker)  # prompts, artifacts and GitHub request bodies use it too
    install_masking(masker)
    configure_tracing()


def model_client(settings: Settings, config: RepoConfig | None) -> ModelClient:
    """The model client of a run, with the repository's per-role models."""
    models = {}
    if config is not None:
        models = {k: v for k, v in config.models.model_dump().items() if v}
    return ModelClient(settings, models=models)


def build_engine(
    settings: Settings,
    store: Store,
    *,
    on_progress: Callable[[Run], None] | None = None,
    github_for_run: Callable[[Run], InstallationClient] | None = None,
) -> Engine:
    """The run core's engine on the concrete adapters: this store, the process's sandbox, a
    model client per run and (GitHub runs) the installation's client behind the GitHub port."""
    from bot.run.engine import Engine
    from bot.sandbox.choose import get_sandbox

    def effects(run: Run) -> InstallationEffects:
        assert github_for_run is not None
        return InstallationEffects(github_for_run(run))

    return Engine(
        settings,
        store,
        sandbox_factory=lambda: get_sandbox(settings),
        llm_factory=lambda config: model_client(settings, config),
        on_progress=on_progress,
        github_for_run=effects if github_for_run is not None else None,
    )


@dataclass
class Runtime:
    """Everything a server or worker process needs, built from Settings."""

    settings: Settings
    store: Store
    queue: TaskQueue
    gateway: GitHubGateway | None
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    _consumer: Consumer | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _engine: Engine | None = None
    outbox: Outbox = field(init=False)
    leases: Leases = field(init=False)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        gateway: GitHubGateway | None = None,
        queue: TaskQueue | None = None,
    ) -> Runtime:
        """Wire a runtime; the GitHub gateway is built when the App is configured, the queue
        from DRAFTSMITH_QUEUE_URL unless one is given (`draftsmith action` drains its own)."""
        if gateway is None and settings.github_app_id is not None:
            gateway = GitHubGateway.from_settings(settings)
        runtime = cls(
            settings=settings,
            store=Store(settings.database_url),
            queue=queue or TaskQueue(make_huey(settings.queue_url)),
            gateway=gateway,
        )
        runtime.queue.bind(runtime.handle_delivery, runtime.advance, runtime.resume)
        runtime.outbox = Outbox(runtime.store, runtime.queue)
        runtime.leases = Leases(
            runtime.store, ttl_s=settings.lease_ttl_s, stale_s=settings.stale_run_s
        )
        return runtime

    # GitHub ------------------------------------------------------------------------------
    def github_for(self, repo: RepoRef) -> InstallationClient:
        """A client acting as the repository's installation, scoped to that repository."""
        if self.gateway is None:
            raise ConfigError(
                "the GitHub App is not configured",
                "set DRAFTSMITH_GITHUB_APP_ID and DRAFTSMITH_GITHUB_PRIVATE_KEY(_PATH)",
            )
        if repo.installation_id is None:
            raise ConfigError(
                f"delivery for {repo.full_name} names no installation",
                "deliveries must come from the GitHub App's webhook, not a repository webhook",
            )
        name = repo.full_name.split("/", 1)[1]
        return self.gateway.installation(repo.installation_id, [name], RUN_PERMISSIONS)

    def github_for_run(self, run: Run) -> InstallationClient:
        """A client acting as the installation of a run's repository."""
        ref = RepoRef(
            full_name=run.repo, clone_url=run.clone_url, installation_id=run.installation_id
        )
        return self.github_for(ref)

    def post_progress(self, run: Run) -> None:
        """Update a GitHub run's progress comment (local runs have none)."""
        if run.installation_id is None or self.gateway is None:
            return
        post_progress(self.store, self.github_for_run(run), run)

    @property
    def engine(self) -> Engine:
        """The run core's engine (built on first use)."""
        if self._engine is None:
            self._engine = build_engine(
                self.settings,
                self.store,
                on_progress=self.post_progress,
                github_for_run=self.github_for_run if self.gateway is not None else None,
            )
        return self._engine

    # tasks -------------------------------------------------------------------------------
    def handle_delivery(self, delivery_id: str) -> None:
        """Task: execute the command stored with a delivery, once."""
        log = {"delivery_id": delivery_id}
        if not self.store.claim_delivery(delivery_id):
            logger.info("delivery already handled or being handled", extra=log)
            return
        delivery = self.store.get_delivery(delivery_id)
        assert delivery is not None and delivery.command is not None
        handlers = Handlers(self.settings, self.store, self.queue, self.github_for)
        try:
            with self.leases.delivery_heartbeat(delivery_id):
                outcome = handlers.handle(load_command(delivery.command), delivery_id)
        except DraftsmithError as exc:
            logger.error("delivery failed: %s", exc, extra=log)
            self.store.finish_delivery(delivery_id, DeliveryState.failed, str(exc))
            return
        except Exception as exc:
            logger.exception("delivery failed unexpectedly", extra=log)
            self.store.finish_delivery(
                delivery_id, DeliveryState.failed, f"{exc.__class__.__name__}: {exc}"
            )
            return
        logger.info("delivery %s: %s", outcome.status, outcome.detail, extra=log)
        self.store.finish_delivery(delivery_id, outcome.status, outcome.detail)

    def advance(self, run_id: int) -> None:
        """Task: advance a run by one phase under its lock, then queue the next step.

        A queued run over a concurrency cap is not started: it looks again later. A run that
        ends the step waiting on the model endpoint gets its resume scheduled. The lock is a
        lease renewed by a heartbeat while the step runs (bot/jobs/leases.py)."""
        from bot.run.capacity import room_for, start_when_room

        log = {"run_id": run_id}
        owner = f"{self.worker_id}#{threading.get_ident()}"  # one holder per consumer thread
        if not self.leases.claim_run(run_id, owner):
            logger.info("run locked by another worker", extra=log)
            return
        try:
            queued = self.store.get_run(run_id)
            if queued.status == Status.queued:
                started = start_when_room(self.engine.lifecycle, queued, self.settings)
                if started is None and self.store.get_run(run_id).status == Status.queued:
                    room = room_for(self.store, queued, self.settings)
                    logger.info("run held in the queue: %s", room.detail, extra=log)
                    self.queue.enqueue_run_later(run_id, self.settings.queue_recheck_s)
                    return
            with self.leases.run_heartbeat(run_id, owner):
                run = self.engine.advance(run_id)
        finally:
            self.store.release_run(run_id, owner)
        if run.status in ACTIVE:
            self.queue.enqueue_run(run_id)
        elif run.status == Status.waiting_for_model:
            self.schedule_resume(run_id)

    def schedule_resume(self, run_id: int) -> None:
        """Schedule the end of a run's current wait on the model endpoint."""
        from bot.run import waiting

        wait = waiting.current_wait(self.store, run_id)
        if wait is None:
            logger.error("run waits for the model with no wait recorded", extra={"run_id": run_id})
            return
        delay = waiting.seconds_until(wait.resume_at)
        self.queue.schedule_resume(run_id, wait.number, delay)
        logger.info(
            "run waits for the model endpoint; resumes in %.1fs", delay, extra={"run_id": run_id}
        )

    def resume(self, run_id: int, wait_number: int) -> None:
        """Task: end wait `wait_number` of a run and queue its step (duplicates do nothing)."""
        from bot.run import waiting

        outcome = waiting.resume(self.engine.lifecycle, run_id, wait_number, utcnow())
        if isinstance(outcome, waiting.Wait):  # fired early: schedule it for its time again
            self.queue.schedule_resume(
                run_id, wait_number, waiting.seconds_until(outcome.resume_at)
            )
        elif outcome is not None:
            self.post_progress(outcome)
            self.queue.enqueue_run(run_id)

    def recover(self) -> tuple[int, int]:
        """Re-queue unfinished runs and deliveries left by a stopped worker; returns the counts."""
        self.leases.reap()  # whatever it takes back is re-queued below with the rest
        runs = self.store.unfinished_runs()
        host = socket.gethostname()
        for run in runs:
            if run.locked_by and _dead_local_worker(run.locked_by, host):
                logger.warning(
                    "releasing the lock of dead worker %s", run.locked_by, extra={"run_id": run.id}
                )
                self.store.release_run(run.id, run.locked_by)
            self.queue.enqueue_run(run.id)
        from bot.run import waiting

        for run, _ in waiting.waiting_runs(self.store):
            self.schedule_resume(run.id)  # its scheduled task may have died with the queue
        deliveries = self.store.unprocessed_deliveries()
        for delivery_id in deliveries:
            self.queue.enqueue_delivery(delivery_id)
        if runs or deliveries:
            logger.info("recovered %d runs and %d deliveries", len(runs), len(deliveries))
        return len(runs), len(deliveries)

    # processes ---------------------------------------------------------------------------
    def start_server(self, embedded_worker: bool = True) -> None:
        """The server's background work: catch-up and, embedded, the outbox and consumer threads.

        Without the embedded worker the server only stores deliveries: the outbox runs in each
        `draftsmith worker` (`run_worker`), off the server's interpreter and its ack path.
        """
        if embedded_worker:
            self.outbox.start()
            self._consumer = self.queue.consumer(self.settings.workers, embedded=True)
            self._consumer.start()
            self.recover()
            self.start_reaper()
        self.start_catch_up()

    def start_embedded(self) -> None:
        """Start the server's background work with consumer threads in this process."""
        self.start_server(embedded_worker=True)

    def start_catch_up(self) -> None:
        """Start the periodic redelivery of failed deliveries (needs the App's credentials)."""
        if self.gateway is None or self.settings.catchup_interval_s == 0:
            logger.info("catch-up of failed deliveries disabled (no App credentials or interval 0)")
            return
        thread = threading.Thread(target=self._catch_up_loop, name="catch-up", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _catch_up_loop(self) -> None:
        from bot.github.client import catch_up

        assert self.gateway is not None
        while not self._stopping.is_set():
            try:
                redelivered = catch_up(self.gateway)
                if redelivered:
                    logger.info("asked GitHub to redeliver %d failed deliveries", len(redelivered))
            except DraftsmithError as exc:
                logger.warning("catch-up of failed deliveries failed: %s", exc)
            self._stopping.wait(self.settings.catchup_interval_s)

    def start_reaper(self) -> None:
        """Take over, every heartbeat, the runs and deliveries of workers that died."""
        thread = threading.Thread(target=self._reaper_loop, name="reaper", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _reaper_loop(self) -> None:
        while not self._stopping.wait(self.leases.heartbeat_s):
            try:
                reaped = self.leases.reap()
                for run_id in reaped.runs:
                    self.queue.enqueue_run(run_id)
                for delivery_id in reaped.deliveries:
                    self.queue.enqueue_delivery(delivery_id)
            except DraftsmithError as exc:
                logger.warning("taking over the work of dead workers failed: %s", exc)

    def run_worker(self, workers: int) -> None:
        """Run consumers in the foreground until interrupted (`draftsmith worker`).

        The worker runs the outbox too: it finds the deliveries the server stored by polling the
        store (a second at most; another process cannot wake it). Two workers may enqueue one
        delivery twice; `claim_delivery` lets only one of them handle it.
        """
        self.recover()
        self.start_reaper()
        self.outbox.start()
        self.queue.consumer(workers).run()

    def stop(self) -> None:
        """Stop consumers and loops started by this runtime."""
        self._stopping.set()
        self.outbox.stop()
        if self._consumer is not None:
            self._consumer.stop(graceful=True)
        for thread in self._threads:
            thread.join(timeout=5)
