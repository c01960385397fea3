"""The whole schema: every capability's tables on one metadata, and the Alembic migrations that
build it (``orderline migrate``). It sits above the capabilities, like ``api`` and ``cli``:
each capability declares its own tables in its ``tables`` module, and this package gathers
them so migrations and the check that they match the models see every table."""

from __future__ import annotations

from sqlalchemy import MetaData

from orderline.audit import tables as audit_tables
from orderline.catalog import tables as catalog_tables
from orderline.checkout import tables as checkout_tables
from orderline.cod import tables as cod_tables
from orderline.core.db.tables import Base
from orderline.coupons import tables as coupon_tables
from orderline.documents import tables as document_tables
from orderline.drafts import tables as draft_tables
from orderline.events import tables as event_tables
from orderline.idempotency import tables as idempotency_tables
from orderline.manual_payments import tables as manual_payment_tables
from orderline.notifications import tables as notification_tables
from orderline.order_changes import tables as order_change_tables
from orderline.order_splits import tables as order_split_tables
from orderline.orders import tables as order_tables
from orderline.payments import tables as payment_tables
from orderline.returns import tables as return_tables
from orderline.shipping import tables as shipping_tables
from orderline.staff import tables as staff_tables
from orderline.tenancy import tables as tenancy_tables
from orderline.webhooks import tables as webhook_tables

CAPABILITY_TABLES = (tenancy_tables, catalog_tables, order_tables, event_tables, webhook_tables,
                     notification_tables, shipping_tables, coupon_tables, checkout_tables,
                     idempotency_tables,
                     payment_tables, cod_tables, manual_payment_tables,
                     audit_tables, staff_tables, draft_tables,
                     document_tables, order_change_tables, return_tables,
                     order_split_tables)

metadata: MetaData = Base.metadata

# Indexes the migrations make on one database only, which no model declares (SQLAlchemy
# cannot say "on PostgreSQL only"); comparing the models with a database leaves them out.
UNDECLARED_INDEXES = {
    "ix_orders_search": "PostgreSQL's trigram index for the order search (migration 0015)",
}


def declared(obj: object, name: str | None, kind: str, reflected: bool,
             compare_to: object) -> bool:
    """Alembic's ``include_object``: everything but ``UNDECLARED_INDEXES``."""
    return not (kind == "index" and name in UNDECLARED_INDEXES)
