"""audit log of merchant settings; allowed browser origins per business; checkouts by
business and time (the order stats' conversion)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderline.core.db.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("entity_type", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("actor_key_id", sa.Uuid(), nullable=True),
        sa.Column("actor_key_prefix", sa.String(length=16), nullable=True),
        sa.Column("actor_key_name", sa.String(length=100), nullable=True),
        sa.Column("before", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("after", sa.JSON(none_as_null=True), nullable=True),
        sa.Column(
            "created_at", orderline.core.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_audit_entries_business_id_businesses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    op.create_index(
        "ix_audit_entries_business_created",
        "audit_entries",
        ["business_id", "created_at", "id"],
        unique=False,
    )
    op.create_table(
        "allowed_origins",
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("origin", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at", orderline.core.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_allowed_origins_business_id_businesses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("business_id", "origin", name=op.f("pk_allowed_origins")),
    )
    op.create_index("ix_allowed_origins_origin", "allowed_origins", ["origin"], unique=False)
    op.create_index("ix_checkouts_business_created", "checkouts", ["business_id", "created_at"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_checkouts_business_created", table_name="checkouts")
    op.drop_index("ix_allowed_origins_origin", table_name="allowed_origins")
    op.drop_table("allowed_origins")
    op.drop_index("ix_audit_entries_business_created", table_name="audit_entries")
    op.drop_table("audit_entries")
