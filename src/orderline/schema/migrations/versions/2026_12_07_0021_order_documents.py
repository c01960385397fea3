"""order documents: invoices as PDF, and the address printed on them

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 05:00:00

``order_documents``: each order's invoice, written with what it prints (``snapshot``) when
its number is given, its PDF (``content``) drawn by the worker's drawing job
(``documents/drawing.py``) and kept as it was; keyed by business first (Citus).
``businesses.invoice_address``: the business's address (and tax number) as its invoices
print it; empty until the merchant sets it. Both are new: orders invoiced before this
migration have no stored PDF (their invoice downloads answer ``invoice_not_issued``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderline.core.db.types

revision: str = "0021"
# 0020 is another change being made at the same time; whoever lands second re-chains this.
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "order_documents",
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("media_type", sa.String(length=40), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", orderline.core.db.types.UTCDateTime(timezone=True),
                  nullable=False),
        sa.Column("draw_after", orderline.core.db.types.UTCDateTime(timezone=True),
                  nullable=False),
        sa.Column("drawn_at", orderline.core.db.types.UTCDateTime(timezone=True),
                  nullable=True),
        sa.ForeignKeyConstraint(["business_id"], ["businesses.id"],
                                name=op.f("fk_order_documents_business_id_businesses"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("business_id", "order_id", "kind",
                                name=op.f("pk_order_documents")),
        sa.UniqueConstraint("business_id", "kind", "number",
                            name=op.f("uq_order_documents_business_id_kind_number")),
    )
    op.create_index("ix_order_documents_to_draw", "order_documents",
                    ["drawn_at", "draw_after"], unique=False)
    with op.batch_alter_table("businesses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("invoice_address", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("businesses", schema=None) as batch_op:
        batch_op.drop_column("invoice_address")
    op.drop_index("ix_order_documents_to_draw", table_name="order_documents")
    op.drop_table("order_documents")
