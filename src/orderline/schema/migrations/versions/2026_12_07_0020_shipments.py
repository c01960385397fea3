"""shipments: an order sent in one or more parcels

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 05:00:00

``shipments``: a parcel of an order, numbered per order, with its carrier, tracking and the
location it left from; ``shipment_lines``: the units of each order line it carried, and the
stock level they were taken from. Both are new and empty: an order shipped before this
migration keeps its tracking on the order row and has no shipment rows.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderline.core.db.types

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _business_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["business_id"], ["businesses.id"],
                                   name=op.f(f"fk_{table}_business_id_businesses"),
                                   ondelete="CASCADE")


def _order_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["order_id"], ["orders.id"],
                                   name=op.f(f"fk_{table}_order_id_orders"),
                                   ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "shipments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=True),
        sa.Column("carrier", sa.String(length=100), nullable=False),
        sa.Column("tracking_number", sa.String(length=100), nullable=False),
        sa.Column("tracking_url", sa.String(length=500), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("shipped_at", orderline.core.db.types.UTCDateTime(timezone=True),
                  nullable=False),
        sa.Column("delivered_at", orderline.core.db.types.UTCDateTime(timezone=True),
                  nullable=True),
        _business_fk("shipments"),
        _order_fk("shipments"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipments")),
        sa.UniqueConstraint("order_id", "number", name=op.f("uq_shipments_order_id_number")),
    )
    op.create_table(
        "shipment_lines",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("shipment_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("variant_id", sa.Uuid(), nullable=False),
        sa.Column("stock_level_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_shipment_lines_quantity_positive")),
        _business_fk("shipment_lines"),
        sa.ForeignKeyConstraint(["shipment_id"], ["shipments.id"],
                                name=op.f("fk_shipment_lines_shipment_id_shipments"),
                                ondelete="CASCADE"),
        _order_fk("shipment_lines"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipment_lines")),
    )
    op.create_index("ix_shipment_lines_order", "shipment_lines", ["order_id"])
    op.create_index("ix_shipment_lines_shipment", "shipment_lines", ["shipment_id"])


def downgrade() -> None:
    op.drop_index("ix_shipment_lines_shipment", table_name="shipment_lines")
    op.drop_index("ix_shipment_lines_order", table_name="shipment_lines")
    op.drop_table("shipment_lines")
    op.drop_table("shipments")
