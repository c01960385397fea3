"""when each API key was last used

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 19:30:00

``api_keys.last_used_at``: when the key was last used, recorded at most once per key per five
minutes by a conditional UPDATE (``tenancy/key_use.py``); null until its first use (and for
every key before this).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderline.core.db.types

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            "last_used_at", orderline.core.db.types.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("last_used_at")
