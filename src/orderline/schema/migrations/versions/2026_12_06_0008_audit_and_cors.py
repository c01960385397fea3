"""audit log of merchant settings; allowed browser origins per business

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 12:00:00

Placeholder: filled in by the change that needs it; until then it changes nothing.
"""

from collections.abc import Sequence

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
