"""a key per business that signs its carts' tokens; what made a cart

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 11:30:00

``businesses.cart_token_key``: 32 random bytes (hex) with which the business's new cart
tokens are signed, so a server process tells which cart a token opens without looking the
token up (checkout/cart_tokens.py). Every business gets one here; a business without one (none
after this) would give out random tokens, which are looked up as before.

``carts.made_by``: the capability that made the cart (``draft_order``: a draft order's link),
whose steps its confirm runs (checkout/hooks.py); NULL for a cart made through /v1/carts,
whose confirm runs none. Carts draft orders made before this are marked here.
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("businesses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cart_token_key", sa.String(length=64), nullable=True))
    businesses = sa.table("businesses", sa.column("id", sa.Uuid()),
                          sa.column("cart_token_key", sa.String(64)))
    conn = op.get_bind()
    for (business_id,) in conn.execute(sa.select(businesses.c.id)).all():
        conn.execute(businesses.update().where(businesses.c.id == business_id)
                     .values(cart_token_key=secrets.token_hex(32)))
    with op.batch_alter_table("carts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("made_by", sa.String(length=20), nullable=True))
    op.execute("UPDATE carts SET made_by = 'draft_order' WHERE id IN "
               "(SELECT cart_id FROM draft_orders WHERE cart_id IS NOT NULL)")


def downgrade() -> None:
    with op.batch_alter_table("carts", schema=None) as batch_op:
        batch_op.drop_column("made_by")
    with op.batch_alter_table("businesses", schema=None) as batch_op:
        batch_op.drop_column("cart_token_key")
