"""exchanges: a return's units traded for a replacement order

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 08:45:00

``returns`` gain what an exchange leaves on its return (``exchanges/``): ``exchange_id`` (the
exchange that made it, shared with its ``exchange_to`` / ``exchange_from`` rows in
``order_links``), ``exchange_value`` (the returned units' exact share of their lines when the
exchange was made) and ``exchange_credit`` (the part of it that paid the replacement order).
The return's refund gives back only ``exchange_value - exchange_credit``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("returns") as batch:
        batch.add_column(sa.Column("exchange_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("exchange_value", sa.BigInteger(), server_default="0",
                                   nullable=False))
        batch.add_column(sa.Column("exchange_credit", sa.BigInteger(), server_default="0",
                                   nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("returns") as batch:
        batch.drop_column("exchange_credit")
        batch.drop_column("exchange_value")
        batch.drop_column("exchange_id")
