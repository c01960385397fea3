"""SQL of draft orders and their lines.

Every change of a draft starts with ``touch``: one UPDATE that checks the draft is in a status
that allows the change (and, when the caller sent one, at the version it read), moves
``version`` on and takes the draft's row lock until COMMIT, so the statements that follow never
interleave with another change of the same draft, nor with the opening of its link
(``lock_by_link``) or its completion (``complete_for_cart``).

Lines are shown by their variant's SKU, name and *current* price, like a cart's: a draft is
priced by the pricing engine from the catalog each time it is shown.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, literal, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.catalog.stock_store import held_sum
from orderline.catalog.tables import Product, StockLevel, Variant
from orderline.checkout.cart_store import AvailableCartLine
from orderline.core.db.rows import StoredRow
from orderline.core.db.tables import table_of
from orderline.drafts.tables import DraftOrder, DraftOrderLine

drafts = table_of(DraftOrder)
draft_lines = table_of(DraftOrderLine)
variants = table_of(Variant)
products = table_of(Product)
levels = table_of(StockLevel)


@dataclass(frozen=True, slots=True)
class DraftRow(StoredRow):
    """Every column of ``draft_orders`` but the link token's hash, in table order."""

    id: uuid.UUID
    business_id: uuid.UUID
    status: str
    channel: str
    currency: str
    customer_id: uuid.UUID | None
    customer_name: str | None
    customer_phone: str | None
    customer_email: str | None
    address: dict[str, Any] | None
    shipping_method_id: uuid.UUID | None
    coupon_codes: list[str]
    payment_method: str | None
    note: str
    link_expires_at: datetime | None
    cart_id: uuid.UUID | None
    checkout_id: uuid.UUID | None
    order_id: uuid.UUID | None
    version: int
    created_at: datetime
    updated_at: datetime


DRAFT_VIEW = [drafts.c[name] for name in DraftRow.columns()]


@dataclass(frozen=True, slots=True)
class DraftLineQuantity:
    id: uuid.UUID
    quantity: int


async def insert_draft(conn: AsyncConnection, values: dict[str, Any]) -> DraftRow:
    stmt = insert(drafts).values(**values).returning(*DRAFT_VIEW)
    return DraftRow.from_row((await conn.execute(stmt)).mappings().one())


async def get_draft(conn: AsyncConnection, business_id: uuid.UUID, draft_id: uuid.UUID, *,
                    lock: bool = False) -> DraftRow | None:
    stmt = select(*DRAFT_VIEW).where(drafts.c.business_id == business_id,
                                     drafts.c.id == draft_id)
    if lock:
        stmt = stmt.with_for_update()
    return DraftRow.from_optional((await conn.execute(stmt)).mappings().first())


async def list_drafts(conn: AsyncConnection, business_id: uuid.UUID, *,
                      statuses: Sequence[str], limit: int,
                      before: tuple[datetime, uuid.UUID] | None) -> list[DraftRow]:
    """Newest first; ``before`` is the (created_at, id) of the last row of the page before."""
    stmt = select(*DRAFT_VIEW).where(drafts.c.business_id == business_id)
    if statuses:
        stmt = stmt.where(drafts.c.status.in_(list(statuses)))
    if before is not None:
        stmt = stmt.where(tuple_(drafts.c.created_at, drafts.c.id) < before)
    stmt = stmt.order_by(drafts.c.created_at.desc(), drafts.c.id.desc()).limit(limit)
    return [DraftRow.from_row(r) for r in (await conn.execute(stmt)).mappings()]


async def touch(conn: AsyncConnection, business_id: uuid.UUID, draft_id: uuid.UUID, *,
                statuses: Sequence[str], expected_version: int | None, now: datetime,
                values: dict[str, Any] | None = None) -> int | None:
    """Move a draft in one of ``statuses`` to its next version (writing ``values`` too), in one
    statement that checks the status and, if given, the version. None when nothing changed
    (the caller reads the draft to tell why)."""
    conditions = [drafts.c.id == draft_id, drafts.c.business_id == business_id,
                  drafts.c.status.in_(list(statuses))]
    if expected_version is not None:
        conditions.append(drafts.c.version == expected_version)
    stmt = (update(drafts).where(*conditions)
            .values(**(values or {}), version=drafts.c.version + 1, updated_at=now)
            .returning(drafts.c.version))
    version = (await conn.execute(stmt)).scalar_one_or_none()
    return None if version is None else int(version)


async def lock_by_link(conn: AsyncConnection, token_hash: str) -> DraftRow | None:
    """The draft this link opens, locked until the transaction ends (SQLite has one writer at
    a time), so two openings of the same link run one after the other."""
    stmt = (select(*DRAFT_VIEW).where(drafts.c.link_token_hash == token_hash)
            .with_for_update())
    return DraftRow.from_optional((await conn.execute(stmt)).mappings().first())


async def find_by_link(conn: AsyncConnection, token_hash: str) -> DraftRow | None:
    stmt = select(*DRAFT_VIEW).where(drafts.c.link_token_hash == token_hash)
    return DraftRow.from_optional((await conn.execute(stmt)).mappings().first())


async def set_fields(conn: AsyncConnection, draft_id: uuid.UUID, values: dict[str, Any],
                     now: datetime) -> None:
    """Write ``values`` on a draft the caller has locked, moving its version on."""
    await conn.execute(update(drafts).where(drafts.c.id == draft_id)
                       .values(**values, version=drafts.c.version + 1, updated_at=now))


async def complete_for_cart(conn: AsyncConnection, cart_id: uuid.UUID, order_id: uuid.UUID,
                            checkout_id: uuid.UUID, now: datetime) -> DraftRow | None:
    """The open draft whose link made this cart, now completed into ``order_id``; None when
    the cart is no draft's."""
    found = await conn.execute(_COMPLETE_FOR_CART, {
        "b_cart": cart_id, "b_order": order_id, "b_checkout": checkout_id, "b_now": now})
    return DraftRow.from_optional(found.mappings().first())


_COMPLETE_FOR_CART = (update(drafts)
                      .where(drafts.c.cart_id == bindparam("b_cart"), drafts.c.status == "open")
                      .values(status="completed", order_id=bindparam("b_order"),
                              checkout_id=bindparam("b_checkout"),
                              version=drafts.c.version + 1, updated_at=bindparam("b_now"))
                      .returning(*DRAFT_VIEW))


# --- lines -----------------------------------------------------------------------------------

async def line_of(conn: AsyncConnection, draft_id: uuid.UUID,
                  variant_id: uuid.UUID) -> DraftLineQuantity | None:
    stmt = select(draft_lines.c.id, draft_lines.c.quantity).where(
        draft_lines.c.draft_id == draft_id, draft_lines.c.variant_id == variant_id)
    row = (await conn.execute(stmt)).first()
    return None if row is None else DraftLineQuantity(id=row.id, quantity=row.quantity)


async def line_count_and_next_position(conn: AsyncConnection,
                                       draft_id: uuid.UUID) -> tuple[int, int]:
    stmt = select(func.count(draft_lines.c.id), func.max(draft_lines.c.position)).where(
        draft_lines.c.draft_id == draft_id)
    count, last = (await conn.execute(stmt)).one()
    return int(count), 0 if last is None else int(last) + 1


async def insert_line(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(insert(draft_lines).values(**values))


async def set_line_quantity(conn: AsyncConnection, line_id: uuid.UUID, quantity: int) -> None:
    await conn.execute(update(draft_lines).where(draft_lines.c.id == line_id)
                       .values(quantity=quantity))


async def delete_line(conn: AsyncConnection, line_id: uuid.UUID) -> None:
    await conn.execute(delete(draft_lines).where(draft_lines.c.id == line_id))


async def lines_at(conn: AsyncConnection, business_id: uuid.UUID, draft_id: uuid.UUID,
                   location_id: uuid.UUID, now: datetime) -> list[AvailableCartLine]:
    """The draft's lines with their variant now, its stock level at the location and what is
    available there (as a cart's lines are read), in the order they were added."""
    available = func.coalesce(levels.c.on_hand - held_sum(now), 0).label("available")
    product_archived = (select(products.c.archived_at)
                        .where(products.c.id == variants.c.product_id).scalar_subquery())
    archived = (variants.c.archived_at.is_not(None)
                | product_archived.is_not(None)).label("archived")
    stmt = (select(variants.c.sku, variants.c.id.label("variant_id"), variants.c.product_id,
                   variants.c.name, variants.c.price_minor, variants.c.weight_grams,
                   draft_lines.c.quantity, levels.c.id.label("stock_level_id"),
                   variants.c.low_stock_threshold, draft_lines.c.position,
                   literal(location_id, levels.c.location_id.type).label("location_id"),
                   (levels.c.on_hand - levels.c.reserved).label("free_seen"),
                   available, archived)
            .select_from(draft_lines)
            .join(variants, variants.c.id == draft_lines.c.variant_id)
            .outerjoin(levels, (levels.c.variant_id == variants.c.id)
                       & (levels.c.location_id == location_id))
            .where(draft_lines.c.draft_id == draft_id,
                   draft_lines.c.business_id == business_id)
            .order_by(draft_lines.c.position))
    return [AvailableCartLine.from_row(r) for r in (await conn.execute(stmt)).mappings()]
