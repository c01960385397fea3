"""What the merchant console's Customers screen reads over HTTP: customers found by part of
their name, phone or email in cursor pages, one customer's orders and money received per
currency, their last order and cash-on-delivery trust, and their personal data."""

from __future__ import annotations

from typing import Any

import httpx

from orderline.core.runtime import Runtime
from tests.conftest import Merchant
from tests.e2e.conftest import add_product, error_of, ok, pay, place_order
from tests.e2e.test_api_cod_direct_orders import cash_order, cod_merchant
from tests.e2e.test_api_scopes import key_with


async def customer_of(client: httpx.AsyncClient, merchant: Merchant,
                      order: dict[str, Any]) -> dict[str, Any]:
    customer: dict[str, Any] = ok(await client.get(
        f"/v1/customers/{order['customer']['id']}", headers=merchant.headers))
    return customer


async def names_found(client: httpx.AsyncClient, merchant: Merchant,
                      **params: Any) -> list[str]:
    names: list[str] = []
    cursor = None
    for _ in range(10):
        page = ok(await client.get("/v1/customers", headers=merchant.headers,
                                   params={**params, **({"cursor": cursor} if cursor else {})}))
        names += [c["name"] for c in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return names
    raise AssertionError("the pages never ended")


async def test_customers_are_found_by_part_of_their_name_phone_or_email_in_pages(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "TEA", 20)
    await place_order(client, merchant, ("TEA", 1), name="Ada Lovelace", phone="+1 555 0101")
    await place_order(client, merchant, ("TEA", 1), name="Grace Hopper", phone=None,
                      email="grace@navy.example")
    await place_order(client, merchant, ("TEA", 1), name="Alan Turing", phone="+44 20 7946")
    await place_order(client, merchant, ("TEA", 1), name="Adele Goldberg", phone="+1 555 0104")

    assert await names_found(client, merchant, q="ad", limit=1) == [
        "Ada Lovelace", "Adele Goldberg"]
    assert await names_found(client, merchant, q="NAVY") == ["Grace Hopper"]
    assert await names_found(client, merchant, q="555 01") == ["Ada Lovelace", "Adele Goldberg"]
    assert await names_found(client, merchant, limit=3) == [
        "Ada Lovelace", "Grace Hopper", "Alan Turing", "Adele Goldberg"]
    assert await names_found(client, merchant, phone="+44 20 7946") == ["Alan Turing"]
    assert await names_found(client, merchant, q="%") == []  # literal, not a wildcard


async def test_a_customer_shows_orders_placed_and_paid_money_received_and_last_order(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "TEA", 20, price=450)
    first = await place_order(client, merchant, ("TEA", 2))
    fresh = await customer_of(client, merchant, first)
    assert (fresh["orders_placed"], fresh["orders_paid"], fresh["spent"]) == (1, 0, [])
    assert fresh["last_order_at"] == first["created_at"]
    await pay(client, merchant, first)
    second = await place_order(client, merchant, ("TEA", 1))

    customer = await customer_of(client, merchant, second)

    assert customer["id"] == first["customer"]["id"]
    assert (customer["orders_placed"], customer["orders_paid"]) == (2, 1)
    assert customer["spent"] == [{"currency": "USD", "amount": 900, "orders": 1}]
    assert customer["last_order_at"] == second["created_at"]
    assert customer["cod_trust_score"] == 0
    # The list shows the same record.
    [listed] = ok(await client.get("/v1/customers", headers=merchant.headers))["data"]
    assert listed == customer
    # A paid order cancelled no longer counts as money received.
    ok(await client.delete(f"/v1/orders/{first['id']}", headers=merchant.headers))
    after = await customer_of(client, merchant, second)
    assert (after["orders_placed"], after["orders_paid"], after["spent"]) == (2, 0, [])


async def test_a_customers_orders_are_theirs_alone_newest_first_in_pages(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "TEA", 20)
    mine = [await place_order(client, merchant, ("TEA", 1)) for _ in range(3)]
    await place_order(client, merchant, ("TEA", 1), name="Someone Else", phone="+1 555 0999")
    url = f"/v1/customers/{mine[0]['customer']['id']}/orders"

    seen: list[str] = []
    cursor = None
    for _ in range(5):
        page = ok(await client.get(url, headers=merchant.headers,
                                   params={"limit": 2, **({"cursor": cursor} if cursor else {})}))
        seen += [o["id"] for o in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [o["id"] for o in reversed(mine)]


async def test_delivered_cash_raises_the_trust_score_the_customer_shows(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await cod_merchant(client, runtime)
    order = ok(await client.post("/v1/orders", headers=m.headers, json=cash_order(2)), 201)
    before = (await customer_of(client, m, order))["cod_trust_score"]
    ok(await client.post(f"/v1/orders/{order['id']}/cod/collect", headers=m.headers,
                         json={"amount": order["total"]}))

    customer = await customer_of(client, m, order)

    assert customer["cod_trust_score"] > before
    assert customer["spent"] == [{"currency": "USD", "amount": order["total"], "orders": 1}]


async def test_a_read_only_key_reads_customers_but_only_an_admin_key_exports_or_erases(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "TEA", 5)
    order = await place_order(client, merchant, ("TEA", 1))
    cid = order["customer"]["id"]
    reader = await key_with(client, merchant, "read")

    assert ok(await client.get(f"/v1/customers/{cid}", headers=reader))["orders_placed"] == 1
    assert len(ok(await client.get(f"/v1/customers/{cid}/orders", headers=reader))["data"]) == 1
    assert len(ok(await client.get("/v1/customers", headers=reader, params={"q": "ada"}))[
        "data"]) == 1
    error_of(await client.get(f"/v1/customers/{cid}/personal-data", headers=reader),
             403, "forbidden")
    error_of(await client.delete(f"/v1/customers/{cid}/personal-data", headers=reader),
             403, "forbidden")
    exported = ok(await client.get(f"/v1/customers/{cid}/personal-data",
                                   headers=merchant.headers))
    assert (exported["customer"]["id"], exported["customer"]["name"]) == (cid, "Ada Buyer")
    assert [o["id"] for o in exported["orders"]] == [order["id"]]


async def test_bad_customer_queries_are_refused(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    h = merchant.headers
    for params in ({"q": ""}, {"q": "x" * 201}, {"cursor": "nope"}, {"limit": 0},
                   {"limit": 201}):
        error_of(await client.get("/v1/customers", headers=h, params=params),
                 422, "validation_error")
    error_of(await client.get("/v1/customers/not-an-id/orders", headers=h), 404, "not_found")
    error_of(await client.get("/v1/customers/00000000-0000-0000-0000-000000000000/orders",
                              headers=h), 404, "not_found")
    error_of(await client.get("/v1/customers/00000000-0000-0000-0000-000000000000/orders",
                              headers=h, params={"cursor": "nope"}), 422, "validation_error")
