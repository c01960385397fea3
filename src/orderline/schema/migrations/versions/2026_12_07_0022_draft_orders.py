"""draft orders and their payment links

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 05:00:00

``draft_orders``: an order a merchant builds for a buyer before the buyer pays (no stock, no
order number), with the hash of its link"s token, and the cart, checkout and order its link
led to; ``draft_order_lines``: its variants and quantities. Both new and empty.

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderline.core.db.types

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"],
                                   name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete)


def upgrade() -> None:
    when = orderline.core.db.types.UTCDateTime(timezone=True)
    op.create_table(
        "draft_orders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("customer_name", sa.String(length=200), nullable=True),
        sa.Column("customer_phone", sa.String(length=40), nullable=True),
        sa.Column("customer_email", sa.String(length=320), nullable=True),
        sa.Column("address", sa.JSON(), nullable=True),
        sa.Column("shipping_method_id", sa.Uuid(), nullable=True),
        sa.Column("coupon_codes", sa.JSON(), nullable=False),
        sa.Column("payment_method", sa.String(length=40), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("link_token_hash", sa.String(length=64), nullable=True),
        sa.Column("link_expires_at", when, nullable=True),
        sa.Column("cart_id", sa.Uuid(), nullable=True),
        sa.Column("checkout_id", sa.Uuid(), nullable=True),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("updated_at", when, nullable=False),
        _fk("draft_orders", "business_id", "businesses", "CASCADE"),
        _fk("draft_orders", "cart_id", "carts", "SET NULL"),
        _fk("draft_orders", "customer_id", "customers", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draft_orders")),
        sa.UniqueConstraint("cart_id", name=op.f("uq_draft_orders_cart_id")),
        sa.UniqueConstraint("link_token_hash", name=op.f("uq_draft_orders_link_token_hash")),
    )
    with op.batch_alter_table("draft_orders", schema=None) as batch_op:
        batch_op.create_index("ix_draft_orders_business_created", ["business_id", "created_at"],
                              unique=False)
    op.create_table(
        "draft_order_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("draft_id", sa.Uuid(), nullable=False),
        sa.Column("variant_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity > 0",
                           name=op.f("ck_draft_order_lines_quantity_positive")),
        _fk("draft_order_lines", "business_id", "businesses", "CASCADE"),
        _fk("draft_order_lines", "draft_id", "draft_orders", "CASCADE"),
        _fk("draft_order_lines", "variant_id", "variants", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draft_order_lines")),
        sa.UniqueConstraint("draft_id", "variant_id",
                            name=op.f("uq_draft_order_lines_draft_id_variant_id")),
    )


def downgrade() -> None:
    op.drop_table("draft_order_lines")
    with op.batch_alter_table("draft_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_draft_orders_business_created")
    op.drop_table("draft_orders")
