"""orders split from or merged into each other

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 08:00:00

``order_links``: one row per order and link (``order_splits/``). A split writes two rows
(``split_into`` on the original, ``split_from`` on the new order), a merge two more
(``merged_from`` on the survivor, ``merged_into`` on the order cancelled into it).
``amount`` is the money of the original's payment that now belongs to the new order (a
split of a paid order; 0 otherwise), so each order's share of what was paid is exact.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderline.core.db.types

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    when = orderline.core.db.types.UTCDateTime(timezone=True)
    op.create_table(
        "order_links",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("other_order_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("change_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_order_links_amount_not_negative")),
        sa.ForeignKeyConstraint(["business_id"], ["businesses.id"],
                                name=op.f("fk_order_links_business_id_businesses"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"],
                                name=op.f("fk_order_links_order_id_orders"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["other_order_id"], ["orders.id"],
                                name=op.f("fk_order_links_other_order_id_orders"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_links")),
        sa.UniqueConstraint("order_id", "kind", "change_id",
                            name=op.f("uq_order_links_order_id_kind_change_id")),
    )
    op.create_index("ix_order_links_order", "order_links", ["order_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_order_links_order", table_name="order_links")
    op.drop_table("order_links")
