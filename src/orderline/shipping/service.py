"""Shipping zones, their shipping methods and tax rates, as the merchant manages them.

A zone says where the business delivers (countries, optionally narrowed by regions or
postal-code prefixes); each zone has the methods a buyer may choose there and the tax rates
charged on orders shipped into it. Reading takes the ``read`` scope, changing ``admin``: these
decide what every buyer pays.

The values are checked and normalised here, not only by the HTTP schemas, so whatever reaches
the tables is what the checkout can price: a ``weight`` method has bands that rise strictly, a
``free_above`` method has its threshold, a rate is a percentage from 0 to 100 with at most
four decimals, stored as its shortest decimal string ("8.25", "10").

On a change of ``kind`` the fields of the old kind that the request did not mention are
dropped (``free_above``, ``weight_bands``); sending one that does not belong to the new kind
is refused, so a request never silently loses what it said.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.errors import NotFound, ValidationFailed
from orderline.core.runtime import Runtime
from orderline.pricing.engine import ShippingKind
from orderline.shipping import store
from orderline.shipping.rules import normalize_postal_code
from orderline.tenancy.rules import Principal, Scope

MAX_ZONE_NAME = 200
MAX_METHOD_NAME = 200
MAX_RATE_NAME = 100
MAX_REGION = 200
MAX_POSTAL_PREFIX = 20
MAX_PRICE = 10**15
MAX_POSITION = 1_000_000
MAX_WEIGHT_GRAMS = 1_000_000_000
MAX_RATE_DECIMALS = 4
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")
_PLAIN_DECIMAL = re.compile(r"^[0-9]{1,3}(\.[0-9]+)?$")


# --- checks ----------------------------------------------------------------------------------

def _name(value: str, field: str, limit: int) -> str:
    text = value.strip()
    if not text or len(text) > limit:
        raise ValidationFailed(f"A {field.replace('_', ' ')} needs 1 to {limit} characters.",
                               details={"field": field})
    return text


def _position(value: int) -> int:
    if not 0 <= value <= MAX_POSITION:
        raise ValidationFailed(f"A position is 0 to {MAX_POSITION}.",
                               details={"field": "position", "position": value})
    return value


def _amount(value: int, field: str) -> int:
    if isinstance(value, bool) or not 0 <= value <= MAX_PRICE:
        raise ValidationFailed(f"{field} is an amount in minor units from 0 to {MAX_PRICE}.",
                               details={"field": field})
    return value


def check_countries(countries: Sequence[str]) -> list[str]:
    """Two-letter ISO 3166 codes, upper case, each once; at least one."""
    if not countries:
        raise ValidationFailed("A zone needs at least one country, such as 'US'.",
                               details={"field": "countries"})
    bad = [c for c in countries if not _COUNTRY.match(c.strip())]
    if bad:
        raise ValidationFailed("Countries are two-letter ISO 3166 codes such as 'US' or 'DE'.",
                               details={"field": "countries", "invalid": bad})
    return list(dict.fromkeys(c.strip().upper() for c in countries))


def check_regions(regions: Sequence[str]) -> list[str]:
    cleaned = [r.strip() for r in regions]
    if any(not r or len(r) > MAX_REGION for r in cleaned):
        raise ValidationFailed(f"Each region needs 1 to {MAX_REGION} characters.",
                               details={"field": "regions"})
    return list(dict.fromkeys(cleaned))


def check_postal_prefixes(prefixes: Sequence[str]) -> list[str]:
    """Compared as the checkout compares postal codes: no blanks, upper case."""
    cleaned = [normalize_postal_code(p) for p in prefixes]
    if any(not p or len(p) > MAX_POSTAL_PREFIX for p in cleaned):
        raise ValidationFailed(
            f"Each postal-code prefix needs 1 to {MAX_POSTAL_PREFIX} characters besides blanks.",
            details={"field": "postal_prefixes"})
    return list(dict.fromkeys(cleaned))


def parse_tax_rate(raw: str | int | float | Decimal) -> str:
    """A percentage from 0 to 100 with at most four decimals, as its shortest decimal string:
    "8.250" and 8.25 are "8.25", "10.0" is "10"."""
    refused = ValidationFailed(
        f"A tax rate is a percentage from 0 to 100 with at most {MAX_RATE_DECIMALS} decimals, "
        "such as \"8.25\".", details={"field": "rate", "rate": str(raw)})
    if isinstance(raw, bool):
        raise refused
    if isinstance(raw, str) and not _PLAIN_DECIMAL.match(raw.strip()):
        raise refused
    try:
        # str() of a float is its shortest repr: 8.25 stays 8.25, not 8.2500000000000007...
        rate = Decimal(raw.strip() if isinstance(raw, str) else str(raw))
    except InvalidOperation:
        raise refused from None
    if not rate.is_finite() or not 0 <= rate <= 100:
        raise refused
    exponent = rate.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_RATE_DECIMALS:
        raise refused
    return format(rate.normalize(), "f")


def check_weight_bands(bands: Sequence[Mapping[str, Any]]) -> list[dict[str, int]]:
    """At least one band; weights above 0 and strictly rising, prices not negative."""
    if not bands:
        raise ValidationFailed("A weight method needs at least one weight band, such as "
                               "{\"up_to_grams\": 1000, \"price\": 500}.",
                               details={"field": "weight_bands"})
    checked: list[dict[str, int]] = []
    for n, band in enumerate(bands):
        up_to, price = band.get("up_to_grams"), band.get("price")
        if (not isinstance(up_to, int) or isinstance(up_to, bool)
                or not 0 < up_to <= MAX_WEIGHT_GRAMS):
            raise ValidationFailed(
                f"A band's up_to_grams is a whole number of grams from 1 to {MAX_WEIGHT_GRAMS}.",
                details={"field": f"weight_bands.{n}.up_to_grams"})
        if not isinstance(price, int):
            raise ValidationFailed("A band needs a price in minor units.",
                                   details={"field": f"weight_bands.{n}.price"})
        _amount(price, f"weight_bands.{n}.price")
        if checked and up_to <= checked[-1]["up_to_grams"]:
            raise ValidationFailed(
                "Weight bands go from the lightest up: each up_to_grams must be above the one "
                "before.", details={"field": f"weight_bands.{n}.up_to_grams"})
        checked.append({"up_to_grams": up_to, "price": price})
    return checked


def check_method(method: Mapping[str, Any], given: set[str]) -> dict[str, Any]:
    """A method's full state made consistent for its kind (see the module doc); ``given``
    names the fields the request sent."""
    try:
        kind = ShippingKind(method["kind"])
    except ValueError:
        raise ValidationFailed("A shipping method's kind is flat, weight or free_above.",
                               details={"field": "kind", "kind": method["kind"]}) from None
    values: dict[str, Any] = {
        "name": _name(method["name"], "name", MAX_METHOD_NAME), "kind": kind.value,
        "price": _amount(method["price"], "price"), "active": bool(method["active"]),
        "position": _position(method["position"]), "free_above": None, "weight_bands": []}
    if kind == ShippingKind.FREE_ABOVE:
        if method.get("free_above") is None:
            raise ValidationFailed("A free_above method needs free_above: the subtotal from "
                                   "which shipping is free.", details={"field": "free_above"})
        values["free_above"] = _amount(method["free_above"], "free_above")
    elif "free_above" in given and method.get("free_above") is not None:
        raise ValidationFailed("free_above applies to methods of kind free_above only.",
                               details={"field": "free_above", "kind": kind.value})
    if kind == ShippingKind.WEIGHT:
        values["weight_bands"] = check_weight_bands(method.get("weight_bands") or [])
    elif "weight_bands" in given and method.get("weight_bands"):
        raise ValidationFailed("weight_bands apply to methods of kind weight only.",
                               details={"field": "weight_bands", "kind": kind.value})
    return values


# --- views -----------------------------------------------------------------------------------

def _zone_view(zone: Mapping[Any, Any], methods: Sequence[Mapping[Any, Any]],
               rates: Sequence[Mapping[Any, Any]]) -> dict[str, Any]:
    return {**dict(zone), "methods": [dict(m) for m in methods],
            "tax_rates": [dict(r) for r in rates]}


async def _with_children(conn: AsyncConnection, business_id: uuid.UUID,
                         zones: Sequence[RowMapping]) -> list[dict[str, Any]]:
    ids = [z["id"] for z in zones]
    methods: dict[uuid.UUID, list[RowMapping]] = defaultdict(list)
    rates: dict[uuid.UUID, list[RowMapping]] = defaultdict(list)
    for m in await store.methods_of(conn, business_id, ids):
        methods[m["zone_id"]].append(m)
    for r in await store.rates_of(conn, business_id, ids):
        rates[r["zone_id"]].append(r)
    return [_zone_view(z, methods[z["id"]], rates[z["id"]]) for z in zones]


async def _zone(conn: AsyncConnection, business_id: uuid.UUID,
                zone_id: uuid.UUID) -> dict[str, Any]:
    zone = await store.get_zone(conn, business_id, zone_id)
    if zone is None:
        raise NotFound("shipping_zone", zone_id)
    return (await _with_children(conn, business_id, [zone]))[0]


async def _locked_zone(conn: AsyncConnection, business_id: uuid.UUID,
                       zone_id: uuid.UUID) -> None:
    if await store.get_zone(conn, business_id, zone_id, for_update=True) is None:
        raise NotFound("shipping_zone", zone_id)


# --- zones -----------------------------------------------------------------------------------

async def create_zone(runtime: Runtime, principal: Principal, *, name: str,
                      countries: Sequence[str], regions: Sequence[str] = (),
                      postal_prefixes: Sequence[str] = (), position: int = 0
                      ) -> dict[str, Any]:
    """A zone with no methods and no tax rates yet."""
    principal.require(Scope.ADMIN)
    values = {"name": _name(name, "name", MAX_ZONE_NAME),
              "countries": check_countries(countries), "regions": check_regions(regions),
              "postal_prefixes": check_postal_prefixes(postal_prefixes),
              "position": _position(position)}
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> RowMapping:
        return await store.insert_zone(conn, {
            "id": uuid.uuid4(), "business_id": principal.business_id, **values,
            "created_at": now, "updated_at": now})

    row = await runtime.db.run(work)
    return _zone_view(row, [], [])


async def list_zones(runtime: Runtime, principal: Principal) -> list[dict[str, Any]]:
    """Every zone by position, each with its methods (active or not) and tax rates."""
    principal.require(Scope.READ)
    async with runtime.db.read() as conn:
        zones = await store.list_zones(conn, principal.business_id)
        return await _with_children(conn, principal.business_id, zones)


async def get_zone(runtime: Runtime, principal: Principal,
                   zone_id: uuid.UUID) -> dict[str, Any]:
    principal.require(Scope.READ)
    async with runtime.db.read() as conn:
        return await _zone(conn, principal.business_id, zone_id)


async def update_zone(runtime: Runtime, principal: Principal, zone_id: uuid.UUID, *,
                      name: str | None = None, countries: Sequence[str] | None = None,
                      regions: Sequence[str] | None = None,
                      postal_prefixes: Sequence[str] | None = None,
                      position: int | None = None) -> dict[str, Any]:
    """Change the given fields (None keeps one; an empty list clears regions or prefixes)."""
    principal.require(Scope.ADMIN)
    values: dict[str, Any] = {}
    if name is not None:
        values["name"] = _name(name, "name", MAX_ZONE_NAME)
    if countries is not None:
        values["countries"] = check_countries(countries)
    if regions is not None:
        values["regions"] = check_regions(regions)
    if postal_prefixes is not None:
        values["postal_prefixes"] = check_postal_prefixes(postal_prefixes)
    if position is not None:
        values["position"] = _position(position)
    values["updated_at"] = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        if await store.update_zone(conn, principal.business_id, zone_id, values) is None:
            raise NotFound("shipping_zone", zone_id)
        return await _zone(conn, principal.business_id, zone_id)

    return await runtime.db.run(work)


async def delete_zone(runtime: Runtime, principal: Principal,
                      zone_id: uuid.UUID) -> dict[str, Any]:
    """Delete the zone with its methods and tax rates; answers the zone as it was."""
    principal.require(Scope.ADMIN)

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        zone = await _zone(conn, principal.business_id, zone_id)
        if await store.delete_zone(conn, principal.business_id, zone_id) is None:
            raise NotFound("shipping_zone", zone_id)  # deleted meanwhile by another request
        return zone

    return await runtime.db.run(work)


# --- methods ---------------------------------------------------------------------------------

async def add_method(runtime: Runtime, principal: Principal, zone_id: uuid.UUID, *,
                     name: str, kind: str, price: int = 0, free_above: int | None = None,
                     weight_bands: Sequence[Mapping[str, Any]] = (), active: bool = True,
                     position: int = 0) -> dict[str, Any]:
    principal.require(Scope.ADMIN)
    given = {"free_above", "weight_bands"}
    values = check_method({"name": name, "kind": kind, "price": price,
                           "free_above": free_above, "weight_bands": list(weight_bands),
                           "active": active, "position": position}, given)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> RowMapping:
        await _locked_zone(conn, principal.business_id, zone_id)
        return await store.insert_method(conn, {
            "id": uuid.uuid4(), "business_id": principal.business_id, "zone_id": zone_id,
            **values, "created_at": now, "updated_at": now})

    return dict(await runtime.db.run(work))


async def update_method(runtime: Runtime, principal: Principal, zone_id: uuid.UUID,
                        method_id: uuid.UUID, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Apply the fields sent (``free_above: null`` clears it); the result must be a whole,
    consistent method of its kind."""
    principal.require(Scope.ADMIN)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> RowMapping:
        current = await store.get_method(conn, principal.business_id, zone_id, method_id,
                                         for_update=True)
        if current is None:
            raise NotFound("shipping_method", method_id)
        values = check_method({**dict(current), **changes}, set(changes))
        row = await store.update_method(conn, principal.business_id, zone_id, method_id,
                                        {**values, "updated_at": now})
        assert row is not None, "the row is locked by this transaction"
        return row

    return dict(await runtime.db.run(work))


async def delete_method(runtime: Runtime, principal: Principal, zone_id: uuid.UUID,
                        method_id: uuid.UUID) -> dict[str, Any]:
    principal.require(Scope.ADMIN)
    row = await runtime.db.run(lambda conn: store.delete_method(
        conn, principal.business_id, zone_id, method_id))
    if row is None:
        raise NotFound("shipping_method", method_id)
    return dict(row)


# --- tax rates -------------------------------------------------------------------------------

async def add_tax_rate(runtime: Runtime, principal: Principal, zone_id: uuid.UUID, *,
                       name: str, rate: str | int | float | Decimal,
                       applies_to_shipping: bool = True) -> dict[str, Any]:
    principal.require(Scope.ADMIN)
    values = {"name": _name(name, "name", MAX_RATE_NAME), "rate": parse_tax_rate(rate),
              "applies_to_shipping": bool(applies_to_shipping)}
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> RowMapping:
        await _locked_zone(conn, principal.business_id, zone_id)
        return await store.insert_rate(conn, {
            "id": uuid.uuid4(), "business_id": principal.business_id, "zone_id": zone_id,
            **values, "created_at": now, "updated_at": now})

    return dict(await runtime.db.run(work))


async def update_tax_rate(runtime: Runtime, principal: Principal, zone_id: uuid.UUID,
                          rate_id: uuid.UUID, *, name: str | None = None,
                          rate: str | int | float | Decimal | None = None,
                          applies_to_shipping: bool | None = None) -> dict[str, Any]:
    """Change the given fields (None keeps one)."""
    principal.require(Scope.ADMIN)
    values: dict[str, Any] = {}
    if name is not None:
        values["name"] = _name(name, "name", MAX_RATE_NAME)
    if rate is not None:
        values["rate"] = parse_tax_rate(rate)
    if applies_to_shipping is not None:
        values["applies_to_shipping"] = bool(applies_to_shipping)
    values["updated_at"] = runtime.clock.now()
    row = await runtime.db.run(lambda conn: store.update_rate(
        conn, principal.business_id, zone_id, rate_id, values))
    if row is None:
        raise NotFound("tax_rate", rate_id)
    return dict(row)


async def delete_tax_rate(runtime: Runtime, principal: Principal, zone_id: uuid.UUID,
                          rate_id: uuid.UUID) -> dict[str, Any]:
    principal.require(Scope.ADMIN)
    row = await runtime.db.run(lambda conn: store.delete_rate(
        conn, principal.business_id, zone_id, rate_id))
    if row is None:
        raise NotFound("tax_rate", rate_id)
    return dict(row)
