"""order numbers from a sequence per business; gapless invoice numbers

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 02:00:00

- On PostgreSQL each business gets its own order-number sequence, ``order_numbers_<the
  business id's 32 hex digits>``, starting after the business's ``order_counters.last_number``
  (and after its highest ``OL-`` order number, should the two disagree). Orders take their
  number with ``nextval``, which holds no lock through the order's transaction, so one shop's
  orders no longer queue on its counter row (issue 15, item 3). Numbers stay unique and
  increasing; a rolled-back order leaves a gap. SQLite keeps the counter row.
- ``order_counters.last_invoice_number`` and ``orders.invoice_number``/``invoiced_at``: the
  gapless invoice number the worker gives an order once its money is in.

Stop the processes of the previous version before upgrading: they would go on numbering from
the counter row, behind the sequence. Downgrading writes each sequence's last value back into
``last_number`` before dropping the sequences, so the counter row carries on after it.
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderline.core.db.types

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As tenancy.rules.order_number_sequence_name (a migration keeps its own copy: the code may
# change after it).
PREFIX = "order_numbers_"
HIGHEST_ORDER_NUMBER = (
    "SELECT max(CAST(substr(number, 4) AS bigint)) FROM orders "
    "WHERE business_id = :business AND number ~ '^OL-[0-9]{1,18}$'")


def upgrade() -> None:
    with op.batch_alter_table("order_counters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_invoice_number", sa.BigInteger(),
                                      server_default="0", nullable=False))
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("invoice_number", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column(
            "invoiced_at", orderline.core.db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_orders_business_id_invoice_number"),
            ["business_id", "invoice_number"])
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    counted = bind.execute(sa.text(
        "SELECT business_id, last_number FROM order_counters")).all()
    for business_id, last_number in counted:
        highest = bind.execute(sa.text(HIGHEST_ORDER_NUMBER),
                               {"business": business_id}).scalar()
        start = max(int(last_number or 0), int(highest or 0)) + 1
        op.execute(f"CREATE SEQUENCE IF NOT EXISTS {_name(business_id)} AS bigint "
                   f"START WITH {start} MINVALUE 1 NO CYCLE")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for business_id in bind.execute(sa.text(
                "SELECT business_id FROM order_counters")).scalars().all():
            name = _name(business_id)
            if bind.execute(sa.text("SELECT to_regclass(:name)"), {"name": name}).scalar():
                # The counter row carries on after the last number the sequence gave.
                bind.execute(sa.text(
                    "UPDATE order_counters SET last_number = greatest(last_number, (SELECT "
                    f"CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {name}))"
                    " WHERE business_id = :business"), {"business": business_id})
                op.execute(f"DROP SEQUENCE {name}")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_orders_business_id_invoice_number"),
                                 type_="unique")
        batch_op.drop_column("invoiced_at")
        batch_op.drop_column("invoice_number")
    with op.batch_alter_table("order_counters", schema=None) as batch_op:
        batch_op.drop_column("last_invoice_number")


def _name(business_id: object) -> str:
    """The sequence's name from the business id (hex digits only, so safe in DDL)."""
    return PREFIX + uuid.UUID(str(business_id)).hex
