"""What the console's order page needs from the API, over HTTP on each database: a stale
version is told who changed the order and what; every action the page offers takes the
order's version, needs its scope, stays inside the business and lands in the history with
its actor and note (a note the buyer never sees); and one read gives the whole page."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from orderline.core.runtime import Runtime
from tests.conftest import Merchant
from tests.e2e.conftest import add_product, error_of, levels, ok, pay, place_order
from tests.e2e.test_api_cod_direct_orders import cash_order, cod_merchant
from tests.support.manual import manual_order, php_merchant


async def staff_key(client: httpx.AsyncClient, merchant: Merchant,
                    *scopes: str) -> tuple[dict[str, str], str]:
    """Another key of the business: its headers and the actor the history names it by."""
    issued = ok(await client.post("/v1/api-keys", headers=merchant.headers,
                                  json={"name": "staff", "scopes": list(scopes)}), 201)
    return {"Authorization": f"Bearer {issued['key']}"}, f"api_key:{issued['prefix']}"


def if_match(headers: dict[str, str], version: int) -> dict[str, str]:
    return {**headers, "If-Match": f'"{version}"'}


async def history(client: httpx.AsyncClient, merchant: Merchant,
                  order: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = ok(await client.get(f"/v1/orders/{order['id']}/history",
                                                     headers=merchant.headers))
    return rows


# --- a stale version names who changed the order, and what ------------------------------------

async def test_the_second_caller_with_the_old_version_is_told_who_shipped_the_order(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    order = await pay(client, merchant, await place_order(client, merchant, ("MUG", 1)))
    packer, packer_actor = await staff_key(client, merchant, "write")
    seen = order["version"]

    shipped = ok(await client.patch(f"/v1/orders/{order['id']}/shipping",
                                    headers=if_match(packer, seen),
                                    json={"carrier": "DHL", "tracking_number": "JD01"}))
    answer = await client.delete(f"/v1/orders/{order['id']}",
                                 headers=if_match(merchant.headers, seen),
                                 params={"reason": "buyer", "note": "asked by phone"})

    details = error_of(answer, 412, "version_conflict")
    assert details["expected_version"] == seen
    assert details["current_version"] == shipped["version"] == seen + 1
    assert details["changes_since"] == 1 and details["order_number"] == order["number"]
    latest = details["latest_change"]
    assert latest["actor"] == packer_actor
    assert (latest["action"], latest["description"]) == ("shipping_updated", "shipped")
    assert (latest["from_status"], latest["to_status"]) == ("paid", "shipped")
    assert "tracking_number" in latest["changed_fields"]
    assert latest["version"] == shipped["version"]
    message = answer.json()["error"]["message"]
    assert message.startswith(f"Order {order['number']} was shipped by {packer_actor} at ")
    assert "reload it and try again" in message
    still = ok(await client.get(f"/v1/orders/{order['id']}", headers=merchant.headers))
    assert still["status"] == "shipped"  # the refused cancel changed nothing


async def test_of_two_callers_acting_at_once_on_one_version_the_loser_is_told_the_winners_change(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    order = await pay(client, merchant, await place_order(client, merchant, ("MUG", 1)))
    packer, packer_actor = await staff_key(client, merchant, "write")
    clerk, clerk_actor = await staff_key(client, merchant, "write")
    url = f"/v1/orders/{order['id']}"

    shipping, cancelling = await asyncio.gather(
        client.patch(f"{url}/shipping", headers=if_match(packer, order["version"]),
                     json={"carrier": "DHL", "tracking_number": "JD02"}),
        client.delete(url, headers=if_match(clerk, order["version"]),
                      params={"note": "duplicate order"}))

    assert sorted([shipping.status_code, cancelling.status_code]) == [200, 412]
    won, lost = (shipping, cancelling) if shipping.status_code == 200 else (cancelling,
                                                                              shipping)
    winner = packer_actor if won is shipping else clerk_actor
    details = error_of(lost, 412, "version_conflict")
    assert details["latest_change"]["actor"] == winner
    assert details["latest_change"]["to_status"] == won.json()["status"]
    assert details["current_version"] == won.json()["version"] == order["version"] + 1


async def test_a_stale_edit_names_the_latest_of_several_changes_and_the_fields_it_changed(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    order = await place_order(client, merchant, ("MUG", 1))
    clerk, clerk_actor = await staff_key(client, merchant, "write")
    ok(await client.put(f"/v1/orders/{order['id']}", headers=merchant.headers,
                        json={"note": "gift wrap"}))
    ok(await client.put(f"/v1/orders/{order['id']}", headers=clerk,
                        json={"customer": {"name": "Ada Buyer", "phone": "+1 555 0100",
                                          "email": "ada@example.com"}}))

    details = error_of(await client.put(f"/v1/orders/{order['id']}",
                                        headers=if_match(merchant.headers, order["version"]),
                                        json={"note": "leave at the door"}),
                       412, "version_conflict")

    assert details["changes_since"] == 2
    latest = details["latest_change"]
    assert latest["actor"] == clerk_actor and latest["action"] == "updated"
    assert latest["changed_fields"] == ["customer_email"]
    assert latest["description"] == "edited (customer_email)"
    assert ok(await client.get(f"/v1/orders/{order['id']}",
                               headers=merchant.headers))["note"] == "gift wrap"


async def test_a_cash_collection_and_a_refund_with_a_stale_version_are_refused_and_change_nothing(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await cod_merchant(client, runtime)
    order = ok(await client.post("/v1/orders", headers=m.headers, json=cash_order(2)), 201)
    courier, courier_actor = await staff_key(client, m, "write")
    shipped = ok(await client.patch(f"/v1/orders/{order['id']}/shipping", headers=courier,
                                    json={"carrier": "LBC", "tracking_number": "L-1",
                                          "tracking_url": "https://lbc.example/L-1"}))

    details = error_of(await client.post(f"/v1/orders/{order['id']}/cod/collect",
                                         headers=if_match(m.headers, order["version"]),
                                         json={"amount": 2000}), 412, "version_conflict")
    assert details["latest_change"]["actor"] == courier_actor

    collected = await client.post(f"/v1/orders/{order['id']}/cod/collect",
                                  headers=if_match(m.headers, shipped["version"]),
                                  json={"amount": 2000})
    assert ok(collected)["status"] == "delivered"
    assert collected.headers["ETag"] == f'"{shipped["version"] + 1}"'
    details = error_of(await client.post(f"/v1/orders/{order['id']}/refunds",
                                         headers=if_match(courier, shipped["version"]),
                                         json={"amount": 500}), 412, "version_conflict")
    assert details["latest_change"]["action"] == "cash_collected"
    assert details["latest_change"]["description"] == "paid in cash on delivery"
    payments = ok(await client.get(f"/v1/orders/{order['id']}/payments", headers=m.headers))
    assert [mv["kind"] for mv in payments["ledger"]] == ["collect"]  # nothing refunded


# --- the actions, their notes, and what the buyer sees of them --------------------------------

async def test_a_cancel_keeps_its_reason_and_note_in_the_history_but_not_in_the_buyers_view(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    order = await place_order(client, merchant, ("MUG", 2))
    clerk, clerk_actor = await staff_key(client, merchant, "write")

    cancelled = ok(await client.delete(f"/v1/orders/{order['id']}",
                                       headers=if_match(clerk, order["version"]),
                                       params={"reason": "buyer",
                                               "note": "buyer found it cheaper elsewhere"}))

    assert (cancelled["status"], cancelled["cancel_reason"]) == ("cancelled", "buyer")
    last = (await history(client, merchant, order))[-1]
    assert (last["actor"], last["action"]) == (clerk_actor, "cancelled")
    assert last["changes"] == {"reason": "buyer", "note": "buyer found it cheaper elsewhere"}
    seen_by_buyer = await client.get(f"/v1/orders/{order['id']}",
                                     headers={"Authorization": f"Bearer {order['access_token']}"})
    assert ok(seen_by_buyer)["history"][-1]["action"] == "cancelled"
    assert "cheaper" not in seen_by_buyer.text and clerk_actor not in seen_by_buyer.text
    assert await levels(client, merchant, "MUG") == (5, 0, 5)


async def test_a_transfer_seen_in_the_bank_is_marked_paid_by_a_verifier_then_refunded_by_lines(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    shop = await php_merchant(runtime)
    for sku in ("TEE", "CAP"):
        ok(await client.post("/v1/products", headers=shop.headers, json={
            "name": sku, "variants": [{"sku": sku, "name": sku, "price": 50_000,
                                       "initial_stock": 10}]}), 201)
    ok(await client.post("/v1/payment-methods", headers=shop.headers, json={
        "template": "gcash", "account_name": "Manila Shop", "account_number": "0917 555 0101"}),
        201)
    order = ok(await client.post("/v1/orders", headers=shop.headers, json={
        "customer": {"name": "Maria Santos", "phone": "+63 917 555 0199"},
        "channel": "whatsapp", "payment_method": "gcash",
        "lines": [{"sku": "TEE", "quantity": 2}, {"sku": "CAP", "quantity": 1}]}), 201)
    writer, _ = await staff_key(client, shop, "write")
    verifier, verifier_actor = await staff_key(client, shop, "verify", "read")
    received = f"/v1/orders/{order['id']}/payment/received"
    body = {"note": "seen in the GCash app at 10:15", "bank_reference": "GC-778"}

    refused = error_of(await client.post(received, headers=writer, json=body), 403, "forbidden")
    assert refused["required_scope"] == "verify"
    paid = ok(await client.post(received, headers=if_match(verifier, order["version"]),
                                json=body))

    assert (paid["status"], paid["payment_reference"]) == ("paid", "GC-778")
    last = (await history(client, shop, order))[-1]
    assert (last["actor"], last["action"]) == (verifier_actor, "payment_received")
    assert last["changes"]["note"] == "seen in the GCash app at 10:15"
    assert last["changes"]["by_hand"] is True
    ledger = ok(await client.get(f"/v1/orders/{order['id']}/payments",
                                 headers=shop.headers))["ledger"]
    assert [(mv["kind"], mv["amount"], mv["actor"]) for mv in ledger] == [
        ("collect", 150_000, verifier_actor)]
    # The money is held: the order is not cancelled until it is given back.
    error_of(await client.delete(f"/v1/orders/{order['id']}", headers=shop.headers),
             409, "refund_first")

    refunded = ok(await client.post(f"/v1/orders/{order['id']}/refunds", headers=writer, json={
        "lines": [{"sku": "TEE", "quantity": 1, "restock": True},
                  {"sku": "CAP", "quantity": 1}],
        "reason": "one tee torn, cap lost by the courier"}), 201)

    assert (refunded["provider"], refunded["amount_refunded"]) == ("manual", 100_000)
    assert await levels(client, shop, "TEE") == (9, 0, 9)  # one of two back on the shelf
    assert await levels(client, shop, "CAP") == (9, 0, 9)  # not restocked
    entry = (await history(client, shop, order))[-1]
    assert entry["action"] == "refunded" and entry["actor"] != verifier_actor
    assert entry["changes"]["reason"] == "one tee torn, cap lost by the courier"
    assert entry["changes"]["by_hand"] is True and entry["changes"]["amount"] == 100_000
    assert entry["changes"]["lines"] == [{"sku": "TEE", "quantity": 1, "restocked": True},
                                         {"sku": "CAP", "quantity": 1, "restocked": False}]
    seen_by_buyer = await client.get(f"/v1/orders/{order['id']}",
                                     headers={"Authorization": f"Bearer {order['access_token']}"})
    assert "torn" not in seen_by_buyer.text and "GCash app" not in seen_by_buyer.text


async def test_a_transfer_is_confirmed_by_hand_only_for_an_order_paid_by_a_manual_method(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    order = await place_order(client, merchant, ("MUG", 1))  # a card order
    error_of(await client.post(f"/v1/orders/{order['id']}/payment/received",
                               headers=merchant.headers, json={"note": "saw it"}),
             409, "invalid_transition")
    error_of(await client.post(f"/v1/orders/{order['id']}/payment/received",
                               headers=merchant.headers, json={"note": ""}),
             422, "validation_error")


async def test_a_payment_confirmed_by_hand_and_a_failed_cash_delivery_keep_their_notes(
        client: httpx.AsyncClient, merchant: Merchant, runtime: Runtime) -> None:
    await add_product(client, merchant, "MUG", 5)
    order = await place_order(client, merchant, ("MUG", 1))
    ok(await client.patch(f"/v1/orders/{order['id']}/payment", headers=merchant.headers,
                          json={"reference": "counter", "note": "paid cash at the counter"}))
    assert (await history(client, merchant, order))[-1]["changes"]["note"] == \
        "paid cash at the counter"

    m = await cod_merchant(client, runtime)
    cash = ok(await client.post("/v1/orders", headers=m.headers, json=cash_order(1)), 201)
    failed = await client.post(f"/v1/orders/{cash['id']}/cod/failed",
                               headers=if_match(m.headers, cash["version"]),
                               json={"outcome": "refused", "note": "buyer not home twice"})
    assert ok(failed)["status"] == "cancelled"
    assert failed.headers["ETag"] == f'"{cash["version"] + 1}"'
    last = (await history(client, m, cash))[-1]
    assert (last["action"], last["changes"]["note"]) == ("refused", "buyer not home twice")


# --- one read for the page ---------------------------------------------------------------------

async def test_the_order_page_is_one_read_of_order_history_and_ledger(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await cod_merchant(client, runtime)
    order = ok(await client.post("/v1/orders", headers=m.headers, json=cash_order(2)), 201)
    ok(await client.patch(f"/v1/orders/{order['id']}/shipping", headers=m.headers,
                          json={"carrier": "LBC", "tracking_number": "L-9"}))
    ok(await client.post(f"/v1/orders/{order['id']}/cod/collect", headers=m.headers,
                         json={"amount": 2000}))
    reader, _ = await staff_key(client, m, "read")

    answer = await client.get(f"/v1/orders/{order['id']}/detail", headers=reader)

    detail = ok(answer)
    assert answer.headers["ETag"] == f'"{detail["order"]["version"]}"'
    assert detail["order"] == ok(await client.get(f"/v1/orders/{order['id']}",
                                                  headers=m.headers))
    assert detail["order"]["shipping"]["tracking_number"] == "L-9"
    assert detail["order"]["customer"]["name"] == "Cash Buyer"
    assert [h["action"] for h in detail["history"]] == ["created", "shipping_updated",
                                                        "cash_collected"]
    assert detail["payments"] == ok(await client.get(f"/v1/orders/{order['id']}/payments",
                                                     headers=m.headers))
    assert [mv["kind"] for mv in detail["payments"]["ledger"]] == ["collect"]


# --- scopes and businesses ----------------------------------------------------------------------

async def test_a_read_only_key_is_refused_every_action_of_the_page_and_nothing_changes(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await cod_merchant(client, runtime)
    order = ok(await client.post("/v1/orders", headers=m.headers, json=cash_order(1)), 201)
    reader, _ = await staff_key(client, m, "read")
    url = f"/v1/orders/{order['id']}"
    attempts = [
        client.delete(url, headers=reader, params={"note": "x"}),
        client.patch(f"{url}/payment", headers=reader, json={"note": "x"}),
        client.patch(f"{url}/shipping", headers=reader,
                     json={"carrier": "LBC", "tracking_number": "L-1"}),
        client.post(f"{url}/refunds", headers=reader, json={"amount": 100}),
        client.post(f"{url}/cod/collect", headers=reader, json={"amount": 1000}),
        client.post(f"{url}/cod/failed", headers=reader, json={"outcome": "refused"}),
        client.post(f"{url}/payment/received", headers=reader, json={"note": "x"}),
    ]
    for attempt in attempts:
        error_of(await attempt, 403, "forbidden")
    after = ok(await client.get(url, headers=m.headers))
    assert (after["status"], after["version"]) == ("confirmed", order["version"])


async def test_another_business_finds_none_of_the_pages_actions_or_its_read(
        client: httpx.AsyncClient, runtime: Runtime, rival: Merchant) -> None:
    m = await cod_merchant(client, runtime)
    order = ok(await client.post("/v1/orders", headers=m.headers, json=cash_order(1)), 201)
    url = f"/v1/orders/{order['id']}"
    theirs = rival.headers
    attempts = [
        client.get(f"{url}/detail", headers=theirs),
        client.delete(url, headers=if_match(theirs, 1), params={"note": "x"}),
        client.patch(f"{url}/payment", headers=theirs, json={"note": "x"}),
        client.patch(f"{url}/shipping", headers=theirs,
                     json={"carrier": "LBC", "tracking_number": "L-1"}),
        client.post(f"{url}/refunds", headers=if_match(theirs, 1), json={"amount": 100}),
        client.post(f"{url}/cod/collect", headers=if_match(theirs, 1), json={"amount": 1000}),
        client.post(f"{url}/cod/failed", headers=theirs, json={"outcome": "refused"}),
        client.post(f"{url}/payment/received", headers=theirs, json={"note": "x"}),
    ]
    for attempt in attempts:
        details = error_of(await attempt, 404, "not_found")
        assert details["id"] == order["id"]
    after = ok(await client.get(url, headers=m.headers))
    assert (after["status"], after["version"]) == ("confirmed", order["version"])


async def test_the_page_of_a_transfer_order_not_yet_paid_shows_an_empty_ledger(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    shop = await php_merchant(runtime)
    ok(await client.post("/v1/products", headers=shop.headers, json={
        "name": "TEE", "variants": [{"sku": "TEE", "name": "TEE", "price": 125_000,
                                     "initial_stock": 10}]}), 201)
    ok(await client.post("/v1/payment-methods", headers=shop.headers, json={
        "template": "gcash", "account_name": "Manila Shop", "account_number": "0917 555 0101"}),
        201)
    order = await manual_order(client, shop)
    detail = ok(await client.get(f"/v1/orders/{order['id']}/detail", headers=shop.headers))
    assert detail["payments"] == {"data": [], "ledger": []}
    assert [h["action"] for h in detail["history"]] == ["created"]
