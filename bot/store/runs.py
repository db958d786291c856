"""The run store: the queries on runs, their phases, events and artifacts.

The store is the source of truth; a queue message only says "advance run N". SQLite by default,
PostgreSQL when `DRAFTSMITH_DATABASE_URL=postgresql+psycopg://...`. The schema is created and
upgraded by Alembic (`bot/store/migrations/`).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, text, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from bot.run.ports import RunCaps
from bot.run.states import ACTIVE, TERMINAL, Phase, Status
from bot.security.masking import process_masker
from bot.shared.errors import ActiveRunConflict, StoreError
from bot.store.engine import make_engine, migrate
from bot.store.intake import IntakeQueries
from bot.store.tables import Artifact, PhaseRecord, Run, RunEvent, utcnow
from bot.store.vocabulary import EventKind

__all__ = ["Store", "make_engine", "migrate"]

_GUARD_LOCK = 0x6472_6166  # the advisory lock key of guarded run moves ("draf")


def _under_caps(caps: RunCaps, installation_id: int | None) -> ColumnElement[bool]:
    """The condition that the working runs are under `caps` (counted in the same UPDATE)."""
    other = aliased(Run)
    working = select(func.count()).select_from(other).where(other.status == Status.running)
    conditions: list[ColumnElement[bool]] = []
    if caps.total:
        conditions.append(working.scalar_subquery() < caps.total)
    if caps.per_installation and installation_id is not None:
        mine = working.where(other.installation_id == installation_id)
        conditions.append(mine.scalar_subquery() < caps.per_installation)
    return and_(*conditions) if conditions else true()


class Store(IntakeQueries):
    """Queries on the run store. Objects returned are detached snapshots."""

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
        """Create a run, or return the issue's active run and False when one exists.

        The title and request are stored masked, like every other text people read."""
        key = f"{repo}#{issue_number}" if issue_number is not None else None
        masker = process_masker()
        title, request = masker.mask(title), masker.mask(request)
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
                    s.add(
                        RunEvent(
                            run_id=run.id, kind=EventKind.created, message=f"run for {key or repo}"
                        )
                    )
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

    def claim_progress_comment(
        self, run_id: int, claim: int | None, *, stale: int | None = None
    ) -> bool:
        """Set the run's progress comment id to `claim` if it is unset (or still `stale`):
        True for the one caller that may create the comment, across workers."""
        with self.session() as s:
            held: ColumnElement[bool] = Run.progress_comment_id.is_(None)
            if stale is not None:
                held = held | (Run.progress_comment_id == stale)
            result = s.execute(
                update(Run)
                .where(Run.id == run_id, held)
                .values(progress_comment_id=claim, updated_at=utcnow())
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def transition_run(
        self,
        run_id: int,
        *,
        from_phase: str,
        from_status: str,
        values: dict[str, Any],
        caps: RunCaps | None = None,
    ) -> Run | None:
        """Move a run that is still at (`from_phase`, `from_status`); None when it moved since.

        A terminal status frees the issue's active slot; leaving one takes the slot again and
        raises ActiveRunConflict when another run of the issue holds it. `caps` (concurrency
        caps) are one more condition of the same UPDATE; capped moves are serialised (an
        advisory lock on PostgreSQL; SQLite has one writer), so two cannot both pass them.
        """
        values = {**values, "updated_at": utcnow()}
        status = values["status"]
        with self.session() as s:
            run = s.get(Run, run_id)
            if run is None:
                raise StoreError(f"no run {run_id}")
            key = f"{run.repo}#{run.issue_number}" if run.issue_number is not None else None
            guard = None if caps is None else _under_caps(caps, run.installation_id)
        if status in TERMINAL:
            values.update(active_key=None, finished_at=values.get("finished_at") or utcnow())
        elif from_status in TERMINAL:
            values.update(active_key=key, finished_at=None)
        try:
            with self.session() as s:
                conditions = [Run.id == run_id, Run.phase == from_phase, Run.status == from_status]
                if guard is not None:
                    conditions.append(guard)
                    if s.get_bind().dialect.name == "postgresql":
                        s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _GUARD_LOCK})
                result = s.execute(update(Run).where(*conditions).values(**values))
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

    def working_runs(self, *, excluding: int, installation_id: int | None) -> tuple[int, int]:
        """Runs working (`running`) other than `excluding`: in all, and of `installation_id`
        (0 when it is None)."""
        with self.session() as s:
            running = (
                select(func.count())
                .select_from(Run)
                .where(Run.status == Status.running, Run.id != excluding)
            )
            total = int(s.scalar(running) or 0)
            if installation_id is None:
                return total, 0
            return total, int(s.scalar(running.where(Run.installation_id == installation_id)) or 0)

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
    def claim_run(self, run_id: int, worker: str, ttl_s: float) -> bool:
        """Take the run's lock for `worker` unless another live worker holds it (`ttl_s` is the
        lease; the holder renews it with a heartbeat, see bot/jobs/leases.py)."""
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
    def start_phase(self, run_id: int, name: Phase, attempt: int) -> int:
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

    def unpriced_runs(self, run_ids: list[int]) -> set[int]:
        """The runs among `run_ids` with a model call that had no price (their cost is unknown)."""
        with self.session() as s:
            rows = s.execute(
                select(RunEvent.run_id, RunEvent.data).where(
                    RunEvent.kind == EventKind.model_call, RunEvent.run_id.in_(run_ids)
                )
            ).all()
        return {run_id for run_id, data in rows if not (data or {}).get("priced", True)}

    def take_inputs(self, run_id: int) -> list[RunEvent]:
        """Steering inputs (kind `input`) not yet consumed, marking them consumed."""
        with self.session() as s:
            q = (
                select(RunEvent)
                .where(
                    RunEvent.run_id == run_id, RunEvent.kind == EventKind.input, ~RunEvent.consumed
                )
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
