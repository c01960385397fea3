"""SQL of shipping zones, their shipping methods and tax rates.

Every statement names the business, so an id of another business finds nothing. Methods and
rates also carry their zone: a method is reached through ``(business, zone, method)``.

The checkout reads through ``zone_terms`` (to match the buyer's address), ``methods_of_zone``
(what the buyer may choose) and ``zone_pricing`` (the chosen method and the zone's tax rates,
in one statement, so the two always come from the same committed state).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, true, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.db import direct
from orderline.core.db.tables import table_of
from orderline.pricing.engine import ShippingKind, ShippingTerms, TaxRateTerms, WeightBand
from orderline.shipping.rules import ZoneTerms
from orderline.shipping.tables import ShippingMethod, ShippingZone, TaxRate

zones = table_of(ShippingZone)
methods = table_of(ShippingMethod)
rates = table_of(TaxRate)

# What callers see: everything but the business (it is the caller's own).
ZONE_VIEW = [c for c in zones.c if c.name != "business_id"]
METHOD_VIEW = [c for c in methods.c if c.name != "business_id"]
RATE_VIEW = [c for c in rates.c if c.name != "business_id"]

_ZONE_ORDER = (zones.c.position, zones.c.created_at, zones.c.id)
_ZONES = (select(*ZONE_VIEW).where(zones.c.business_id == bindparam("b_business"))
          .order_by(*_ZONE_ORDER))
_METHOD_ORDER = (methods.c.position, methods.c.created_at, methods.c.id)
_RATE_ORDER = (rates.c.created_at, rates.c.id)


# --- zones -----------------------------------------------------------------------------------

async def insert_zone(conn: AsyncConnection, values: dict[str, Any]) -> RowMapping:
    stmt = insert(zones).values(**values).returning(*ZONE_VIEW)
    return (await conn.execute(stmt)).mappings().one()


async def list_zones(conn: AsyncConnection, business_id: uuid.UUID) -> list[RowMapping]:
    return list((await conn.execute(_ZONES, {"b_business": business_id})).mappings())


async def get_zone(conn: AsyncConnection, business_id: uuid.UUID, zone_id: uuid.UUID, *,
                   for_update: bool = False) -> RowMapping | None:
    """The zone; ``for_update`` locks it on PostgreSQL, so it cannot be deleted while a
    method or rate is added to it (SQLite writers are serialised already)."""
    stmt = select(*ZONE_VIEW).where(zones.c.business_id == business_id, zones.c.id == zone_id)
    if for_update and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return (await conn.execute(stmt)).mappings().first()


async def update_zone(conn: AsyncConnection, business_id: uuid.UUID, zone_id: uuid.UUID,
                      values: dict[str, Any]) -> RowMapping | None:
    stmt = (update(zones).where(zones.c.business_id == business_id, zones.c.id == zone_id)
            .values(**values).returning(*ZONE_VIEW))
    return (await conn.execute(stmt)).mappings().first()


async def delete_zone(conn: AsyncConnection, business_id: uuid.UUID,
                      zone_id: uuid.UUID) -> RowMapping | None:
    """Delete a zone with its methods and rates (ON DELETE CASCADE)."""
    stmt = (delete(zones).where(zones.c.business_id == business_id, zones.c.id == zone_id)
            .returning(*ZONE_VIEW))
    return (await conn.execute(stmt)).mappings().first()


# --- methods ---------------------------------------------------------------------------------

async def insert_method(conn: AsyncConnection, values: dict[str, Any]) -> RowMapping:
    stmt = insert(methods).values(**values).returning(*METHOD_VIEW)
    return (await conn.execute(stmt)).mappings().one()


async def methods_of(conn: AsyncConnection, business_id: uuid.UUID,
                     zone_ids: Sequence[uuid.UUID]) -> list[RowMapping]:
    """Every method (active or not) of these zones, each zone's by position."""
    if not zone_ids:
        return []
    stmt = (select(*METHOD_VIEW)
            .where(methods.c.business_id == business_id, methods.c.zone_id.in_(zone_ids))
            .order_by(*_METHOD_ORDER))
    return list((await conn.execute(stmt)).mappings())


async def get_method(conn: AsyncConnection, business_id: uuid.UUID, zone_id: uuid.UUID,
                     method_id: uuid.UUID, *, for_update: bool = False) -> RowMapping | None:
    stmt = select(*METHOD_VIEW).where(methods.c.business_id == business_id,
                                      methods.c.zone_id == zone_id, methods.c.id == method_id)
    if for_update and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return (await conn.execute(stmt)).mappings().first()


async def update_method(conn: AsyncConnection, business_id: uuid.UUID, zone_id: uuid.UUID,
                        method_id: uuid.UUID, values: dict[str, Any]) -> RowMapping | None:
    stmt = (update(methods)
            .where(methods.c.business_id == business_id, methods.c.zone_id == zone_id,
                   methods.c.id == method_id)
            .values(**values).returning(*METHOD_VIEW))
    return (await conn.execute(stmt)).mappings().first()


async def delete_method(conn: AsyncConnection, business_id: uuid.UUID, zone_id: uuid.UUID,
                        method_id: uuid.UUID) -> RowMapping | None:
    stmt = (delete(methods)
            .where(methods.c.business_id == business_id, methods.c.zone_id == zone_id,
                   methods.c.id == method_id)
            .returning(*METHOD_VIEW))
    return (await conn.execute(stmt)).mappings().first()


# --- tax rates -------------------------------------------------------------------------------

async def insert_rate(conn: AsyncConnection, values: dict[str, Any]) -> RowMapping:
    stmt = insert(rates).values(**values).returning(*RATE_VIEW)
    return (await conn.execute(stmt)).mappings().one()


async def rates_of(conn: AsyncConnection, business_id: uuid.UUID,
                   zone_ids: Sequence[uuid.UUID]) -> list[RowMapping]:
    if not zone_ids:
        return []
    stmt = (select(*RATE_VIEW)
            .where(rates.c.business_id == business_id, rates.c.zone_id.in_(zone_ids))
            .order_by(*_RATE_ORDER))
    return list((await conn.execute(stmt)).mappings())


async def update_rate(conn: AsyncConnection, business_id: uuid.UUID, zone_id: uuid.UUID,
                      rate_id: uuid.UUID, values: dict[str, Any]) -> RowMapping | None:
    stmt = (update(rates)
            .where(rates.c.business_id == business_id, rates.c.zone_id == zone_id,
                   rates.c.id == rate_id)
            .values(**values).returning(*RATE_VIEW))
    return (await conn.execute(stmt)).mappings().first()


async def delete_rate(conn: AsyncConnection, business_id: uuid.UUID, zone_id: uuid.UUID,
                      rate_id: uuid.UUID) -> RowMapping | None:
    stmt = (delete(rates)
            .where(rates.c.business_id == business_id, rates.c.zone_id == zone_id,
                   rates.c.id == rate_id)
            .returning(*RATE_VIEW))
    return (await conn.execute(stmt)).mappings().first()


# --- what the checkout reads -----------------------------------------------------------------

def _shipping_terms(row: RowMapping) -> ShippingTerms:
    bands = tuple(WeightBand(up_to_grams=int(b["up_to_grams"]), price=int(b["price"]))
                  for b in row["weight_bands"] or ())
    return ShippingTerms(method_id=str(row["id"]), name=row["name"],
                         kind=ShippingKind(row["kind"]), price=int(row["price"]),
                         free_above=None if row["free_above"] is None else int(row["free_above"]),
                         weight_bands=bands)


async def zone_terms(conn: AsyncConnection, business_id: uuid.UUID) -> list[ZoneTerms]:
    """Every zone of the business, by position (the first that matches an address wins)."""
    return [ZoneTerms(id=row["id"], name=row["name"], countries=tuple(row["countries"]),
                      regions=tuple(row["regions"] or ()),
                      postal_prefixes=tuple(row["postal_prefixes"] or ()),
                      position=row["position"])
            for row in await direct.execute(conn, _ZONES, {"b_business": business_id})]


async def methods_of_zone(conn: AsyncConnection, business_id: uuid.UUID,
                          zone_id: uuid.UUID) -> list[ShippingTerms]:
    """The active methods of the zone, by position (none for a zone of another business)."""
    stmt = (select(methods.c.id, methods.c.name, methods.c.kind, methods.c.price,
                   methods.c.free_above, methods.c.weight_bands)
            .where(methods.c.business_id == business_id, methods.c.zone_id == zone_id,
                   methods.c.active == true())
            .order_by(*_METHOD_ORDER))
    return [_shipping_terms(row) for row in (await conn.execute(stmt)).mappings()]


def _zone_pricing_statement(*, first_method: bool) -> Any:
    business: Any = bindparam("b_business")
    zone: Any = bindparam("b_zone")
    chosen: Any = bindparam("b_method")
    if first_method:
        chosen = (select(methods.c.id)
                  .where(methods.c.business_id == business, methods.c.zone_id == zone,
                         methods.c.active == true())
                  .order_by(*_METHOD_ORDER).limit(1).scalar_subquery())
    return (select(methods.c.id, methods.c.name, methods.c.kind, methods.c.price,
                   methods.c.free_above, methods.c.weight_bands,
                   rates.c.id.label("rate_id"), rates.c.name.label("rate_name"),
                   rates.c.rate, rates.c.applies_to_shipping)
            .select_from(methods)
            .join(zones, zones.c.id == methods.c.zone_id)
            .outerjoin(rates, (rates.c.zone_id == zones.c.id)
                       & (rates.c.business_id == business))
            .where(methods.c.id == chosen, methods.c.zone_id == zone,
                   methods.c.business_id == business, zones.c.business_id == business,
                   methods.c.active == true())
            .order_by(rates.c.created_at, rates.c.id))


# Built once (the checkout prices with it on every request): the chosen method, or the first.
_ZONE_PRICING = {False: _zone_pricing_statement(first_method=False),
                 True: _zone_pricing_statement(first_method=True)}


async def zone_pricing(conn: AsyncConnection, business_id: uuid.UUID, zone_id: uuid.UUID,
                       method_id: uuid.UUID | None
                       ) -> tuple[ShippingTerms, list[TaxRateTerms]] | None:
    """The method's terms and the zone's tax rates (oldest first), in one statement; None
    unless the method is an active method of that zone of that business. With no method,
    the zone's first active method (``methods_of_zone``' order); None if it has none."""
    stmt = _ZONE_PRICING[method_id is None]
    params = {"b_business": business_id, "b_zone": zone_id, "b_method": method_id}
    rows = (await direct.execute(conn, stmt, params)).all()
    if not rows:
        return None
    taxes = [TaxRateTerms(name=row["rate_name"], rate=Decimal(row["rate"]),
                          applies_to_shipping=bool(row["applies_to_shipping"]))
             for row in rows if row["rate_id"] is not None]
    return _shipping_terms(rows[0]), taxes
