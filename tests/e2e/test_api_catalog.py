"""Catalog, inventory and business set-up over HTTP: products and variants, stock adjustments,
the movement ledger and its reconciliation, locations, channels, API keys and settings."""

from __future__ import annotations

from datetime import datetime

import httpx

from tests.conftest import Merchant
from tests.e2e.conftest import (
    add_product,
    balanced,
    error_of,
    levels,
    movements,
    ok,
    order_body,
    pay,
    place_order,
)


async def _adjust(client: httpx.AsyncClient, merchant: Merchant, **body: object) -> httpx.Response:
    return await client.post("/v1/inventory/adjustments", headers=merchant.headers, json=body)


async def test_a_product_is_created_with_its_variants_and_their_initial_stock(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    response = await client.post("/v1/products", headers=merchant.headers, json={
        "name": "Enamel mug", "description": "Holds 350 ml",
        "variants": [
            {"sku": "MUG-RED", "name": "Red", "price": 1200, "initial_stock": 7},
            {"sku": "MUG-BLUE", "name": "Blue", "price": 1300, "low_stock_threshold": 2},
        ]})
    product = ok(response, 201)
    assert (product["name"], product["description"]) == ("Enamel mug", "Holds 350 ml")
    assert sorted((v["sku"], v["name"], v["price_minor"], v["currency"])
                  for v in product["variants"]) == [("MUG-BLUE", "Blue", 1300, "USD"),
                                                    ("MUG-RED", "Red", 1200, "USD")]
    assert ok(await client.get(f"/v1/products/{product['id']}",
                               headers=merchant.headers)) == ok(response, 201)
    assert await levels(client, merchant, "MUG-RED") == (7, 0, 7)
    assert await levels(client, merchant, "MUG-BLUE") == (0, 0, 0)
    stock = ok(await client.get("/v1/inventory", headers=merchant.headers))["data"]
    assert [(s["sku"], s["location"], s["on_hand"], s["low_stock"]) for s in stock] == [
        ("MUG-BLUE", "main", 0, True), ("MUG-RED", "main", 7, False)]
    [receipt] = await movements(client, merchant)
    assert (receipt["sku"], receipt["delta"], receipt["reason"], receipt["note"]) == (
        "MUG-RED", 7, "receipt", "initial stock")
    assert await balanced(client, merchant)
    error_of(await client.post("/v1/orders", headers=merchant.headers,
                               json=order_body(("MUG-BLUE", 1))), 409, "out_of_stock")


async def test_variants_added_to_a_product_can_be_sold_at_once(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    product = await add_product(client, merchant, "TEE-S", 3)
    grown = ok(await client.post(f"/v1/products/{product['id']}/variants",
                                 headers=merchant.headers, json={"variants": [
                                     {"sku": "TEE-M", "name": "Medium", "price": 1500,
                                      "initial_stock": 4}]}), 201)
    assert sorted(v["sku"] for v in grown["variants"]) == ["TEE-M", "TEE-S"]
    order = await place_order(client, merchant, ("TEE-M", 4))
    assert order["total"] == 6000
    assert await levels(client, merchant, "TEE-M") == (4, 4, 0)


async def test_a_sku_already_used_in_the_business_is_a_409_conflict_and_adds_nothing(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    product = await add_product(client, merchant, "MUG", 5, price=900)
    details = error_of(await client.post("/v1/products", headers=merchant.headers, json={
        "name": "Another mug", "variants": [
            {"sku": "CUP", "name": "Cup", "price": 1, "initial_stock": 3},
            {"sku": "MUG", "name": "Mug again", "price": 1, "initial_stock": 3}]}),
        409, "conflict")
    assert details == {"skus": ["MUG"]}
    error_of(await client.post(f"/v1/products/{product['id']}/variants",
                               headers=merchant.headers,
                               json={"variants": [{"sku": "MUG", "name": "Dup", "price": 1}]}),
             409, "conflict")
    error_of(await client.post("/v1/products", headers=merchant.headers, json={
        "name": "Twins", "variants": [{"sku": "TWIN", "name": "A", "price": 1},
                                      {"sku": "TWIN", "name": "B", "price": 1}]}),
        422, "validation_error")
    error_of(await client.post("/v1/products", headers=merchant.headers, json={
        "name": "Bad", "variants": [{"sku": "no spaces!", "name": "A", "price": 1}]}),
        422, "validation_error")
    products = ok(await client.get("/v1/products", headers=merchant.headers))["data"]
    assert [[(v["sku"], v["price_minor"]) for v in p["variants"]] for p in products] == [
        [("MUG", 900)]]
    error_of(await client.get("/v1/inventory/CUP", headers=merchant.headers), 404, "not_found")
    assert await levels(client, merchant, "MUG") == (5, 0, 5)
    assert len(await movements(client, merchant)) == 1


async def test_a_sku_with_a_slash_can_be_read_repriced_adjusted_and_sold(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "TEE/RED/M", 5, price=1500)
    assert await levels(client, merchant, "TEE/RED/M") == (5, 0, 5)
    repriced = ok(await client.patch("/v1/variants/TEE/RED/M", headers=merchant.headers,
                                     json={"price": 1400}))
    assert (repriced["sku"], repriced["price_minor"]) == ("TEE/RED/M", 1400)
    ok(await _adjust(client, merchant, sku="TEE/RED/M", delta=1, reason="receipt"))
    order = await place_order(client, merchant, ("TEE/RED/M", 2))
    assert order["total"] == 2800
    assert await levels(client, merchant, "TEE/RED/M") == (6, 2, 4)
    error_of(await client.get("/v1/inventory/TEE/RED", headers=merchant.headers),
             404, "not_found")


async def test_products_are_listed_in_pages_oldest_first(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    for sku in ("P1", "P2", "P3"):
        await add_product(client, merchant, sku, 1)
    first = ok(await client.get("/v1/products", headers=merchant.headers, params={"limit": 2}))
    second = ok(await client.get("/v1/products", headers=merchant.headers,
                                 params={"limit": 2, "cursor": first["next_cursor"]}))
    assert [p["variants"][0]["sku"] for p in first["data"] + second["data"]] == [
        "P1", "P2", "P3"]
    assert second["next_cursor"] is None


async def test_receiving_and_correcting_stock_each_leave_a_movement(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    received = ok(await _adjust(client, merchant, sku="MUG", delta=10, reason="receipt",
                                note="PO-77"))
    assert (received["on_hand"], received["available"]) == (15, 15)
    ok(await _adjust(client, merchant, sku="MUG", delta=-2, reason="correction"))
    ok(await _adjust(client, merchant, sku="MUG", delta=-1, reason="damage", note="dropped"))
    ok(await _adjust(client, merchant, sku="MUG", delta=1, reason="return"))
    counted = ok(await _adjust(client, merchant, sku="MUG", set_on_hand=9, reason="correction",
                               note="stock-take"))
    assert counted["on_hand"] == 9
    assert await levels(client, merchant, "MUG") == (9, 0, 9)
    ledger = await movements(client, merchant, "MUG")
    assert [(m["delta"], m["reason"], m["note"]) for m in ledger] == [
        (-4, "correction", "stock-take"), (1, "return", ""), (-1, "damage", "dropped"),
        (-2, "correction", ""), (10, "receipt", "PO-77"), (5, "receipt", "initial stock")]
    assert {m["actor"] for m in ledger} == {f"api_key:{merchant.principal.key_prefix}"}
    assert sum(m["delta"] for m in ledger) == 9
    assert await balanced(client, merchant)
    # A stock-take that finds the count already right changes nothing and records nothing.
    ok(await _adjust(client, merchant, sku="MUG", set_on_hand=9, reason="correction"))
    assert len(await movements(client, merchant, "MUG")) == 6


async def test_stock_cannot_be_adjusted_below_what_open_orders_hold(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    await place_order(client, merchant, ("MUG", 3))
    for body in ({"delta": -3, "reason": "damage"},
                 {"set_on_hand": 2, "reason": "correction"},
                 {"set_on_hand": 0, "reason": "correction"}):
        details = error_of(await _adjust(client, merchant, sku="MUG", **body),
                           409, "insufficient_stock")
        assert (details["sku"], details["available"]) == ("MUG", 2)
    assert await levels(client, merchant, "MUG") == (5, 3, 2)
    assert len(await movements(client, merchant, "MUG")) == 1
    ok(await _adjust(client, merchant, sku="MUG", set_on_hand=3, reason="correction"))
    assert await levels(client, merchant, "MUG") == (3, 3, 0)
    assert await balanced(client, merchant)


async def test_the_movement_ledger_pages_newest_first(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 1)
    for delta in (2, 3, 4):
        ok(await _adjust(client, merchant, sku="MUG", delta=delta, reason="receipt"))
    first = ok(await client.get("/v1/inventory/movements", headers=merchant.headers,
                                params={"limit": 3}))
    rest = ok(await client.get("/v1/inventory/movements", headers=merchant.headers,
                               params={"limit": 3, "before_id": first["next_before_id"]}))
    assert [m["delta"] for m in first["data"]] == [4, 3, 2]
    assert [m["delta"] for m in rest["data"]] == [1]
    assert rest["next_before_id"] is None


async def test_reconciliation_stays_balanced_through_a_day_of_trading(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 10)
    await add_product(client, merchant, "CAP", 4)
    sold = await pay(client, merchant, await place_order(client, merchant, ("MUG", 3),
                                                         ("CAP", 1)))
    held = await place_order(client, merchant, ("MUG", 2))
    dropped = await place_order(client, merchant, ("CAP", 2))
    ok(await client.put(f"/v1/orders/{held['id']}", headers=merchant.headers,
                        json={"lines": [{"sku": "MUG", "quantity": 1},
                                        {"sku": "CAP", "quantity": 1}]}))
    ok(await client.delete(f"/v1/orders/{dropped['id']}", headers=merchant.headers))
    refunded = await pay(client, merchant, await place_order(client, merchant, ("MUG", 1)))
    ok(await client.delete(f"/v1/orders/{refunded['id']}", headers=merchant.headers))
    ok(await _adjust(client, merchant, sku="CAP", delta=-1, reason="damage"))
    report = ok(await client.get("/v1/inventory/reconciliation", headers=merchant.headers))
    assert report == {"balanced": True, "drift": []}
    assert await levels(client, merchant, "MUG") == (7, 1, 6)
    assert await levels(client, merchant, "CAP") == (2, 1, 1)
    assert sold["status"] == "paid"


async def test_a_new_location_holds_its_own_stock_and_orders_can_draw_from_it(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    location = ok(await client.post("/v1/locations", headers=merchant.headers,
                                    json={"code": "shop", "name": "High street shop"}), 201)
    assert (location["code"], location["is_default"]) == ("shop", False)
    error_of(await client.post("/v1/locations", headers=merchant.headers,
                               json={"code": "shop", "name": "Again"}), 409, "conflict")
    error_of(await client.post("/v1/locations", headers=merchant.headers,
                               json={"code": "High Street", "name": "Bad"}), 422,
             "validation_error")
    listed = ok(await client.get("/v1/locations", headers=merchant.headers))["data"]
    assert [(loc["code"], loc["is_default"]) for loc in listed] == [("main", True),
                                                                     ("shop", False)]
    ok(await _adjust(client, merchant, sku="MUG", delta=2, reason="receipt", location="shop"))
    order = ok(await client.post("/v1/orders", headers=merchant.headers,
                                 json={**order_body(("MUG", 2)), "location": "shop"}), 201)
    error_of(await client.post("/v1/orders", headers=merchant.headers,
                               json={**order_body(("MUG", 1)), "location": "shop"}),
             409, "out_of_stock")
    error_of(await client.post("/v1/orders", headers=merchant.headers,
                               json={**order_body(("MUG", 1)), "location": "depot"}),
             404, "not_found")
    stock = ok(await client.get("/v1/inventory/MUG", headers=merchant.headers))
    assert (stock["on_hand"], stock["reserved"], stock["available"]) == (7, 2, 5)
    assert stock["locations"] == [
        {"location": "main", "on_hand": 5, "reserved": 0, "available": 5},
        {"location": "shop", "on_hand": 2, "reserved": 2, "available": 0}]
    await pay(client, merchant, order)
    sale = (await movements(client, merchant, "MUG"))[0]
    assert (sale["location"], sale["delta"], sale["reason"]) == ("shop", -2, "sale")
    assert await balanced(client, merchant)


async def test_a_custom_channel_can_be_added_and_sold_on(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    defaults = ok(await client.get("/v1/channels", headers=merchant.headers))["data"]
    assert sorted(c["code"] for c in defaults) == ["api", "instagram", "pos", "web", "whatsapp"]
    # Named as a merchant writes them, for the console's lists and filters.
    assert {c["code"]: c["name"] for c in defaults}["whatsapp"] == "WhatsApp"
    assert {c["code"]: c["name"] for c in defaults}["pos"] == "Counter (POS)"
    error_of(await client.post("/v1/orders", headers=merchant.headers,
                               json=order_body(("MUG", 1), channel="tiktok")),
             422, "unknown_channel")
    added = ok(await client.post("/v1/channels", headers=merchant.headers,
                                 json={"code": "tiktok", "name": "TikTok Shop"}), 201)
    assert (added["code"], added["name"]) == ("tiktok", "TikTok Shop")
    error_of(await client.post("/v1/channels", headers=merchant.headers, json={"code": "tiktok"}),
             409, "conflict")
    error_of(await client.post("/v1/channels", headers=merchant.headers, json={"code": "Tik Tok"}),
             422, "validation_error")
    order = await pay(client, merchant, await place_order(client, merchant, ("MUG", 2),
                                                          channel="tiktok"))
    assert order["channel"] == "tiktok"
    listed = ok(await client.get("/v1/orders", headers=merchant.headers,
                                 params={"channel": "tiktok"}))["data"]
    assert [o["id"] for o in listed] == [order["id"]]
    stats = ok(await client.get("/v1/orders/stats", headers=merchant.headers))
    assert stats["by_channel"] == {"tiktok": {"orders": 1, "revenue": 2000}}
    channels = ok(await client.get("/v1/channels", headers=merchant.headers))["data"]
    assert ("tiktok", "TikTok Shop") in {(c["code"], c["name"]) for c in channels}


async def test_an_api_key_is_shown_once_listed_by_prefix_and_dead_once_revoked(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    issued = ok(await client.post("/v1/api-keys", headers=merchant.headers,
                                  json={"name": "till", "scopes": ["write", "read"]}), 201)
    assert issued["key"].startswith("ol_") and issued["key"].startswith(issued["prefix"])
    assert len(issued["key"]) > len(issued["prefix"]) + 20
    assert issued["scopes"] == ["read", "write"]
    till = {"Authorization": f"Bearer {issued['key']}"}
    order = await place_order(client, Merchant(merchant.principal, issued["key"]), ("MUG", 1))
    history = ok(await client.get(f"/v1/orders/{order['id']}/history", headers=till))
    assert history[0]["actor"] == f"api_key:{issued['prefix']}"
    listed = await client.get("/v1/api-keys", headers=merchant.headers)
    assert issued["key"] not in listed.text
    keys = {k["name"]: k for k in ok(listed)["data"]}
    assert set(keys) == {"owner", "till"}
    assert set(keys["till"]) == {"id", "name", "prefix", "scopes", "created_at", "revoked_at",
                                 "last_used_at"}
    assert keys["till"]["last_used_at"] is not None  # it placed the order above
    assert (keys["till"]["prefix"], keys["till"]["revoked_at"]) == (issued["prefix"], None)
    error_of(await client.post("/v1/api-keys", headers=merchant.headers,
                               json={"name": "root", "scopes": ["superuser"]}),
             422, "validation_error")
    revoked = ok(await client.delete(f"/v1/api-keys/{issued['id']}", headers=merchant.headers))
    assert revoked["revoked_at"] is not None
    error_of(await client.get("/v1/orders", headers=till), 401, "unauthorized")
    error_of(await client.delete(f"/v1/orders/{order['id']}", headers=till), 401,
             "unauthorized")
    assert ok(await client.get(f"/v1/orders/{order['id']}",
                               headers=merchant.headers))["status"] == "pending_payment"
    keys = {k["name"]: k for k in ok(await client.get("/v1/api-keys",
                                                      headers=merchant.headers))["data"]}
    assert keys["till"]["revoked_at"] is not None and keys["owner"]["revoked_at"] is None
    assert len(ok(await client.get("/v1/api-keys", headers=merchant.headers))["data"]) == 2


async def test_the_reservation_time_set_for_the_business_gives_new_orders_their_deadline(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    business = ok(await client.patch("/v1/business", headers=merchant.headers,
                                     json={"reservation_ttl_seconds": 120, "name": "Mug Co"}))
    assert (business["name"], business["reservation_ttl_seconds"]) == ("Mug Co", 120)
    assert ok(await client.get("/v1/business", headers=merchant.headers))["name"] == "Mug Co"
    order = await place_order(client, merchant, ("MUG", 1))
    deadline = datetime.fromisoformat(order["payment_deadline"])
    placed = datetime.fromisoformat(order["created_at"])
    assert (deadline - placed).total_seconds() == 120
    error_of(await client.patch("/v1/business", headers=merchant.headers,
                                json={"reservation_ttl_seconds": 0}), 422, "validation_error")
    assert ok(await client.get("/v1/business",
                               headers=merchant.headers))["reservation_ttl_seconds"] == 120
