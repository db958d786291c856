"""The run store: SQLAlchemy 2 models and the queries Draftsmith makes.

The store is the source of truth; a queue message only says "advance run N". SQLite by default,
PostgreSQL when `DRAFTSMITH_DATABASE_URL=postgresql+psycopg://...`. The schema is created and
upgraded by Alembic (`bot/migrations/`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    create_engine,
    event,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import ActiveRunConflict, StoreError
from bot.run.states import ACTIVE, TERMINAL
from bot.security.masking import process_masker
from bot.tables import (
    Artifact,
    Delivery,
    Installation,
    PhaseRecord,
    Run,
    RunEvent,
    utcnow,
)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for the store URL; SQLite gets WAL and a busy timeout for concurrent workers."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def migrate(url: str) -> None:
    """Bring the database at `url` to the newest schema with Alembic."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    try:
        command.upgrade(config, "head")
    except SQLAlchemyError as exc:
        raise StoreError(
            f"cannot migrate the run store: {exc.__class__.__name__}: {exc}",
            "check DRAFTSMITH_DATABASE_URL and that the database server is running",
        ) from exc


class Store:
    """Queries on the run store. Objects returned are detached snapshots."""

    def __init__(self, url: str, *, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine or make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: commits on success, rolls back on error, wraps driver errors."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except IntegrityError:
            session.rollback()
            raise
        except OperationalError as exc:
            session.rollback()
            raise StoreError(
                f"run store unavailable: {exc.orig}",
                "check DRAFTSMITH_DATABASE_URL and that the database server is running",
            ) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def migrate(self) -> None:
        """Create or upgrade the schema."""
        migrate(self.url)

    def ping(self) -> None:
        """Raise StoreError when the database does not answer."""
        with self.session() as s:
            s.execute(text("SELECT 1"))

    # deliveries ------------------------------------------------------------------------
    def record_delivery(
        self,
        delivery_id: str,
        *,
        event: str,
        action: str | None,
        installation_id: int | None,
        repo: str | None,
        command: str | None,
        outcome: str,
    ) -> bool:
        """Record a delivery once; False when this delivery id was seen before."""
        try:
            with self.session() as s:
                s.add(
                    Delivery(
                        id=delivery_id,
                        event=event,
                        action=action,
                        installation_id=installation_id,
                        repo=repo,
                        command=command,
                        outcome=outcome,
                    )
                )
        except IntegrityError:
            return False
        return True

    def get_delivery(self, delivery_id: str) -> Delivery | None:
        """One delivery by id."""
        with self.session() as s:
            return s.get(Delivery, delivery_id)

    def finish_delivery(self, delivery_id: str, outcome: str, error: str | None = None) -> None:
        """Mark a delivery handled (`processed`, `ignored`, `failed`)."""
        with self.session() as s:
            s.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(outcome=outcome, error=error, processed_at=utcnow())
            )

    def deliveries_to_dispatch(self, limit: int) -> list[str]:
        """Ids of accepted deliveries not yet handed to the queue, oldest first."""
        with self.session() as s:
            rows = s.scalars(
                select(Delivery.id)
                .where(Delivery.outcome == "queued")
                .order_by(Delivery.received_at)
                .limit(limit)
            )
            return list(rows)

    def mark_dispatched(self, delivery_ids: list[str]) -> None:
        """Note that these deliveries are in the queue."""
        with self.session() as s:
            s.execute(
                update(Delivery)
                .where(Delivery.id.in_(delivery_ids), Delivery.outcome == "queued")
                .values(outcome="dispatched")
            )

    def claim_delivery(self, delivery_id: str) -> bool:
        """Move a waiting delivery to `processing`; False when another worker has it or it ended."""
        with self.session() as s:
            result = s.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id, Delivery.outcome.in_(("queued", "dispatched")))
                .values(outcome="processing", processed_at=utcnow())
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def requeue_stale_deliveries(self, older_than: timedelta) -> int:
        """Put deliveries stuck in `processing` (a worker died) back to `queued`."""
        with self.session() as s:
            result = s.execute(
                update(Delivery)
                .where(
                    Delivery.outcome == "processing", Delivery.processed_at < utcnow() - older_than
                )
                .values(outcome="queued")
            )
            return int(getattr(result, "rowcount", 0))

    def unprocessed_deliveries(self) -> list[str]:
        """Ids of deliveries accepted but not yet handled (to re-enqueue on start)."""
        with self.session() as s:
            rows = s.scalars(
                select(Delivery.id)
                .where(Delivery.outcome.in_(("queued", "dispatched")))
                .order_by(Delivery.received_at)
            )
            return list(rows)

    def count_deliveries(self, outcome: str | None = None) -> int:
        """How many deliveries were recorded (optionally with one outcome)."""
        from sqlalchemy import func

        with self.session() as s:
            q = select(func.count()).select_from(Delivery)
            if outcome is not None:
                q = q.where(Delivery.outcome == outcome)
            return int(s.scalar(q) or 0)

    def count_command_deliveries(
        self, installation_id: int, *, since: datetime, until: datetime
    ) -> int:
        """Comment-command deliveries of an installation received in [since, until]."""
        from sqlalchemy import func

        with self.session() as s:
            q = (
                select(func.count())
                .select_from(Delivery)
                .where(
                    Delivery.installation_id == installation_id,
                    Delivery.event == "issue_comment",
                    Delivery.command.is_not(None),
                    Delivery.received_at >= since,
                    Delivery.received_at <= until,
                )
            )
            return int(s.scalar(q) or 0)

    def count_runs_since(self, installation_id: int, since: datetime) -> int:
        """Runs an installation started at or after `since`."""
        from sqlalchemy import func

        with self.session() as s:
            q = (
                select(func.count())
                .select_from(Run)
                .where(Run.installation_id == installation_id, Run.created_at >= since)
            )
            return int(s.scalar(q) or 0)

    # installations -----------------------------------------------------------------------
    def upsert_installation(
        self,
        installation_id: int,
        *,
        account_login: str,
        account_type: str,
        repositories: list[str],
    ) -> None:
        """Create or refresh an installation."""
        with self.session() as s:
            inst = s.get(Installation, installation_id)
            if inst is None:
                inst = Installation(id=installation_id, account_login=account_login)
                s.add(inst)
            inst.account_login = account_login
            inst.account_type = account_type
            inst.repositories = sorted(set(repositories))
            inst.active = True
            inst.updated_at = utcnow()

    def change_installation_repos(
        self, installation_id: int, *, added: list[str], removed: list[str]
    ) -> None:
        """Add and remove repositories of an installation (creating it when unknown)."""
        with self.session() as s:
            inst = s.get(Installation, installation_id)
            if inst is None:
                inst = Installation(id=installation_id, account_login="", repositories=[])
                s.add(inst)
            repos = (set(inst.repositories or []) | set(added)) - set(removed)
            inst.repositories = sorted(repos)
            inst.updated_at = utcnow()

    def deactivate_installation(self, installation_id: int) -> None:
        """Mark an installation deleted or suspended."""
        with self.session() as s:
            inst = s.get(Installation, installation_id)
            if inst is not None:
                inst.active = False
                inst.updated_at = utcnow()

    def get_installation(self, installation_id: int) -> Installation | None:
        """One installation by id."""
        with self.session() as s:
            return s.get(Installation, installation_id)

    # runs ------------------------------------------------------------------------------------
    def create_run(
        self,
        *,
        repo: str,
        issue_number: int | None,
        clone_url: str,
        title: str,
        request: str,
        installation_id: int | None = None,
        requested_by: str | None = None,
        delivery_id: str | None = None,
    ) -> tuple[Run, bool]:
        """Create a run, or return the issue's active run and False when one exists."""
        key = f"{repo}#{issue_number}" if issue_number is not None else None
        for _ in range(3):  # lost races: the active run can finish between insert and read
            try:
                with self.session() as s:
                    run = Run(
                        repo=repo,
                        issue_number=issue_number,
                        clone_url=clone_url,
                        title=title,
                        request=request,
                        installation_id=installation_id,
                        requested_by=requested_by,
                        delivery_id=delivery_id,
                        active_key=key,
                    )
                    s.add(run)
                    s.flush()
                    s.add(RunEvent(run_id=run.id, kind="created", message=f"run for {key or repo}"))
                return run, True
            except IntegrityError:
                existing = self.active_run_for(repo, issue_number)
                if existing is not None:
                    return existing, False
        raise StoreError(
            f"could not create a run for {key}: it kept racing with another run",
            "retry the delivery; check for a worker stuck finishing runs of this issue",
        )

    def get_run(self, run_id: int) -> Run:
        """One run by id; StoreError when there is none."""
        with self.session() as s:
            run = s.get(Run, run_id)
        if run is None:
            raise StoreError(f"no run {run_id}", "list runs with `draftsmith runs`")
        return run

    def active_run_for(self, repo: str, issue_number: int | None) -> Run | None:
        """The issue's non-terminal run, if any."""
        with self.session() as s:
            return s.scalar(select(Run).where(Run.active_key == f"{repo}#{issue_number}"))

    def latest_run_for(self, repo: str, issue_number: int) -> Run | None:
        """The issue's newest run, active or not."""
        with self.session() as s:
            return s.scalar(
                select(Run)
                .where(Run.repo == repo, Run.issue_number == issue_number)
                .order_by(Run.id.desc())
                .limit(1)
            )

    def run_for_pr(self, repo: str, pr_number: int) -> Run | None:
        """The newest run that opened this pull request."""
        with self.session() as s:
            return s.scalar(
                select(Run)
                .where(Run.repo == repo, Run.pr_number == pr_number)
                .order_by(Run.id.desc())
                .limit(1)
            )

    def list_runs(
        self, *, status: str | None = None, repo: str | None = None, limit: int = 100
    ) -> list[Run]:
        """Runs, newest first, optionally filtered."""
        with self.session() as s:
            q = select(Run).order_by(Run.id.desc()).limit(limit)
            if status:
                q = q.where(Run.status == status)
            if repo:
                q = q.where(Run.repo == repo)
            return list(s.scalars(q))

    def unfinished_runs(self) -> list[Run]:
        """Runs not in a terminal state and not waiting for a person."""
        with self.session() as s:
            q = select(Run).where(Run.status.in_(sorted(ACTIVE))).order_by(Run.id)
            return list(s.scalars(q))

    def update_run(self, run_id: int, **values: Any) -> Run:
        """Set fields of a run other than its state; `phase` and `status` move only through
        `transition_run`, which the run core (bot/run/lifecycle.py) calls."""
        moved = sorted({"phase", "status", "active_key", "finished_at"} & values.keys())
        if moved:
            raise StoreError(
                f"update_run cannot set {', '.join(moved)} of run {run_id}",
                "send a Move through bot.run.lifecycle.Lifecycle instead",
            )
        values["updated_at"] = utcnow()
        with self.session() as s:
            s.execute(update(Run).where(Run.id == run_id).values(**values))
            run = s.get(Run, run_id)
            if run is None:
                raise StoreError(f"no run {run_id}")
            s.refresh(run)
            return run

    def transition_run(
        self, run_id: int, *, from_phase: str, from_status: str, values: dict[str, Any]
    ) -> Run | None:
        """Move a run that is still at (`from_phase`, `from_status`); None when it moved since.

        A terminal status frees the issue's active slot; leaving one takes the slot again and
        raises ActiveRunConflict when another run of the issue holds it.
        """
        values = {**values, "updated_at": utcnow()}
        status = values["status"]
        with self.session() as s:
            run = s.get(Run, run_id)
            if run is None:
                raise StoreError(f"no run {run_id}")
            key = f"{run.repo}#{run.issue_number}" if run.issue_number is not None else None
        if status in TERMINAL:
            values.update(active_key=None, finished_at=values.get("finished_at") or utcnow())
        elif from_status in TERMINAL:
            values.update(active_key=key, finished_at=None)
        try:
            with self.session() as s:
                result = s.execute(
                    update(Run)
                    .where(Run.id == run_id, Run.phase == from_phase, Run.status == from_status)
                    .values(**values)
                )
                if getattr(result, "rowcount", 0) != 1:
                    return None
                moved = s.get(Run, run_id)
                assert moved is not None
                s.refresh(moved)
                return moved
        except IntegrityError as exc:
            raise ActiveRunConflict(
                f"another run is active on {key}", "stop or finish that run first"
            ) from exc

    def add_usage(self, run_id: int, *, tokens: int, cost_usd: float, tool_calls: int = 0) -> None:
        """Add to a run's budgets used, atomically."""
        with self.session() as s:
            s.execute(
                update(Run)
                .where(Run.id == run_id)
                .values(
                    tokens_used=Run.tokens_used + tokens,
                    cost_usd=Run.cost_usd + cost_usd,
                    tool_calls=Run.tool_calls + tool_calls,
                )
            )

    # locking ---------------------------------------------------------------------------------
    def claim_run(self, run_id: int, worker: str, ttl_s: float = 900) -> bool:
        """Take the run's lock for `worker` unless another live worker holds it."""
        now = utcnow()
        with self.session() as s:
            result = s.execute(
                update(Run)
                .where(
                    Run.id == run_id,
                    (Run.locked_by.is_(None))
                    | (Run.locked_by == worker)
                    | (Run.locked_until < now),
                )
                .values(locked_by=worker, locked_until=now + timedelta(seconds=ttl_s))
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def release_run(self, run_id: int, worker: str) -> None:
        """Give the run's lock back (only if `worker` holds it)."""
        with self.session() as s:
            s.execute(
                update(Run)
                .where(Run.id == run_id, Run.locked_by == worker)
                .values(locked_by=None, locked_until=None)
            )

    # phases, events, artifacts --------------------------------------------------------------
    def start_phase(self, run_id: int, name: str, attempt: int) -> int:
        """Record that a phase began; returns its record id."""
        with self.session() as s:
            rec = PhaseRecord(run_id=run_id, name=name, attempt=attempt)
            s.add(rec)
            s.flush()
            return rec.id

    def finish_phase(
        self, phase_id: int, outcome: str, *, tokens: int = 0, cost_usd: float = 0.0
    ) -> None:
        """Record how a phase ended."""
        with self.session() as s:
            s.execute(
                update(PhaseRecord)
                .where(PhaseRecord.id == phase_id)
                .values(outcome=outcome, tokens=tokens, cost_usd=cost_usd, finished_at=utcnow())
            )

    def phases(self, run_id: int) -> list[PhaseRecord]:
        """A run's phase records in order."""
        with self.session() as s:
            q = select(PhaseRecord).where(PhaseRecord.run_id == run_id).order_by(PhaseRecord.id)
            return list(s.scalars(q))

    def add_event(
        self, run_id: int, kind: str, message: str = "", data: dict[str, Any] | None = None
    ) -> None:
        """Append to a run's event log."""
        with self.session() as s:
            s.add(RunEvent(run_id=run_id, kind=kind, message=message, data=data or {}))

    def events(self, run_id: int, kind: str | None = None) -> list[RunEvent]:
        """A run's events in order, optionally of one kind."""
        with self.session() as s:
            q = select(RunEvent).where(RunEvent.run_id == run_id).order_by(RunEvent.id)
            if kind is not None:
                q = q.where(RunEvent.kind == kind)
            return list(s.scalars(q))

    def take_inputs(self, run_id: int) -> list[RunEvent]:
        """Steering inputs (kind `input`) not yet consumed, marking them consumed."""
        with self.session() as s:
            q = (
                select(RunEvent)
                .where(RunEvent.run_id == run_id, RunEvent.kind == "input", ~RunEvent.consumed)
                .order_by(RunEvent.id)
            )
            rows = list(s.scalars(q))
            for row in rows:
                row.consumed = True
            return rows

    def put_artifact(
        self,
        run_id: int,
        name: str,
        content: str | dict[str, Any] | list[Any],
        media_type: str | None = None,
    ) -> None:
        """Store an artifact (a dict or list is stored as JSON), masked: people read artifacts."""
        masker = process_masker()
        if not isinstance(content, str):
            content = json.dumps(masker.mask_obj(content), indent=2, default=str)
            media_type = media_type or "application/json"
        else:
            content = masker.mask(content)
        with self.session() as s:
            s.add(
                Artifact(
                    run_id=run_id, name=name, content=content, media_type=media_type or "text/plain"
                )
            )

    def get_artifact(self, run_id: int, name: str) -> Artifact | None:
        """The newest artifact of that name."""
        with self.session() as s:
            return s.scalar(
                select(Artifact)
                .where(Artifact.run_id == run_id, Artifact.name == name)
                .order_by(Artifact.id.desc())
                .limit(1)
            )

    def artifacts(self, run_id: int) -> list[Artifact]:
        """All artifacts of a run in order."""
        with self.session() as s:
            q = select(Artifact).where(Artifact.run_id == run_id).order_by(Artifact.id)
            return list(s.scalars(q))
