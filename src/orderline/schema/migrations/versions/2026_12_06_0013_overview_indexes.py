"""indexes for the merchant's overview

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 17:00:00

- ``ix_orders_business_status`` (business_id, status, payment_deadline): the overview's
  waiting lists (unpaid near their deadline, to ship, cash to collect) are one business's
  orders in a status; ``ix_orders_status_deadline`` (the sweeper's, across businesses) made
  them read every business's orders in that status.
- ``ix_outbox_events_business_unfinished`` (business_id, status, created_at), partial on
  pending and dead events: one business's backlog without scanning the relayed events
  (``ix_outbox_events_pending`` covers only pending ones, of every business).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNFINISHED = "status IN ('pending', 'dead')"


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_business_status",
                              ["business_id", "status", "payment_deadline"], unique=False)
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_events_business_unfinished",
                              ["business_id", "status", "created_at"], unique=False,
                              postgresql_where=sa.text(UNFINISHED),
                              sqlite_where=sa.text(UNFINISHED))


def downgrade() -> None:
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_events_business_unfinished",
                            postgresql_where=sa.text(UNFINISHED),
                            sqlite_where=sa.text(UNFINISHED))
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_business_status")
