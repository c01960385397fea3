"""idempotency keys for every creating request

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 12:00:00

Placeholder: filled in by the change that needs it; until then it changes nothing.
"""

from collections.abc import Sequence

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
