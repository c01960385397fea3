"""the order version each history entry wrote

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 17:30:00

``order_events.order_version``: the version of the order a change wrote (null for entries
that did not change the order row, and for entries written before this). A stale ``If-Match``
(412 ``version_conflict``) names who changed the order since the caller's version, and what,
from these entries, read under the order's row lock in the refused change's transaction.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("order_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.drop_column("order_version")
