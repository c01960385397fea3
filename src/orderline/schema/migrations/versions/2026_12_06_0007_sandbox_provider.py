"""sandbox card provider: its payments kept in the database

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 12:00:00

The sandbox provider kept its intents and idempotency keys in a process's memory, so a refund
or a saga's void landing on another server process (or after a restart) found no intent. Its
state now lives in two tables of its own, which Orderline's books never read.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderline.core.db.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sandbox_payment_intents",
        sa.Column("reference", sa.String(length=60), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("capture_mode", sa.String(length=10), nullable=False),
        sa.Column("intent_metadata", sa.JSON(), nullable=False),
        sa.Column("payment_method", sa.String(length=60), nullable=True),
        sa.Column("client_secret", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("amount_authorized", sa.BigInteger(), nullable=False),
        sa.Column("amount_captured", sa.BigInteger(), nullable=False),
        sa.Column("amount_refunded", sa.BigInteger(), nullable=False),
        sa.Column("next_action", sa.JSON(), nullable=True),
        sa.Column("failure_code", sa.String(length=60), nullable=True),
        sa.Column("failure_message", sa.String(length=500), nullable=True),
        sa.Column(
            "created_at", orderline.core.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", orderline.core.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.CheckConstraint(
            "amount_captured <= amount_authorized",
            name=op.f("ck_sandbox_payment_intents_captured_within_auth"),
        ),
        sa.CheckConstraint(
            "amount_refunded <= amount_captured",
            name=op.f("ck_sandbox_payment_intents_refunded_within_captured"),
        ),
        sa.PrimaryKeyConstraint("reference", name=op.f("pk_sandbox_payment_intents")),
    )
    op.create_table(
        "sandbox_idempotency_keys",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.Column(
            "created_at", orderline.core.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sandbox_idempotency_keys")),
    )


def downgrade() -> None:
    op.drop_table("sandbox_idempotency_keys")
    op.drop_table("sandbox_payment_intents")
