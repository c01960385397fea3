"""Where each table would live on a Citus cluster distributed by ``business_id``.

Citus (the PostgreSQL extension) spreads a *distributed* table's rows over worker nodes by one
column, here the shop: ``business_id`` (``businesses`` itself by ``id``, its business id), all
co-located, so one shop's rows of every table sit on one node and a transaction of one shop is
a single-node transaction. For that, Citus demands of a distributed table:

- the distribution column is a column of the table;
- its primary key and every unique constraint or unique index include that column (Citus
  cannot check uniqueness across nodes);
- a foreign key to another distributed table goes through the distribution column on both
  sides (``(business_id, order_id) -> orders (business_id, id)``); one to a *reference* table
  (a small table copied whole to every node) is always fine.

A table that is neither is a *reference* table (small and global, copied to every node), a
*coordinator* table (a plain table kept on the coordinator node, never joined with the
distributed ones), or *blocked*: it would need a schema change first. ``placements`` reads the
SQLAlchemy metadata (no database) and gives every table its placement and, for a blocked one,
the blockers found; ``tests/unit/test_distribution.py`` fails when a table is blocked without
being listed in ``BLOCKED`` (with what it would take), so a new table has to be made
distributable or classified on purpose. ``docs/scaling.md`` carries the resulting table
(``scripts/gen-docs``).

This module describes; it changes nothing. Nothing in Orderline runs on Citus today.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Index, MetaData, PrimaryKeyConstraint, Table, UniqueConstraint

DISTRIBUTION_COLUMN = "business_id"

# The tenant table is distributed by its own id: its id *is* the business id.
TENANT_ROOT = "businesses"
TENANT_ROOT_COLUMN = "id"

# Small, global tables copied to every node. None yet: every table of Orderline belongs to a
# shop or to the sandbox gateway. (A currency or country list would go here.)
REFERENCE: dict[str, str] = {}

# Plain tables left on the coordinator: Citus allows them as long as no query joins them with
# a distributed table.
COORDINATOR: dict[str, str] = {
    "sandbox_payment_intents": "the sandbox gateway's own ledger, standing in for an external "
    "provider; Orderline's books never read or join it, and production runs with the sandbox off",
    "sandbox_idempotency_keys": "the sandbox gateway's idempotency keys, keyed by the key "
    "alone, like a real provider's; never joined with Orderline's tables",
}

# The change every table keyed by ``id`` alone needs ("the key change" in docs/scaling.md).
_KEY = "the key change"

# Blocked today, with what it would take: "the key change" is primary key (business_id, id)
# with the foreign keys into it made (business_id, x_id); the rest names the constraint or the
# lookup that has no shop.
BLOCKED: dict[str, str] = {
    "api_keys": f"{_KEY}; the key is looked up by its hash before the shop is known: keep a "
    "small (key_hash -> business_id) routing table, or put the shop in the key itself",
    "audit_entries": _KEY,
    "carts": f"{_KEY}; `uq_carts_token_hash` is looked up before the shop is known "
    "(`X-Cart-Token`): carry the shop in the token, or a (token_hash -> business_id) lookup",
    "cart_lines": f"{_KEY}; `uq_cart_lines_cart_id_variant_id` gains business_id (same "
    "meaning: a cart belongs to one shop)",
    "channels": _KEY,
    "draft_orders": f"{_KEY}; `uq_draft_orders_link_token_hash` is looked up before the shop "
    "is known (the link): carry the shop in the token, or a (token_hash -> business_id) "
    "lookup; `uq_draft_orders_cart_id` gains business_id",
    "draft_order_lines": f"{_KEY}; `uq_draft_order_lines_draft_id_variant_id` gains "
    "business_id (same meaning: a draft belongs to one shop)",
    "checkouts": _KEY,
    "cod_otps": _KEY,
    "coupon_customer_uses": "no business_id: add it (from coupons), primary key "
    "(business_id, coupon_id, customer_id), and the ON CONFLICT (coupon_id, customer_id) "
    "that counts uses (coupons/store.py) names all three",
    "coupons": _KEY,
    "customers": _KEY,
    "event_streams": "no business_id: add it (every aggregate belongs to one shop), primary "
    "key (business_id, aggregate_id), and the ON CONFLICT (aggregate_id) that takes the next "
    "sequence (events/outbox_store.py) names both",
    "handler_inbox": f"{_KEY}; `uq_handler_inbox_handler_event_id` gains business_id (an "
    "event belongs to one shop)",
    "idempotency_keys": _KEY,
    "locations": _KEY,
    "manual_payment_methods": _KEY,
    "manual_payments": f"{_KEY}; `uq_manual_payments_order_id` gains business_id (same "
    "meaning)",
    "notifications": _KEY,
    "order_changes": f"{_KEY}; `uq_order_changes_order_id_number` gains business_id (same "
    "meaning)",
    "payment_requests": f"{_KEY}; `uq_payment_requests_change_id` gains business_id (same "
    "meaning)",
    "order_change_lines": f"{_KEY}; `uq_order_change_lines_change_id_sku` gains business_id "
    "(same meaning)",
    "order_coupons": _KEY,
    "order_events": _KEY,
    "order_lines": _KEY,
    "order_links": f"{_KEY}; `uq_order_links_order_id_kind_change_id` gains business_id",
    "orders": f"{_KEY}; `uq_orders_checkout_id` gains business_id (same meaning); the buyer's "
    "order link is looked up by `ux_orders_access_token_hash` before the shop is known: carry "
    "the shop in the link, or a (token_hash -> business_id) lookup",
    "outbox_events": f"{_KEY}; `uq_outbox_events_event_id` and "
    "`uq_outbox_events_aggregate_id_sequence` gain business_id; the relay claims across shops "
    "(fine: Citus runs it on every node, or one relay per node)",
    "payment_intents": f"{_KEY}; `uq_payment_intents_provider_provider_ref` is how a "
    "provider's webhook finds its intent, before the shop is known: put the shop in the "
    "webhook URL or the intent's metadata, or a (provider_ref -> business_id) lookup",
    "payment_movements": f"{_KEY}; `uq_payment_movements_intent_id_kind_source` gains "
    "business_id",
    "payment_proofs": f"{_KEY}; `uq_payment_proofs_order_id_version` gains business_id",
    "products": _KEY,
    "provider_events": f"{_KEY}; `uq_provider_events_provider_event_id` dedupes a "
    "provider's webhook before the shop is known: take the shop from the webhook URL first",
    "reservations": _KEY,
    "return_lines": _KEY,
    "return_photos": _KEY,
    "returns": f"{_KEY}; `uq_returns_order_id_number` gains business_id (same meaning)",
    "shipment_lines": _KEY,
    "shipments": f"{_KEY}; `uq_shipments_order_id_number` gains business_id (same meaning)",
    "shipping_methods": _KEY,
    "shipping_zones": _KEY,
    "staff_invitations": f"{_KEY}; the invitation link is looked up by "
    "`uq_staff_invitations_token_hash` before the shop is known: carry the shop in the link",
    "staff_members": _KEY,
    "staff_sessions": f"{_KEY}; the session cookie is looked up by "
    "`uq_staff_sessions_token_hash` before the shop is known: carry the shop in the cookie",
    "stock_levels": f"{_KEY}; `uq_stock_levels_variant_id_location_id` gains business_id "
    "(same meaning)",
    "stock_movements": _KEY,
    "tax_rates": _KEY,
    "variants": _KEY,
    "verification_audit": _KEY,
    "webhook_attempts": _KEY,
    "webhook_deliveries": f"{_KEY}; `uq_webhook_deliveries_endpoint_id_event_id` gains "
    "business_id",
    "webhook_endpoints": _KEY,
}


class Placement(StrEnum):
    DISTRIBUTED = "distributed"
    REFERENCE = "reference"
    COORDINATOR = "coordinator"
    BLOCKED = "blocked"


@dataclass(frozen=True, slots=True)
class TablePlacement:
    """One table: where it would go, why, and (when blocked) what Citus would refuse."""

    table: str
    placement: Placement
    reason: str
    blockers: tuple[str, ...] = ()
    classified: bool = True  # False: blocked and not listed in BLOCKED (the test fails)


def distribution_column(table: Table) -> str:
    return TENANT_ROOT_COLUMN if table.name == TENANT_ROOT else DISTRIBUTION_COLUMN


def _columns(names: list[str]) -> str:
    return "(" + ", ".join(names) + ")"


def blockers(table: Table) -> list[str]:
    """What stops Citus from distributing ``table`` by its shop, in plain words."""
    column = distribution_column(table)
    if column not in table.columns:
        return [f"no {column} column"]
    found: list[str] = []
    for constraint in sorted(table.constraints, key=lambda c: str(c.name)):
        if not isinstance(constraint, PrimaryKeyConstraint | UniqueConstraint):
            continue
        names = [c.name for c in constraint.columns]
        if column in names:
            continue
        if isinstance(constraint, PrimaryKeyConstraint):
            found.append(f"primary key {_columns(names)} lacks {column}")
        else:
            found.append(f"unique `{constraint.name}` {_columns(names)} lacks {column}")
    for index in sorted(table.indexes, key=lambda i: str(i.name)):
        names = [getattr(e, "name", str(e)) for e in index.expressions]
        if isinstance(index, Index) and index.unique and column not in names:
            found.append(f"unique index `{index.name}` {_columns(names)} lacks {column}")
    for fk in sorted(table.foreign_key_constraints, key=lambda f: str(f.name)):
        target = fk.referred_table
        if target.name in REFERENCE:
            continue
        pairs = {e.parent.name: e.column.name for e in fk.elements}
        if pairs.get(column) != distribution_column(target):
            found.append(f"foreign key {_columns(list(pairs))} -> {target.name}"
                         f"{_columns(list(pairs.values()))} lacks {column}")
    return found


def placements(metadata: MetaData) -> list[TablePlacement]:
    """Every table of ``metadata``, by name, with its placement."""
    result = []
    for name, table in sorted(metadata.tables.items()):
        if name in REFERENCE:
            result.append(TablePlacement(name, Placement.REFERENCE, REFERENCE[name]))
        elif name in COORDINATOR:
            result.append(TablePlacement(name, Placement.COORDINATOR, COORDINATOR[name]))
        elif found := blockers(table):
            result.append(TablePlacement(name, Placement.BLOCKED, BLOCKED.get(name, ""),
                                         tuple(found), classified=name in BLOCKED))
        else:
            how = (f"by {TENANT_ROOT_COLUMN}, the tenant table" if name == TENANT_ROOT
                   else f"by {DISTRIBUTION_COLUMN}, co-located with {TENANT_ROOT}")
            result.append(TablePlacement(name, Placement.DISTRIBUTED, how))
    return result


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def placement_table(metadata: MetaData) -> str:
    """The markdown table of ``docs/scaling.md``: counts, then one row per table."""
    rows = placements(metadata)
    counts = ", ".join(f"{sum(r.placement is p for r in rows)} {p.value}" for p in Placement)
    lines = [f"{len(rows)} tables: {counts}.", "",
             "| table | placement | why, or what it would take | what Citus would refuse |",
             "| --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| `{r.table}` | {r.placement.value} | {_cell(r.reason)} | "
                     f"{_cell('; '.join(r.blockers)) or '-'} |")
    return "\n".join(lines)
