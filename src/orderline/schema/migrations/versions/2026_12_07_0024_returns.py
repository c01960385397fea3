"""returns: returns and exchanges (RMA) of shipped units

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 08:00:00

``returns`` (a return of an order, numbered per order, its status and money),
``return_lines`` (units of each order line returned, and what became of them on receipt),
``return_photos`` (sealed, cleaned photos sent with it); the businesses' return settings
(window in days, restocking fee in basis points and a fixed amount), all 0: returns by
buyers are off until a merchant sets a window.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderline.core.db.types

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"],
                                   name=op.f(f"fk_{table}_{column}_{target}"),
                                   ondelete="CASCADE")


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, orderline.core.db.types.UTCDateTime(timezone=True),
                     nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("businesses") as batch:
        batch.add_column(sa.Column("return_window_days", sa.Integer(), server_default="0",
                                   nullable=False))
        batch.add_column(sa.Column("restocking_fee_bp", sa.Integer(), server_default="0",
                                   nullable=False))
        batch.add_column(sa.Column("restocking_fee_fixed", sa.BigInteger(), server_default="0",
                                   nullable=False))
    op.create_table(
        "returns",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=30), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=10), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("restocking_fee", sa.BigInteger(), nullable=False),
        sa.Column("refund_amount", sa.BigInteger(), nullable=True),
        sa.Column("refund_method", sa.String(length=10), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        _when("created_at", nullable=False),
        _when("approved_at"),
        _when("received_at"),
        _when("refunded_at"),
        _when("closed_at"),
        sa.Column("version", sa.Integer(), nullable=False),
        _fk("returns", "business_id", "businesses"),
        _fk("returns", "order_id", "orders"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_returns")),
        sa.UniqueConstraint("order_id", "number", name=op.f("uq_returns_order_id_number")),
    )
    op.create_index("ix_returns_business_status", "returns", ["business_id", "status"])
    op.create_table(
        "return_lines",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("return_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("variant_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("condition", sa.String(length=10), nullable=True),
        sa.Column("location_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_return_lines_quantity_positive")),
        _fk("return_lines", "business_id", "businesses"),
        _fk("return_lines", "return_id", "returns"),
        _fk("return_lines", "order_id", "orders"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_return_lines")),
    )
    op.create_index("ix_return_lines_return", "return_lines", ["return_id"])
    op.create_index("ix_return_lines_order", "return_lines", ["order_id"])
    op.create_table(
        "return_photos",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("return_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("media_type", sa.String(length=50), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", sa.String(length=100), nullable=False),
        _when("uploaded_at", nullable=False),
        _fk("return_photos", "business_id", "businesses"),
        _fk("return_photos", "return_id", "returns"),
        _fk("return_photos", "order_id", "orders"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_return_photos")),
    )
    op.create_index("ix_return_photos_return", "return_photos", ["return_id"])


def downgrade() -> None:
    op.drop_index("ix_return_photos_return", table_name="return_photos")
    op.drop_table("return_photos")
    op.drop_index("ix_return_lines_order", table_name="return_lines")
    op.drop_index("ix_return_lines_return", table_name="return_lines")
    op.drop_table("return_lines")
    op.drop_index("ix_returns_business_status", table_name="returns")
    op.drop_table("returns")
    with op.batch_alter_table("businesses") as batch:
        batch.drop_column("restocking_fee_fixed")
        batch.drop_column("restocking_fee_bp")
        batch.drop_column("return_window_days")
