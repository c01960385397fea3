"""the console at a year of orders: the funnel without a join, the search box with an index

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 19:40:00

- ``checkouts.channel``: the cart's channel, copied from the cart when the checkout starts
  (a cart's channel never changes). The overview's checkout funnel was a join of the period's
  checkouts with every cart of the business; it now reads the checkouts alone, and on
  PostgreSQL ``ix_checkouts_business_created`` includes the channel and the status, so the
  funnel of a year reads that index only.
- The default channels' names as a merchant writes them ("WhatsApp", not "Whatsapp"), where
  they are still the names they were created with.
- ``ix_orders_search`` (PostgreSQL only): a trigram index (``pg_trgm``) on what the order
  list's search box looks in (number, customer name, email and phone), so a search that
  matches a few orders of a year's worth no longer reads them all. ``pg_trgm`` ships with
  PostgreSQL and is a trusted extension: the owner of the database may create it. Where it
  cannot be created, the migration goes on without the index and says so; searches still
  work, only slower.
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

# The same expression as orders.store.search_text(): the planner matches them as written.
SEARCH_TEXT = ("lower(number || '|' || customer_name || '|' || coalesce(customer_email, '') "
               "|| '|' || coalesce(customer_phone, ''))")
CREATE_INDEX = f"CREATE INDEX ix_orders_search ON orders USING gin (({SEARCH_TEXT}) gin_trgm_ops)"


RENAMED = {"web": ("Web", "Web shop"), "whatsapp": ("Whatsapp", "WhatsApp"),
           "pos": ("Pos", "Counter (POS)"), "api": ("Api", "API")}


def upgrade() -> None:
    for code, (was, now) in RENAMED.items():
        op.execute(sa.text("UPDATE channels SET name = :now WHERE code = :code AND name = :was")
                   .bindparams(now=now, code=code, was=was))
    with op.batch_alter_table("checkouts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=40), nullable=True))
    op.execute("UPDATE checkouts SET channel = (SELECT carts.channel FROM carts "
               "WHERE carts.id = checkouts.cart_id)")
    with op.batch_alter_table("checkouts", schema=None) as batch_op:
        batch_op.alter_column("channel", existing_type=sa.String(length=40), nullable=False)
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.drop_index("ix_checkouts_business_created", table_name="checkouts")
    op.create_index("ix_checkouts_business_created", "checkouts", ["business_id", "created_at"],
                    postgresql_include=["channel", "status"])
    with bind.begin_nested() as trying:
        try:
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        except sa.exc.DBAPIError as error:
            trying.rollback()
            log.warning("pg_trgm could not be created (%s): the order search works without "
                        "its index, but reads every order of a business. Ask the database's "
                        "owner to run CREATE EXTENSION pg_trgm; then %s;",
                        str(error).splitlines()[0], CREATE_INDEX)
            return
    op.execute(CREATE_INDEX)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_orders_search")
        op.drop_index("ix_checkouts_business_created", table_name="checkouts")
        op.create_index("ix_checkouts_business_created", "checkouts",
                        ["business_id", "created_at"])
    with op.batch_alter_table("checkouts", schema=None) as batch_op:
        batch_op.drop_column("channel")
