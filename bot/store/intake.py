"""The run store's intake queries: webhook deliveries, installations and the rate-limit counts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.store.engine import StoreBase
from bot.store.tables import Delivery, Installation, Run, utcnow
from bot.store.vocabulary import PENDING, UNCOUNTED, DeliveryState

_INSERT_DELIVERY = insert(Delivery)


class IntakeQueries(StoreBase):
    """Queries on deliveries and installations."""

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
        outcome: DeliveryState,
        error: str | None = None,
        sender: str | None = None,
    ) -> bool:
        """Record a delivery once; False when this delivery id was seen before."""
        row = {
            "id": delivery_id,
            "event": event,
            "action": action,
            "installation_id": installation_id,
            "repo": repo,
            "command": command,
            "outcome": outcome,
            "error": error,
            "sender": sender,
        }
        try:
            with self.connection() as conn:  # one Core INSERT: the ack path's only write
                conn.execute(_INSERT_DELIVERY, row)
        except IntegrityError:
            return False
        return True

    def get_delivery(self, delivery_id: str) -> Delivery | None:
        """One delivery by id."""
        with self.session() as s:
            return s.get(Delivery, delivery_id)

    # The per-delivery writes are Core statements on a connection, like the ack path's INSERT,
    # where the ORM session was most of the cost (0.9 against 0.24 ms of CPU, measured).
    def finish_delivery(
        self, delivery_id: str, outcome: DeliveryState, error: str | None = None
    ) -> None:
        """Mark a delivery handled (`processed`, `ignored`, `failed`)."""
        with self.connection() as conn:
            conn.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(outcome=outcome, error=error, processed_at=utcnow())
            )

    def deliveries_to_dispatch(self, limit: int) -> list[str]:
        """Ids of accepted deliveries not yet handed to the queue, oldest first."""
        with self.connection() as conn:
            rows = conn.scalars(
                select(Delivery.id)
                .where(Delivery.outcome == DeliveryState.queued)
                .order_by(Delivery.received_at)
                .limit(limit)
            )
            return list(rows)

    def mark_dispatched(self, delivery_ids: list[str]) -> None:
        """Note that these deliveries are in the queue."""
        with self.connection() as conn:
            conn.execute(
                update(Delivery)
                .where(Delivery.id.in_(delivery_ids), Delivery.outcome == DeliveryState.queued)
                .values(outcome=DeliveryState.dispatched, processed_at=utcnow())
            )

    def claim_delivery(self, delivery_id: str) -> bool:
        """Move a waiting delivery to `processing`; False when another worker has it or it ended."""
        with self.connection() as conn:
            result = conn.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id, Delivery.outcome.in_(PENDING))
                .values(outcome=DeliveryState.processing, processed_at=utcnow())
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def unprocessed_deliveries(self) -> list[str]:
        """Ids of deliveries accepted but not yet handled (to re-enqueue on start)."""
        with self.session() as s:
            rows = s.scalars(
                select(Delivery.id)
                .where(Delivery.outcome.in_(PENDING))
                .order_by(Delivery.received_at)
            )
            return list(rows)

    def count_deliveries(self, outcome: DeliveryState | None = None) -> int:
        """How many deliveries were recorded (optionally with one outcome)."""
        from sqlalchemy import func

        with self.session() as s:
            q = select(func.count()).select_from(Delivery)
            if outcome is not None:
                q = q.where(Delivery.outcome == outcome)
            return int(s.scalar(q) or 0)

    def count_command_deliveries(
        self,
        installation_id: int,
        *,
        since: datetime,
        until: datetime,
        sender: str | None = None,
    ) -> int:
        """Comment-command deliveries of an installation (of one sender, when given) received in
        [since, until], without those that could never act (not permitted, throttled)."""
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
            if sender is not None:
                q = q.where(Delivery.sender == sender)
            else:
                q = q.where(Delivery.outcome.not_in(UNCOUNTED))
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
