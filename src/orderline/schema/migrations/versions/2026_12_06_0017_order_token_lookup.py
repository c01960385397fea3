"""the buyer's order page finds an order by its access token

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 22:40:00

``ux_orders_access_token_hash``: a unique index on ``orders.access_token_hash``, so the buyer's
order page (``/o/{token}``, the link carries the token alone) reads its order by the token's
hash without scanning every order. Unique: two orders never share a token (orders placed
before tokens existed keep a null, which both databases allow many times).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ux_orders_access_token_hash", ["access_token_hash"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ux_orders_access_token_hash")
