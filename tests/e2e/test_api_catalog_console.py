"""What the merchant console's Catalog and Stock screens do over HTTP: editing products and
variants (audited), archiving and unarchiving them (and what an archived SKU may no longer
do), searching and paging the product list, filtering the stock list, reading a SKU's ledger."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Merchant
from tests.e2e.conftest import (
    add_product,
    balanced,
    error_of,
    levels,
    ok,
    order_body,
    pay,
    place_order,
)
from tests.e2e.test_api_scopes import key_with
from tests.e2e.test_patch_nulls import refused_field
from tests.support.checkout import confirm, new_cart, open_shop, start_checkout


async def audit_of(client: httpx.AsyncClient, merchant: Merchant, entity_type: str,
                   entity_id: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = ok(await client.get(
        "/v1/audit", headers=merchant.headers,
        params={"entity_type": entity_type, "entity_id": entity_id}))["data"]
    return entries


async def product_of(client: httpx.AsyncClient, merchant: Merchant,
                     product_id: str) -> dict[str, Any]:
    product: dict[str, Any] = ok(await client.get(f"/v1/products/{product_id}",
                                                  headers=merchant.headers))
    return product


async def two_variant_product(client: httpx.AsyncClient, merchant: Merchant) -> dict[str, Any]:
    product: dict[str, Any] = ok(await client.post("/v1/products", headers=merchant.headers, json={
        "name": "Enamel mug", "description": "Holds 350 ml", "variants": [
            {"sku": "MUG-RED", "name": "Red", "price": 1200, "initial_stock": 5},
            {"sku": "MUG-BLUE", "name": "Blue", "price": 1300, "initial_stock": 5}]}), 201)
    return product


# --- editing ---------------------------------------------------------------------------------

async def test_a_product_is_renamed_and_the_audit_log_keeps_its_old_name_and_the_key(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    product = await two_variant_product(client, merchant)

    edited = ok(await client.patch(f"/v1/products/{product['id']}", headers=merchant.headers,
                                   json={"name": "Camp mug"}))

    assert (edited["name"], edited["description"]) == ("Camp mug", "Holds 350 ml")
    assert len(edited["variants"]) == 2
    assert (await product_of(client, merchant, product["id"]))["name"] == "Camp mug"
    [entry] = await audit_of(client, merchant, "product", product["id"])
    assert (entry["action"], entry["before"], entry["after"]) == (
        "updated", {"name": "Enamel mug"}, {"name": "Camp mug"})
    assert entry["actor_key_prefix"] == merchant.principal.key_prefix


async def test_a_price_change_is_audited_with_the_old_and_new_price(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    product = await two_variant_product(client, merchant)
    red = next(v for v in product["variants"] if v["sku"] == "MUG-RED")

    changed = ok(await client.patch("/v1/variants/MUG-RED", headers=merchant.headers,
                                    json={"price": 1500, "name": "Red"}))

    assert changed["price_minor"] == 1500
    [entry] = await audit_of(client, merchant, "variant", red["id"])
    # The name did not change, so only the price is kept.
    assert (entry["action"], entry["before"], entry["after"]) == (
        "updated", {"price_minor": 1200}, {"price_minor": 1500})
    assert entry["actor_key_prefix"] == merchant.principal.key_prefix


async def test_an_edit_that_changes_nothing_writes_no_audit_entry(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    product = await two_variant_product(client, merchant)
    ok(await client.patch(f"/v1/products/{product['id']}", headers=merchant.headers,
                          json={"name": "Enamel mug"}))
    ok(await client.patch(f"/v1/products/{product['id']}", headers=merchant.headers, json={}))
    assert await audit_of(client, merchant, "product", product["id"]) == []


async def test_bad_product_edits_are_refused_and_change_nothing(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    product = await two_variant_product(client, merchant)
    url = f"/v1/products/{product['id']}"
    for field in ("name", "description"):
        assert refused_field(await client.patch(url, headers=merchant.headers,
                                                json={field: None})) == field
    for body in ({"name": ""}, {"name": 5},
                 {"name": "x" * 301}, {"price": 5}, {"variants": []}):
        error_of(await client.patch(url, headers=merchant.headers, json=body),
                 422, "validation_error")
    error_of(await client.patch("/v1/products/not-a-uuid", headers=merchant.headers,
                                json={"name": "X"}), 404, "not_found")
    error_of(await client.patch("/v1/products/00000000-0000-0000-0000-000000000000",
                                headers=merchant.headers, json={"name": "X"}), 404, "not_found")
    error_of(await client.post("/v1/variants/NO-SUCH/archive", headers=merchant.headers),
             404, "not_found")
    assert await product_of(client, merchant, product["id"]) == product
    assert await audit_of(client, merchant, "product", product["id"]) == []


async def test_a_read_only_key_can_read_the_catalog_but_not_edit_or_archive_it(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    product = await two_variant_product(client, merchant)
    reader = await key_with(client, merchant, "read")
    pid = product["id"]

    for method, url, body in (
            ("PATCH", f"/v1/products/{pid}", {"name": "Hijacked"}),
            ("POST", f"/v1/products/{pid}/archive", None),
            ("POST", f"/v1/products/{pid}/unarchive", None),
            ("POST", "/v1/variants/MUG-RED/archive", None),
            ("POST", "/v1/variants/MUG-RED/unarchive", None),
            ("PATCH", "/v1/variants/MUG-RED", {"price": 1})):
        details = error_of(await client.request(method, url, headers=reader, json=body),
                           403, "forbidden")
        assert details["required_scope"] == "write"

    assert await product_of(client, merchant, pid) == product
    assert ok(await client.get("/v1/products", headers=reader,
                               params={"include_archived": "true", "q": "mug"}))["data"]
    assert ok(await client.get("/v1/inventory", headers=reader,
                               params={"low_stock": "true"}))["data"] == []


# --- archiving -------------------------------------------------------------------------------

async def test_an_archived_variant_cannot_be_added_to_a_cart_or_typed_into_an_order(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await open_shop(client, merchant, products={"CAP": (500, 5), "TEE": (900, 5)})
    placed = await place_order(client, merchant, ("CAP", 2))
    cart = await new_cart(client, merchant, ("TEE", 1))

    archived = ok(await client.post("/v1/variants/CAP/archive", headers=merchant.headers))
    assert archived["archived_at"] is not None

    details = error_of(await client.post(f"/v1/carts/{cart.id}/lines", headers=cart.headers,
                                         json={"sku": "CAP", "quantity": 1}),
                       409, "variant_archived")
    assert details == {"archived_skus": ["CAP"]}
    details = error_of(await client.post("/v1/orders", headers=merchant.headers,
                                         json=order_body(("TEE", 1), ("CAP", 1))),
                       409, "variant_archived")
    assert details == {"archived_skus": ["CAP"]}
    # The order placed before the archive keeps its line and its held units, and can be paid.
    assert await levels(client, merchant, "CAP") == (5, 2, 3)
    paid = await pay(client, merchant, placed)
    assert paid["status"] == "paid"
    assert await levels(client, merchant, "CAP") == (3, 0, 3)
    # Stock of the archived SKU can still be counted, and the books still balance.
    ok(await client.post("/v1/inventory/adjustments", headers=merchant.headers, json={
        "sku": "CAP", "set_on_hand": 1, "reason": "correction"}))
    assert await levels(client, merchant, "CAP") == (1, 0, 1)
    assert await balanced(client, merchant)
    assert len(ok(await client.get("/v1/orders", headers=merchant.headers))["data"]) == 1

    ok(await client.post("/v1/variants/CAP/unarchive", headers=merchant.headers))
    ok(await client.post(f"/v1/carts/{cart.id}/lines", headers=cart.headers,
                         json={"sku": "CAP", "quantity": 1}))
    await place_order(client, merchant, ("CAP", 1))


async def test_a_cart_whose_line_was_archived_cannot_start_a_checkout(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await open_shop(client, merchant, products={"CAP": (500, 5), "TEE": (900, 5)})
    cart = await new_cart(client, merchant, ("TEE", 1), ("CAP", 1))
    product_id = next(p["id"] for p in ok(await client.get(
        "/v1/products", headers=merchant.headers, params={"q": "TEE"}))["data"])

    ok(await client.post(f"/v1/products/{product_id}/archive", headers=merchant.headers))

    shown = ok(await client.get(f"/v1/carts/{cart.id}", headers=cart.headers))
    assert [(line["sku"], line["archived"]) for line in shown["lines"]] == [
        ("TEE", True), ("CAP", False)]
    response = await start_checkout(client, cart, expect=409)
    assert error_of(response, 409, "variant_archived") == {"archived_skus": ["TEE"]}
    assert await levels(client, merchant, "TEE") == (5, 0, 5)  # nothing held
    ok(await client.delete(f"/v1/carts/{cart.id}/lines/TEE", headers=cart.headers))
    checkout = await start_checkout(client, cart)
    assert checkout["status"] == "open"


async def test_an_order_edit_may_keep_an_archived_line_but_not_add_one(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "KEEP", 5)
    await add_product(client, merchant, "NEW", 5)
    order = await place_order(client, merchant, ("KEEP", 1))
    ok(await client.post("/v1/variants/KEEP/archive", headers=merchant.headers))
    ok(await client.post("/v1/variants/NEW/archive", headers=merchant.headers))

    error_of(await client.put(f"/v1/orders/{order['id']}", headers=merchant.headers, json={
        "lines": [{"sku": "KEEP", "quantity": 1}, {"sku": "NEW", "quantity": 1}]}),
        409, "variant_archived")
    edited = ok(await client.put(f"/v1/orders/{order['id']}", headers=merchant.headers,
                                 json={"lines": [{"sku": "KEEP", "quantity": 2}]}))
    assert [(line["sku"], line["quantity"]) for line in edited["lines"]] == [("KEEP", 2)]


async def test_archiving_a_product_stops_the_sale_of_every_variant_until_unarchived(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    product = await two_variant_product(client, merchant)
    pid = product["id"]

    archived = ok(await client.post(f"/v1/products/{pid}/archive", headers=merchant.headers))
    assert archived["archived_at"] is not None
    # Its variants keep their own flag: unarchiving the product brings them all back.
    assert [v["archived_at"] for v in archived["variants"]] == [None, None]
    details = error_of(await client.post("/v1/orders", headers=merchant.headers, json=order_body(
        ("MUG-RED", 1), ("MUG-BLUE", 1))), 409, "variant_archived")
    assert details == {"archived_skus": ["MUG-BLUE", "MUG-RED"]}

    back = ok(await client.post(f"/v1/products/{pid}/unarchive", headers=merchant.headers))
    assert back["archived_at"] is None
    await place_order(client, merchant, ("MUG-RED", 1), ("MUG-BLUE", 1))
    actions = [e["action"] for e in await audit_of(client, merchant, "product", pid)]
    assert actions == ["unarchived", "archived"]  # newest first


async def test_archiving_twice_changes_nothing_and_is_recorded_once(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    product = await two_variant_product(client, merchant)
    red = next(v for v in product["variants"] if v["sku"] == "MUG-RED")
    first = ok(await client.post("/v1/variants/MUG-RED/archive", headers=merchant.headers))
    second = ok(await client.post("/v1/variants/MUG-RED/archive", headers=merchant.headers))
    assert first == second
    ok(await client.post("/v1/variants/MUG-BLUE/unarchive", headers=merchant.headers))
    entries = await audit_of(client, merchant, "variant", red["id"])
    assert [(e["action"], e["before"], e["after"]) for e in entries] == [
        ("archived", {"archived": False}, {"archived": True})]
    blue = next(v for v in product["variants"] if v["sku"] == "MUG-BLUE")
    assert await audit_of(client, merchant, "variant", blue["id"]) == []


async def test_lists_hide_archived_products_and_variants_unless_asked(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    mug = await two_variant_product(client, merchant)
    cap = await add_product(client, merchant, "CAP", 3)
    ok(await client.post("/v1/variants/MUG-RED/archive", headers=merchant.headers))
    ok(await client.post(f"/v1/products/{cap['id']}/archive", headers=merchant.headers))

    shown = ok(await client.get("/v1/products", headers=merchant.headers))["data"]
    assert [(p["name"], [v["sku"] for v in p["variants"]]) for p in shown] == [
        ("Enamel mug", ["MUG-BLUE"])]
    everything = ok(await client.get("/v1/products", headers=merchant.headers,
                                     params={"include_archived": "true"}))["data"]
    assert [(p["id"], sorted(v["sku"] for v in p["variants"])) for p in everything] == [
        (mug["id"], ["MUG-BLUE", "MUG-RED"]), (cap["id"], ["CAP"])]
    # Read by id, an archived product is still there, saying so.
    assert (await product_of(client, merchant, cap["id"]))["archived_at"] is not None

    stock = ok(await client.get("/v1/inventory", headers=merchant.headers))["data"]
    assert [s["sku"] for s in stock] == ["MUG-BLUE"]
    stock = ok(await client.get("/v1/inventory", headers=merchant.headers,
                                params={"include_archived": "true"}))["data"]
    assert [(s["sku"], s["archived"]) for s in stock] == [
        ("CAP", True), ("MUG-BLUE", False), ("MUG-RED", True)]
    assert await levels(client, merchant, "CAP") == (3, 0, 3)


async def test_products_are_found_by_part_of_their_name_or_a_sku_in_cursor_pages(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    for n in range(5):
        await add_product(client, merchant, f"BOTTLE-{n}", 1)
    await add_product(client, merchant, "CUP_100", 1)
    await add_product(client, merchant, "CUPX100", 1)
    ok(await client.patch("/v1/variants/BOTTLE-0", headers=merchant.headers,
                          json={"name": "Steel"}))

    # '%' and '_' are literal, not wildcards.
    found = ok(await client.get("/v1/products", headers=merchant.headers,
                                params={"q": "p_1"}))["data"]
    assert [p["variants"][0]["sku"] for p in found] == ["CUP_100"]
    assert ok(await client.get("/v1/products", headers=merchant.headers,
                               params={"q": "%"}))["data"] == []
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params: dict[str, Any] = {"q": "bottle", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = ok(await client.get("/v1/products", headers=merchant.headers, params=params))
        seen += [p["variants"][0]["sku"] for p in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"BOTTLE-{n}" for n in range(5)]
    # By the product's name too, in any case.
    assert len(ok(await client.get("/v1/products", headers=merchant.headers,
                                   params={"q": "PRODUCT bottle"}))["data"]) == 5


async def test_bad_list_parameters_are_refused(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    h = merchant.headers
    for params in ({"q": ""}, {"q": "x" * 101}, {"include_archived": "maybe"},
                   {"cursor": "not-a-cursor"}, {"limit": 0}):
        error_of(await client.get("/v1/products", headers=h, params=params),
                 422, "validation_error")
    for params in ({"low_stock": "sometimes"}, {"limit": 501}, {"after_sku": "x" * 101}):
        error_of(await client.get("/v1/inventory", headers=h, params=params),
                 422, "validation_error")
    error_of(await client.get("/v1/inventory", headers=h, params={"location": "nowhere"}),
             404, "not_found")


# --- stock -----------------------------------------------------------------------------------

async def test_the_stock_list_shows_low_stock_and_one_location_on_request(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    h = merchant.headers
    ok(await client.post("/v1/locations", headers=h, json={"code": "shop", "name": "Shop"}), 201)
    ok(await client.post("/v1/products", headers=h, json={"name": "Socks", "variants": [
        {"sku": "SOCK-LOW", "name": "Low", "price": 100, "initial_stock": 2,
         "low_stock_threshold": 2},
        {"sku": "SOCK-OK", "name": "Ok", "price": 100, "initial_stock": 9,
         "low_stock_threshold": 2},
        {"sku": "SOCK-NONE", "name": "No threshold", "price": 100}]}), 201)
    ok(await client.post("/v1/inventory/adjustments", headers=h, json={
        "sku": "SOCK-OK", "location": "shop", "delta": 1, "reason": "receipt"}))

    def rows(answer: httpx.Response) -> list[tuple[str, str]]:
        return [(s["sku"], s["location"]) for s in ok(answer)["data"]]

    assert rows(await client.get("/v1/inventory", headers=h, params={"low_stock": "true"})) == [
        ("SOCK-LOW", "main"), ("SOCK-OK", "shop")]  # 1 unit at the shop is below 2
    assert rows(await client.get("/v1/inventory", headers=h, params={"low_stock": "false"})) == [
        ("SOCK-NONE", "main"), ("SOCK-OK", "main")]
    assert rows(await client.get("/v1/inventory", headers=h, params={"location": "shop"})) == [
        ("SOCK-OK", "shop")]
    assert rows(await client.get("/v1/inventory", headers=h, params={
        "location": "main", "low_stock": "true"})) == [("SOCK-LOW", "main")]
    # An order that takes the last free units makes a SKU low.
    await place_order(client, merchant, ("SOCK-OK", 8))
    assert ("SOCK-OK", "main") in rows(await client.get("/v1/inventory", headers=h,
                                                        params={"low_stock": "true"}))


async def test_a_page_of_stock_never_cuts_a_skus_locations_apart(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    h = merchant.headers
    ok(await client.post("/v1/locations", headers=h, json={"code": "shop", "name": "Shop"}), 201)
    for sku in ("A", "B", "C"):
        await add_product(client, merchant, sku, 1)
        ok(await client.post("/v1/inventory/adjustments", headers=h, json={
            "sku": sku, "location": "shop", "delta": 1, "reason": "receipt"}))

    seen: list[tuple[str, str]] = []
    after = None
    for _ in range(6):
        params: dict[str, Any] = {"limit": 3}
        if after:
            params["after_sku"] = after
        page = ok(await client.get("/v1/inventory", headers=h, params=params))
        seen += [(s["sku"], s["location"]) for s in page["data"]]
        after = page["next_after_sku"]
        if after is None:
            break
    assert seen == [(sku, loc) for sku in ("A", "B", "C") for loc in ("main", "shop")]


async def test_a_skus_ledger_is_read_alone_in_pages_newest_first(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    h = merchant.headers
    await add_product(client, merchant, "LEDGER", 10)
    await add_product(client, merchant, "OTHER", 10)
    for delta in (1, 2, 3, 4):
        ok(await client.post("/v1/inventory/adjustments", headers=h, json={
            "sku": "LEDGER", "delta": delta, "reason": "receipt"}))
    ok(await client.post("/v1/inventory/adjustments", headers=h, json={
        "sku": "LEDGER", "set_on_hand": 7, "reason": "correction", "note": "count"}))

    deltas: list[int] = []
    before = None
    for _ in range(6):
        params: dict[str, Any] = {"sku": "LEDGER", "limit": 2}
        if before is not None:
            params["before_id"] = before
        page = ok(await client.get("/v1/inventory/movements", headers=h, params=params))
        assert {m["sku"] for m in page["data"]} <= {"LEDGER"}
        deltas += [m["delta"] for m in page["data"]]
        before = page["next_before_id"]
        if before is None:
            break
    assert deltas == [-13, 4, 3, 2, 1, 10]
    assert sum(deltas) == 7
    error_of(await client.get("/v1/inventory/movements", headers=h, params={"sku": "NOPE"}),
             404, "not_found")
    error_of(await client.get("/v1/inventory/movements", headers=h, params={"before_id": -1}),
             422, "validation_error")


async def test_a_checkout_started_before_the_archive_can_still_be_confirmed(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await open_shop(client, merchant, products={"CAP": (500, 5)})
    cart = await new_cart(client, merchant, ("CAP", 2))
    checkout = await start_checkout(client, cart)
    ok(await client.post("/v1/variants/CAP/archive", headers=merchant.headers))

    order = ok(await confirm(client, cart, checkout), 201)

    assert [(line["sku"], line["quantity"]) for line in order["lines"]] == [("CAP", 2)]
    assert await levels(client, merchant, "CAP") == (5, 2, 3)
    assert await balanced(client, merchant)
