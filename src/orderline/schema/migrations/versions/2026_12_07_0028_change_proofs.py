"""proofs of transfer for a change's payment request

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 08:40:00

``payment_proofs.payment_request_id``: set when the proof pays a change's payment request
(``order_changes``) rather than the order's own manual payment; the request's amount and
reference are then what the proof is scored and approved against.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payment_proofs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payment_request_id", sa.Uuid(), nullable=True))
        batch_op.create_index("ix_payment_proofs_request", ["payment_request_id"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("payment_proofs", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_proofs_request")
        batch_op.drop_column("payment_request_id")
