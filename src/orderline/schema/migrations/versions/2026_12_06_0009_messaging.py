"""buyer messages over SMS and WhatsApp: senders and delivery status

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderline.core.db.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEW_COLUMNS = ("provider", "provider_message_id", "template", "params", "delivered_at",
                "read_at")


def upgrade() -> None:
    op.create_table(
        "messaging_senders",
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("twilio_account_sid", sa.String(length=64), nullable=True),
        sa.Column("twilio_auth_token", sa.LargeBinary(), nullable=True),
        sa.Column("twilio_from_number", sa.String(length=40), nullable=True),
        sa.Column("twilio_messaging_service_sid", sa.String(length=64), nullable=True),
        sa.Column("cloud_phone_number_id", sa.String(length=64), nullable=True),
        sa.Column("cloud_access_token", sa.LargeBinary(), nullable=True),
        sa.Column("cloud_app_secret", sa.LargeBinary(), nullable=True),
        sa.Column("cloud_verify_token_hash", sa.String(length=64), nullable=True),
        sa.Column("cloud_api_version", sa.String(length=10), nullable=False),
        sa.Column("cloud_language", sa.String(length=20), nullable=False),
        sa.Column("cloud_templates", sa.JSON(), nullable=False),
        sa.Column(
            "updated_at", orderline.core.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_messaging_senders_business_id_businesses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("business_id", name=op.f("pk_messaging_senders")),
    )
    with op.batch_alter_table("messaging_senders", schema=None) as batch_op:
        batch_op.create_index("ix_messaging_senders_phone_number", ["cloud_phone_number_id"],
                              unique=False)
        batch_op.create_index("ix_messaging_senders_verify_token", ["cloud_verify_token_hash"],
                              unique=False)
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("provider_message_id", sa.String(length=100),
                                      nullable=True))
        batch_op.add_column(sa.Column("template", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("params", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column(
            "delivered_at", orderline.core.db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column(
            "read_at", orderline.core.db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_notifications_provider_message", ["provider_message_id"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_provider_message")
        for column in reversed(_NEW_COLUMNS):
            batch_op.drop_column(column)
    with op.batch_alter_table("messaging_senders", schema=None) as batch_op:
        batch_op.drop_index("ix_messaging_senders_verify_token")
        batch_op.drop_index("ix_messaging_senders_phone_number")
    op.drop_table("messaging_senders")
