"""idempotency keys for every creating request

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 12:00:00

A key is now unique per business (not per business and operation): the same key sent to
another endpoint finds the first one's row and is refused (``idempotency_key_reused``)
instead of running again. Until now only the checkout confirm took keys, so no business
holds one key twice.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_constraint("uq_idempotency_keys_business_id_operation_key",
                                 type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_idempotency_keys_business_id_key"),
                                          ["business_id", "key"])


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_constraint("uq_idempotency_keys_business_id_key", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_idempotency_keys_business_id_operation_key"),
            ["business_id", "operation", "key"])
