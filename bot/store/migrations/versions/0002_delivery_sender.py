"""deliveries.sender: who sent a delivery, for per-sender command limits

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 04:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sender", sa.String(length=255), nullable=True))
        batch_op.create_index(batch_op.f("ix_deliveries_sender"), ["sender"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_sender"))
        batch_op.drop_column("sender")
