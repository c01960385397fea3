"""units cancelled from an order line before shipment

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 05:15:00

``order_lines.cancelled_quantity``: units of the line cancelled before shipment (partial
cancellation, ``cancellations/``). The line's ``quantity`` is what is still ordered; the buyer
ordered ``quantity + cancelled_quantity``. Zero for every line before this.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancelled_quantity", sa.Integer(), nullable=False,
                                      server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.drop_column("cancelled_quantity")
