"""What the checkout reads of shipping, on each database: the zones to match an address
against, the methods a buyer may choose, and the chosen method with its zone's tax rates in
one statement (nothing for an inactive method, another zone's or another business's)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from orderline.bench.statements import counting
from orderline.core.runtime import Runtime
from orderline.pricing.engine import ShippingKind, ShippingTerms, TaxRateTerms, WeightBand
from orderline.shipping import service as shipping
from orderline.shipping import store as shipping_store
from tests.conftest import Merchant, new_merchant


@pytest.fixture
async def rival(runtime: Runtime) -> Merchant:
    return await new_merchant(runtime, name="Rival shop")


async def zone_of(runtime: Runtime, merchant: Merchant, **fields: Any) -> uuid.UUID:
    values: dict[str, Any] = {"name": "United States", "countries": ["US"], **fields}
    zone = await shipping.create_zone(runtime, merchant.principal, **values)
    return uuid.UUID(str(zone["id"]))


async def method_of(runtime: Runtime, merchant: Merchant, zone_id: uuid.UUID,
                    **fields: Any) -> uuid.UUID:
    values: dict[str, Any] = {"name": "Standard", "kind": "flat", "price": 500, **fields}
    method = await shipping.add_method(runtime, merchant.principal, zone_id, **values)
    return uuid.UUID(str(method["id"]))


async def test_zone_pricing_gives_the_method_and_every_tax_rate_of_its_zone_oldest_first(
        runtime: Runtime, merchant: Merchant) -> None:
    zone_id = await zone_of(runtime, merchant)
    method_id = await method_of(runtime, merchant, zone_id, name="By weight", kind="weight",
                                price=0, weight_bands=[{"up_to_grams": 1000, "price": 400},
                                              {"up_to_grams": 5000, "price": 900}])
    await shipping.add_tax_rate(runtime, merchant.principal, zone_id, name="State",
                                rate="6.2500")
    await shipping.add_tax_rate(runtime, merchant.principal, zone_id, name="City", rate=2,
                                applies_to_shipping=False)
    await shipping.add_tax_rate(runtime, merchant.principal, zone_id, name="Levy", rate=0.125)

    async with runtime.db.read() as conn:
        with counting(runtime.db.engine) as count:
            priced = await shipping_store.zone_pricing(conn, merchant.principal.business_id,
                                                       zone_id, method_id)

    assert priced is not None
    terms, taxes = priced
    assert terms == ShippingTerms(
        method_id=str(method_id), name="By weight", kind=ShippingKind.WEIGHT, price=0,
        free_above=None,
        weight_bands=(WeightBand(up_to_grams=1000, price=400),
                      WeightBand(up_to_grams=5000, price=900)))
    assert taxes == [TaxRateTerms(name="State", rate=Decimal("6.25")),
                     TaxRateTerms(name="City", rate=Decimal("2"), applies_to_shipping=False),
                     TaxRateTerms(name="Levy", rate=Decimal("0.125"))]
    selects = [s for s in count.statements if not s.upper().startswith("BEGIN")]
    assert len(selects) == 1, selects


async def test_zone_pricing_of_a_zone_without_tax_rates_has_the_method_and_no_rates(
        runtime: Runtime, merchant: Merchant) -> None:
    zone_id = await zone_of(runtime, merchant)
    method_id = await method_of(runtime, merchant, zone_id, name="Free over 50",
                                kind="free_above", price=700, free_above=5000)

    async with runtime.db.read() as conn:
        priced = await shipping_store.zone_pricing(conn, merchant.principal.business_id,
                                                   zone_id, method_id)

    assert priced == (ShippingTerms(method_id=str(method_id), name="Free over 50",
                                    kind=ShippingKind.FREE_ABOVE, price=700, free_above=5000),
                      [])


async def test_an_inactive_method_is_neither_priced_nor_offered(
        runtime: Runtime, merchant: Merchant) -> None:
    zone_id = await zone_of(runtime, merchant)
    method_id = await method_of(runtime, merchant, zone_id, active=False)
    await shipping.add_tax_rate(runtime, merchant.principal, zone_id, name="VAT", rate="20")
    business_id = merchant.principal.business_id

    async with runtime.db.read() as conn:
        assert await shipping_store.zone_pricing(conn, business_id, zone_id, method_id) is None
        assert await shipping_store.methods_of_zone(conn, business_id, zone_id) == []

    await shipping.update_method(runtime, merchant.principal, zone_id, method_id,
                                 {"active": True})
    async with runtime.db.read() as conn:
        priced = await shipping_store.zone_pricing(conn, business_id, zone_id, method_id)
        offered = await shipping_store.methods_of_zone(conn, business_id, zone_id)
    assert priced is not None and priced[0].method_id == str(method_id)
    assert [m.method_id for m in offered] == [str(method_id)]


async def test_another_business_finds_no_zone_method_or_price_of_this_one(
        runtime: Runtime, merchant: Merchant, rival: Merchant) -> None:
    zone_id = await zone_of(runtime, merchant)
    method_id = await method_of(runtime, merchant, zone_id)
    await shipping.add_tax_rate(runtime, merchant.principal, zone_id, name="VAT", rate="20")
    other = rival.principal.business_id

    async with runtime.db.read() as conn:
        assert await shipping_store.zone_pricing(conn, other, zone_id, method_id) is None
        assert await shipping_store.methods_of_zone(conn, other, zone_id) == []
        assert await shipping_store.zone_terms(conn, other) == []
        # ... while its own business still sees all of it.
        assert await shipping_store.zone_pricing(
            conn, merchant.principal.business_id, zone_id, method_id) is not None


async def test_a_method_is_priced_only_with_its_own_zone(
        runtime: Runtime, merchant: Merchant) -> None:
    home = await zone_of(runtime, merchant)
    abroad = await zone_of(runtime, merchant, name="Canada", countries=["CA"])
    method_id = await method_of(runtime, merchant, home)
    await shipping.add_tax_rate(runtime, merchant.principal, abroad, name="GST", rate="5")

    async with runtime.db.read() as conn:
        assert await shipping_store.zone_pricing(
            conn, merchant.principal.business_id, abroad, method_id) is None
        assert await shipping_store.methods_of_zone(
            conn, merchant.principal.business_id, abroad) == []


async def test_zone_terms_lists_every_zone_by_position_with_normalised_values(
        runtime: Runtime, merchant: Merchant) -> None:
    everywhere = await zone_of(runtime, merchant, name="North America",
                               countries=["us", "CA", "US"], position=10)
    london = await zone_of(runtime, merchant, name="Central London", countries=["gb"],
                           postal_prefixes=[" ec1 ", "w 1"], position=1)
    states = await zone_of(runtime, merchant, name="Far states", countries=["US"],
                           regions=["Alaska", " HI "], position=5)

    async with runtime.db.read() as conn:
        terms = await shipping_store.zone_terms(conn, merchant.principal.business_id)

    assert [t.id for t in terms] == [london, states, everywhere]
    assert [(t.name, t.countries, t.regions, t.postal_prefixes, t.position)
            for t in terms] == [
        ("Central London", ("GB",), (), ("EC1", "W1"), 1),
        ("Far states", ("US",), ("Alaska", "HI"), (), 5),
        ("North America", ("US", "CA"), (), (), 10)]


async def test_methods_of_zone_offers_the_active_methods_by_position(
        runtime: Runtime, merchant: Merchant) -> None:
    zone_id = await zone_of(runtime, merchant)
    express = await method_of(runtime, merchant, zone_id, name="Express", price=1500,
                              position=2)
    await method_of(runtime, merchant, zone_id, name="Retired", position=0, active=False)
    standard = await method_of(runtime, merchant, zone_id, name="Standard", price=500,
                               position=1)

    async with runtime.db.read() as conn:
        offered = await shipping_store.methods_of_zone(conn, merchant.principal.business_id,
                                                       zone_id)

    assert offered == [
        ShippingTerms(method_id=str(standard), name="Standard", kind=ShippingKind.FLAT,
                      price=500),
        ShippingTerms(method_id=str(express), name="Express", kind=ShippingKind.FLAT,
                      price=1500)]


async def test_deleting_a_zone_takes_its_methods_and_tax_rates_with_it(
        runtime: Runtime, merchant: Merchant) -> None:
    zone_id = await zone_of(runtime, merchant)
    method_id = await method_of(runtime, merchant, zone_id)
    await shipping.add_tax_rate(runtime, merchant.principal, zone_id, name="VAT", rate="20")
    business_id = merchant.principal.business_id

    await shipping.delete_zone(runtime, merchant.principal, zone_id)

    async with runtime.db.read() as conn:
        assert await shipping_store.zone_pricing(conn, business_id, zone_id, method_id) is None
        assert await shipping_store.methods_of(conn, business_id, [zone_id]) == []
        assert await shipping_store.rates_of(conn, business_id, [zone_id]) == []
        assert await shipping_store.zone_terms(conn, business_id) == []
