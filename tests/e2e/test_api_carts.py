"""Carts over HTTP: creating one (its token shown once), adding, changing and removing lines
with exact figures and a version that moves once per change, access by the cart's own token,
refusals (closed cart, quantity cap, unknown SKU, line limit, stale If-Match), availability
that counts what orders hold, and isolation from another business, on each database."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import pytest

from orderline.checkout import cart_store, cart_tokens, carts
from orderline.core.checkpoints import Checkpoints
from orderline.core.clock import ManualClock
from orderline.core.runtime import Runtime
from orderline.wiring import provide_parts
from tests.conftest import Merchant, new_merchant
from tests.e2e.conftest import add_product, api_client, error_of, ok, place_order
from tests.support.catalog import place


async def new_cart(client: httpx.AsyncClient, merchant: Merchant,
                   **body: Any) -> dict[str, Any]:
    cart: dict[str, Any] = ok(await client.post("/v1/carts", headers=merchant.headers,
                                                json=body or {"channel": "web"}), 201)
    return cart


def token_of(cart: dict[str, Any]) -> dict[str, str]:
    return {"X-Cart-Token": cart["token"]}


async def add(client: httpx.AsyncClient, cart: dict[str, Any], sku: str, quantity: int,
              headers: dict[str, str] | None = None) -> httpx.Response:
    return await client.post(f"/v1/carts/{cart['id']}/lines",
                             headers=headers or token_of(cart),
                             json={"sku": sku, "quantity": quantity})


async def read(client: httpx.AsyncClient, cart: dict[str, Any]) -> dict[str, Any]:
    shown: dict[str, Any] = ok(await client.get(f"/v1/carts/{cart['id']}",
                                                headers=token_of(cart)))
    return shown


def line_figures(cart: dict[str, Any]) -> list[tuple[str, int, int, int]]:
    return [(x["sku"], x["quantity"], x["unit_price"], x["line_total"]) for x in cart["lines"]]


async def test_a_new_cart_is_empty_and_shows_its_token_only_once(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    response = await client.post("/v1/carts", headers=merchant.headers, json={"channel": "web"})
    created = ok(response, 201)
    assert created["token"].startswith("ct_") and len(created["token"]) > 30
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"/v1/carts/{created['id']}"
    assert {k: created[k] for k in ("status", "version", "channel", "currency", "customer_id",
                                    "order_id", "lines", "subtotal")} == {
        "status": "open", "version": 1, "channel": "web", "currency": "USD",
        "customer_id": None, "order_id": None, "lines": [], "subtotal": 0}
    assert created["preview"]["subtotal"] == 0 and created["preview"]["total"] == 0

    again = await client.get(f"/v1/carts/{created['id']}", headers=merchant.headers)
    assert created["token"] not in again.text and "token" not in ok(again)
    assert "token_hash" not in ok(again)
    other = await new_cart(client, merchant)
    assert other["token"] != created["token"]


async def test_lines_are_added_changed_and_removed_with_exact_figures_and_one_version_each(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "TEE", 50, price=1250)
    await add_product(client, merchant, "MUG", 50, price=999)
    cart = await new_cart(client, merchant)

    first = await add(client, cart, "TEE", 2)
    assert first.headers["ETag"] == '"2"'
    shown = ok(first)
    assert shown["version"] == 2
    assert line_figures(shown) == [("TEE", 2, 1250, 2500)]
    assert shown["lines"][0]["name"] == "Variant TEE"
    assert shown["subtotal"] == 2500

    shown = ok(await add(client, cart, "MUG", 1))
    assert (shown["version"], shown["subtotal"]) == (3, 3499)
    shown = ok(await add(client, cart, "TEE", 1))  # more of the same line, which keeps its place
    assert (shown["version"], line_figures(shown)) == (
        4, [("TEE", 3, 1250, 3750), ("MUG", 1, 999, 999)])

    response = await client.patch(f"/v1/carts/{cart['id']}/lines/MUG", headers=token_of(cart),
                                  json={"quantity": 4})
    shown = ok(response)
    assert response.headers["ETag"] == '"5"'
    assert (shown["version"], line_figures(shown), shown["subtotal"]) == (
        5, [("TEE", 3, 1250, 3750), ("MUG", 4, 999, 3996)], 7746)
    assert shown["preview"]["subtotal"] == 7746 and shown["preview"]["total"] == 7746
    assert [(x["sku"], x["subtotal"]) for x in shown["preview"]["lines"]] == [
        ("TEE", 3750), ("MUG", 3996)]

    shown = ok(await client.delete(f"/v1/carts/{cart['id']}/lines/TEE", headers=token_of(cart)))
    assert (shown["version"], line_figures(shown), shown["subtotal"]) == (
        6, [("MUG", 4, 999, 3996)], 3996)
    got = await client.get(f"/v1/carts/{cart['id']}", headers=merchant.headers)
    assert got.headers["ETag"] == '"6"'
    assert ok(got) == shown


async def test_a_cart_shows_each_variants_current_price(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "TEE", 5, price=1250)
    cart = await new_cart(client, merchant)
    ok(await add(client, cart, "TEE", 2))
    ok(await client.patch("/v1/variants/TEE", headers=merchant.headers, json={"price": 1100}))
    shown = await read(client, cart)
    assert line_figures(shown) == [("TEE", 2, 1100, 2200)]
    assert shown["subtotal"] == 2200 and shown["preview"]["total"] == 2200
    assert shown["version"] == 2  # reading never moves the version


async def test_a_cart_token_opens_its_cart_without_an_api_key(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "TEE", 5, price=1250)
    cart = await new_cart(client, merchant)
    assert ok(await add(client, cart, "TEE", 1))["version"] == 2
    shown = await read(client, cart)
    assert line_figures(shown) == [("TEE", 1, 1250, 1250)]


async def test_a_request_without_a_key_or_a_valid_token_is_unauthorized(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "TEE", 5)
    cart = await new_cart(client, merchant)
    path = f"/v1/carts/{cart['id']}"
    for headers in ({}, {"X-Cart-Token": "ct_" + "x" * 32}, {"X-Cart-Token": "not-a-token"},
                    {"X-Cart-Token": cart["token"][3:]}, {"Authorization": "Bearer ol_nope"}):
        error_of(await client.get(path, headers=headers), 401, "unauthorized")
        error_of(await add(client, cart, "TEE", 1, headers=headers or {"X": "y"}),
                 401, "unauthorized")
    # Creating a cart names its business, which only an API key does.
    error_of(await client.post("/v1/carts", headers=token_of(cart), json={"channel": "web"}),
             401, "unauthorized")
    assert (await read(client, cart))["version"] == 1


async def test_a_signed_token_opens_its_cart_in_a_process_that_never_saw_it_and_no_forgery_does(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "TEE", 5)
    cart, theirs = await new_cart(client, merchant), await new_cart(client, merchant)
    signed = cart_tokens.read_signed(cart["token"])
    assert signed is not None and str(signed.cart_id) == cart["id"]
    carts._token_keys.clear()  # as in a server process that has not served this business
    carts._token_owners.clear()
    assert (await read(client, cart))["id"] == cart["id"]
    # Another cart's id with this token's signature, or this cart under another business.
    moved = cart_tokens.PREFIX + base64.urlsafe_b64encode(
        signed.business_id.bytes + uuid.UUID(theirs["id"]).bytes + signed.signature).decode()
    elsewhere = cart_tokens.PREFIX + base64.urlsafe_b64encode(
        uuid.uuid4().bytes + signed.cart_id.bytes + signed.signature).decode()
    flipped = cart["token"][:-2] + ("A" if cart["token"][-2] != "A" else "B") + cart["token"][-1]
    for forged in (moved, elsewhere, flipped):
        error_of(await client.get(f"/v1/carts/{theirs['id']}", headers={"X-Cart-Token": forged}),
                 401, "unauthorized")
        error_of(await add(client, cart, "TEE", 1, headers={"X-Cart-Token": forged}),
                 401, "unauthorized")
    assert (await read(client, cart))["version"] == 1


async def test_a_token_never_opens_another_cart(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "TEE", 5)
    mine, theirs = await new_cart(client, merchant), await new_cart(client, merchant)
    ok(await add(client, theirs, "TEE", 1))
    path = f"/v1/carts/{theirs['id']}"
    error_of(await client.get(path, headers=token_of(mine)), 404, "not_found")
    error_of(await add(client, theirs, "TEE", 3, headers=token_of(mine)), 404, "not_found")
    error_of(await client.patch(f"{path}/lines/TEE", headers=token_of(mine),
                                json={"quantity": 3}), 404, "not_found")
    error_of(await client.delete(f"{path}/lines/TEE", headers=token_of(mine)), 404, "not_found")
    error_of(await client.delete(path, headers=token_of(mine)), 404, "not_found")
    shown = await read(client, theirs)
    assert (shown["status"], shown["version"], line_figures(shown)) == (
        "open", 2, [("TEE", 1, 1000, 1000)])


async def test_a_converted_cart_refuses_every_change_with_cart_closed(
        client: httpx.AsyncClient, runtime: Runtime, merchant: Merchant) -> None:
    await add_product(client, merchant, "TEE", 5)
    await add_product(client, merchant, "MUG", 5)
    cart = await new_cart(client, merchant)
    ok(await add(client, cart, "TEE", 2))
    order_id = uuid.uuid4()
    closed = await runtime.db.run(lambda conn: cart_store.close_cart(
        conn, uuid.UUID(cart["id"]), order_id, runtime.clock.now()))
    assert closed
    path = f"/v1/carts/{cart['id']}"
    for response in (
            await add(client, cart, "MUG", 1),
            await add(client, cart, "TEE", 1, headers=merchant.headers),
            await client.patch(f"{path}/lines/TEE", headers=token_of(cart), json={"quantity": 1}),
            await client.delete(f"{path}/lines/TEE", headers=token_of(cart)),
            await client.delete(path, headers=merchant.headers)):
        details = error_of(response, 409, "cart_closed")
        assert details["status"] == "converted" and details["order_id"] == str(order_id)
    shown = await read(client, cart)
    assert (shown["status"], shown["order_id"], shown["version"], line_figures(shown)) == (
        "converted", str(order_id), 3, [("TEE", 2, 1000, 2000)])


async def test_an_abandoned_cart_can_no_longer_change(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "TEE", 5)
    cart = await new_cart(client, merchant)
    ok(await add(client, cart, "TEE", 1))
    abandoned = ok(await client.delete(f"/v1/carts/{cart['id']}", headers=token_of(cart)))
    assert (abandoned["status"], abandoned["version"]) == ("abandoned", 3)
    again = ok(await client.delete(f"/v1/carts/{cart['id']}", headers=merchant.headers))
    assert (again["status"], again["version"]) == ("abandoned", 3)
    error_of(await add(client, cart, "TEE", 1), 409, "cart_closed")
    assert line_figures(await read(client, cart)) == [("TEE", 1, 1000, 1000)]


async def test_a_quantity_above_the_business_limit_is_refused_and_nothing_changes(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "TEE", 500)
    cart = await new_cart(client, merchant)
    details = error_of(await add(client, cart, "TEE", 101), 422, "quantity_above_limit")
    assert details["sku"] == "TEE" and details["max_line_quantity"] == 100
    ok(await add(client, cart, "TEE", 60))
    details = error_of(await add(client, cart, "TEE", 41), 422, "quantity_above_limit")
    assert (details["sku"], details["max_line_quantity"]) == ("TEE", 100)
    error_of(await client.patch(f"/v1/carts/{cart['id']}/lines/TEE", headers=token_of(cart),
                                json={"quantity": 101}), 422, "quantity_above_limit")
    shown = await read(client, cart)
    assert (shown["version"], line_figures(shown)) == (2, [("TEE", 60, 1000, 60000)])
    assert ok(await add(client, cart, "TEE", 40))["lines"][0]["quantity"] == 100


async def test_an_unknown_sku_is_refused_and_a_sku_not_in_the_cart_is_not_found(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "TEE", 5)
    await add_product(client, merchant, "MUG", 5)
    cart = await new_cart(client, merchant)
    details = error_of(await add(client, cart, "NOPE", 1), 422, "unknown_sku")
    assert details["unknown_skus"] == ["NOPE"]
    path = f"/v1/carts/{cart['id']}/lines"
    error_of(await client.patch(f"{path}/NOPE", headers=token_of(cart), json={"quantity": 1}),
             422, "unknown_sku")
    error_of(await client.patch(f"{path}/MUG", headers=token_of(cart), json={"quantity": 1}),
             404, "not_found")
    error_of(await client.delete(f"{path}/MUG", headers=token_of(cart)), 404, "not_found")
    error_of(await add(client, cart, "TEE", 0), 422, "validation_error")
    shown = await read(client, cart)
    assert (shown["version"], shown["lines"]) == (1, [])


async def test_a_cart_holds_at_most_the_order_line_limit(
        client: httpx.AsyncClient, merchant: Merchant, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(carts, "MAX_LINES_PER_ORDER", 2)
    for sku in ("A1", "A2", "A3"):
        await add_product(client, merchant, sku, 5)
    cart = await new_cart(client, merchant)
    ok(await add(client, cart, "A1", 1))
    ok(await add(client, cart, "A2", 1))
    details = error_of(await add(client, cart, "A3", 1), 422, "validation_error")
    assert details["max"] == 2
    assert ok(await add(client, cart, "A2", 1))["version"] == 4  # more of a line is fine
    assert [x["sku"] for x in (await read(client, cart))["lines"]] == ["A1", "A2"]


async def test_a_stale_if_match_is_refused_and_the_current_one_is_accepted(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "TEE", 5)
    cart = await new_cart(client, merchant)
    ok(await add(client, cart, "TEE", 1))
    stale = {**token_of(cart), "If-Match": '"1"'}
    details = error_of(await add(client, cart, "TEE", 1, headers=stale), 412, "version_conflict")
    assert details == {"expected_version": 1, "current_version": 2}
    error_of(await client.delete(f"/v1/carts/{cart['id']}", headers=stale),
             412, "version_conflict")
    shown = await read(client, cart)
    assert (shown["status"], shown["version"], line_figures(shown)) == (
        "open", 2, [("TEE", 1, 1000, 1000)])
    current = {**token_of(cart), "If-Match": '"2"'}
    assert ok(await add(client, cart, "TEE", 1, headers=current))["version"] == 3


async def test_a_cart_is_created_for_a_known_channel_and_customer_of_the_business(
        client: httpx.AsyncClient, merchant: Merchant, rival: Merchant) -> None:
    await add_product(client, merchant, "TEE", 5)
    await add_product(client, rival, "TEE", 5)
    customer = (await place_order(client, merchant, ("TEE", 1)))["customer"]["id"]
    theirs = (await place_order(client, rival, ("TEE", 1)))["customer"]["id"]
    cart = await new_cart(client, merchant, channel="whatsapp", customer_id=customer)
    assert (cart["channel"], cart["customer_id"]) == ("whatsapp", customer)

    details = error_of(await client.post("/v1/carts", headers=merchant.headers,
                                         json={"channel": "telegraph"}), 422, "unknown_channel")
    assert details == {"channel": "telegraph"}
    for unknown in (theirs, str(uuid.uuid4()), "not-an-id"):
        error_of(await client.post("/v1/carts", headers=merchant.headers,
                                   json={"channel": "web", "customer_id": unknown}),
                 404, "not_found")
    error_of(await client.get("/v1/carts/not-an-id", headers=merchant.headers), 404, "not_found")


async def test_scopes_decide_what_a_merchant_key_may_do_with_a_cart(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "TEE", 5)
    issued = ok(await client.post("/v1/api-keys", headers=merchant.headers,
                                  json={"name": "reader", "scopes": ["read"]}), 201)
    reader = {"Authorization": f"Bearer {issued['key']}"}
    cart = await new_cart(client, merchant)
    assert ok(await client.get(f"/v1/carts/{cart['id']}", headers=reader))["version"] == 1
    error_of(await add(client, cart, "TEE", 1, headers=reader), 403, "forbidden")
    error_of(await client.delete(f"/v1/carts/{cart['id']}", headers=reader), 403, "forbidden")
    error_of(await client.post("/v1/carts", headers=reader, json={"channel": "web"}),
             403, "forbidden")
    assert (await read(client, cart))["version"] == 1


async def test_a_rival_business_can_neither_read_nor_change_the_cart(
        client: httpx.AsyncClient, merchant: Merchant, rival: Merchant) -> None:
    await add_product(client, merchant, "TEE", 5)
    await add_product(client, rival, "TEE", 5)
    cart = await new_cart(client, merchant)
    ok(await add(client, cart, "TEE", 2))
    before = await read(client, cart)
    path = f"/v1/carts/{cart['id']}"
    rivals = rival.headers
    for response in (
            await client.get(path, headers=rivals),
            await add(client, cart, "TEE", 1, headers=rivals),
            await client.patch(f"{path}/lines/TEE", headers=rivals, json={"quantity": 5}),
            await client.delete(f"{path}/lines/TEE", headers=rivals),
            await client.delete(path, headers=rivals)):
        error_of(response, 404, "not_found")
    assert await read(client, cart) == before
    # Nor does the rival's own cart token open the merchant's cart.
    own = await new_cart(client, rival)
    error_of(await client.get(path, headers=token_of(own)), 404, "not_found")
    error_of(await add(client, cart, "TEE", 1, headers=token_of(own)), 404, "not_found")
    assert await read(client, cart) == before


async def test_availability_counts_the_stock_orders_hold(
        client: httpx.AsyncClient, runtime: Runtime, merchant: Merchant) -> None:
    await add_product(client, merchant, "TEE", 10, price=1250)
    await add_product(client, merchant, "MUG", 0, price=999)
    cart = await new_cart(client, merchant)
    ok(await add(client, cart, "TEE", 8))
    ok(await add(client, cart, "MUG", 1))
    shown = await read(client, cart)
    assert [(x["sku"], x["available"], x["in_stock"]) for x in shown["lines"]] == [
        ("TEE", 10, True), ("MUG", 0, False)]

    await place(runtime, merchant, ("TEE", 3))
    shown = await read(client, cart)
    assert [(x["sku"], x["available"], x["in_stock"]) for x in shown["lines"]] == [
        ("TEE", 7, False), ("MUG", 0, False)]
    ok(await client.patch(f"/v1/carts/{cart['id']}/lines/TEE", headers=token_of(cart),
                          json={"quantity": 7}))
    assert (await read(client, cart))["lines"][0]["in_stock"] is True


async def test_availability_ignores_a_reservation_past_its_deadline(
        runtime: Runtime) -> None:
    clock = ManualClock()
    timed = provide_parts(Runtime(settings=runtime.settings, db=runtime.db, clock=clock,
                    checkpoints=Checkpoints()))
    shop = await new_merchant(timed, name="Timed shop", reservation_ttl_seconds=60)
    async with api_client(timed) as client:
        await add_product(client, shop, "TEE", 10)
        cart = await new_cart(client, shop)
        ok(await add(client, cart, "TEE", 1))
        await place(timed, shop, ("TEE", 4))
        assert (await read(client, cart))["lines"][0]["available"] == 6
        clock.advance(61)  # the order's hold lapses; no sweeper has run
        assert (await read(client, cart))["lines"][0]["available"] == 10


async def test_a_line_whose_sku_holds_a_slash_can_be_changed_and_removed(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "TEE/RED", 5, price=500)
    cart = await new_cart(client, merchant)
    ok(await add(client, cart, "TEE/RED", 1))
    path = f"/v1/carts/{cart['id']}/lines/TEE/RED"
    shown = ok(await client.patch(path, headers=token_of(cart), json={"quantity": 3}))
    assert line_figures(shown) == [("TEE/RED", 3, 500, 1500)]
    assert ok(await client.delete(path, headers=token_of(cart)))["lines"] == []
