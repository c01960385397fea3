"""The buyer reads their own order with its access token: status, lines, totals, how to pay,
tracking and what happened when, and nothing that is the merchant's (it used to be 401)."""

from __future__ import annotations

import httpx

from tests.conftest import Merchant
from tests.e2e.conftest import error_of, ok
from tests.support.manual import buyer, manual_order

MERCHANT_ONLY = {"note", "customer_id", "business_id", "location_id", "access_token_hash",
                 "pricing", "checkout_id", "payment_reference", "version", "cancel_reason"}


async def test_the_buyer_reads_their_order_with_how_to_pay_and_its_history(
        http: httpx.AsyncClient, shop: Merchant) -> None:
    order = await manual_order(http, shop)
    ok(await http.put(f"/v1/orders/{order['id']}", headers=shop.headers,
                      json={"note": "VIP, call before delivery"}))
    seen = ok(await http.get(f"/v1/orders/{order['id']}", headers=buyer(order)))
    assert (seen["id"], seen["number"], seen["status"], seen["total"]) == (
        order["id"], order["number"], "pending_payment", order["total"])
    assert [(line["sku"], line["quantity"]) for line in seen["lines"]] == [("TEE", 1)]
    assert seen["customer"] == {"name": "Maria Santos", "phone": "+63 917 555 0199",
                                "email": "m0199@ex.ph"}
    instructions = seen["payment_instructions"]
    assert instructions["reference"] == order["manual_payment"]["reference"]
    assert instructions["amount"] == order["total"] and instructions["proofs"] == []
    assert [(h["action"], h["to_status"]) for h in seen["history"]] == [
        ("created", "pending_payment"), ("updated", "pending_payment")]
    assert not MERCHANT_ONLY & set(seen)
    assert all(set(h) == {"action", "from_status", "to_status", "at"} for h in seen["history"])
    assert "VIP" not in str(seen) and "api_key" not in str(seen)
    # The merchant's view is unchanged.
    merchant_view = ok(await http.get(f"/v1/orders/{order['id']}", headers=shop.headers))
    assert merchant_view["note"] == "VIP, call before delivery"
    assert "history" not in merchant_view and merchant_view["customer"]["id"]


async def test_a_buyer_token_opens_only_its_own_order_and_nothing_else(
        http: httpx.AsyncClient, shop: Merchant) -> None:
    mine = await manual_order(http, shop)
    theirs = await manual_order(http, shop, phone="+63 917 555 0188")
    error_of(await http.get(f"/v1/orders/{theirs['id']}", headers=buyer(mine)),
             404, "not_found")
    for path in ("/v1/orders", f"/v1/orders/{mine['id']}/history", "/v1/inventory"):
        assert (await http.get(path, headers=buyer(mine))).status_code == 401
    error_of(await http.put(f"/v1/orders/{mine['id']}", headers=buyer(mine),
                            json={"note": "x"}), 401, "unauthorized")
    error_of(await http.get(f"/v1/orders/{mine['id']}",
                            headers={"Authorization": "Bearer oat_forged"}), 404, "not_found")
    error_of(await http.get(f"/v1/orders/{mine['id']}"), 401, "unauthorized")
