"""daily rollups of the overview's sales figures

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 02:00:00

``order_rollups``: a business's orders of one closed UTC day, channel and currency summed as
the overview sums them (orders, paid orders, revenue); ``order_rollup_progress``: the last day
each business's rollups reach; ``order_rollup_stale``: a closed day whose order changed since
it was summed (read live until the worker sums it again). All three are new and empty: the
worker sums every business's past days on its first round (``orders/rollups.py``), and until
then the overview reads every day live, as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderline.core.db.types

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _business_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["business_id"], ["businesses.id"],
                                   name=op.f(f"fk_{table}_business_id_businesses"),
                                   ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "order_rollups",
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("paid_orders", sa.Integer(), nullable=False),
        sa.Column("revenue", sa.BigInteger(), nullable=False),
        _business_fk("order_rollups"),
        sa.PrimaryKeyConstraint("business_id", "day", "channel", "currency",
                                name=op.f("pk_order_rollups")),
    )
    op.create_table(
        "order_rollup_progress",
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("rolled_through", sa.Date(), nullable=True),
        sa.Column("rolled_at", orderline.core.db.types.UTCDateTime(timezone=True),
                  nullable=False),
        _business_fk("order_rollup_progress"),
        sa.PrimaryKeyConstraint("business_id", name=op.f("pk_order_rollup_progress")),
    )
    op.create_table(
        "order_rollup_stale",
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", orderline.core.db.types.UTCDateTime(timezone=True),
                  nullable=False),
        _business_fk("order_rollup_stale"),
        sa.PrimaryKeyConstraint("business_id", "day", "id", name=op.f("pk_order_rollup_stale")),
    )


def downgrade() -> None:
    op.drop_table("order_rollup_stale")
    op.drop_table("order_rollup_progress")
    op.drop_table("order_rollups")
