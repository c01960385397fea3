"""order changes

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 07:50:36

Edits after payment (``order_changes/``): ``order_changes`` (each change of a paid order's
lines, numbered per order, with the figures before and after), ``order_change_lines`` (each
SKU's quantity before and after, and the reservation holding added units while the change
waits) and ``payment_requests`` (what the buyer owes for a change, with its deadline).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderline.core.db.types

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "order_changes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("totals_before", sa.JSON(), nullable=False),
        sa.Column("totals_after", sa.JSON(), nullable=False),
        sa.Column("pricing_after", sa.JSON(), nullable=True),
        sa.Column("difference", sa.BigInteger(), nullable=False),
        sa.Column("refund_amount", sa.BigInteger(), nullable=False),
        sa.Column("refund_method", sa.String(length=20), nullable=True),
        sa.Column("order_version_before", sa.Integer(), nullable=False),
        sa.Column("order_version_after", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("deadline", orderline.core.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", orderline.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", orderline.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("applied_at", orderline.core.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", orderline.core.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_order_changes_business_id_businesses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_changes_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_changes")),
        sa.UniqueConstraint("order_id", "number", name=op.f("uq_order_changes_order_id_number")),
    )
    with op.batch_alter_table("order_changes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_order_changes_business_order", ["business_id", "order_id"], unique=False
        )
        batch_op.create_index(
            "ix_order_changes_status_deadline", ["status", "deadline"], unique=False
        )

    op.create_table(
        "order_change_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("change_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("variant_id", sa.Uuid(), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("unit_price", sa.BigInteger(), nullable=False),
        sa.Column("quantity_before", sa.Integer(), nullable=False),
        sa.Column("quantity_after", sa.Integer(), nullable=False),
        sa.Column("reservation_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "quantity_before >= 0 AND quantity_after >= 0",
            name=op.f("ck_order_change_lines_quantities_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_order_change_lines_business_id_businesses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["change_id"],
            ["order_changes.id"],
            name=op.f("fk_order_change_lines_change_id_order_changes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_change_lines")),
        sa.UniqueConstraint("change_id", "sku", name=op.f("uq_order_change_lines_change_id_sku")),
    )
    op.create_table(
        "payment_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("change_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("deadline", orderline.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("paid_by", sa.String(length=20), nullable=True),
        sa.Column("intent_id", sa.Uuid(), nullable=True),
        sa.Column("paid_at", orderline.core.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", orderline.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", orderline.core.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payment_requests_amount_positive")),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_payment_requests_business_id_businesses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["change_id"],
            ["order_changes.id"],
            name=op.f("fk_payment_requests_change_id_order_changes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_payment_requests_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_requests")),
        sa.UniqueConstraint("change_id", name=op.f("uq_payment_requests_change_id")),
    )
    with op.batch_alter_table("payment_requests", schema=None) as batch_op:
        batch_op.create_index("ix_payment_requests_order", ["order_id", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("payment_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_requests_order")

    op.drop_table("payment_requests")
    op.drop_table("order_change_lines")
    with op.batch_alter_table("order_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_order_changes_status_deadline")
        batch_op.drop_index("ix_order_changes_business_order")

    op.drop_table("order_changes")
