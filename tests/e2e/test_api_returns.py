"""Returns (RMA) over HTTP, on both databases: asked for by the merchant or the buyer,
approved, received (restocked or written off), refunded by hand or through the card provider,
with the restocking fee; the refusals; photos; tenancy."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from orderline.core.db.tables import table_of
from orderline.core.runtime import Runtime
from orderline.events.tables import OutboxEvent
from orderline.manual_payments.files.configured import PROOF_STORAGE
from orderline.notifications import store as notification_store
from orderline.payments.providers.sandbox import SandboxGateway
from orderline.payments.reconcile import reconcile_payments
from orderline.worker.handlers import default_relay
from tests.conftest import Merchant, new_merchant
from tests.e2e.conftest import (
    add_product,
    balanced,
    error_of,
    levels,
    movements,
    ok,
    pay,
    place_order,
    ship,
)
from tests.e2e.test_api_scopes import key_with
from tests.support.manual import master_keys, sealed_storage
from tests.support.proof_samples import image_bytes

outbox = table_of(OutboxEvent)
SECRET = "whsec_e2e_returns"


async def _shipped(client: httpx.AsyncClient, m: Merchant) -> dict[str, Any]:
    await add_product(client, m, "MUG", 10)
    await add_product(client, m, "CAP", 10)
    placed = await place_order(client, m, ("MUG", 3), ("CAP", 1))
    shipped = await ship(client, m, await pay(client, m, placed))
    return {**shipped, "access_token": placed["access_token"]}


def _url(order: dict[str, Any], *rest: str) -> str:
    return "/".join([f"/v1/orders/{order['id']}/returns", *rest])


def _ask(*lines: tuple[str, int], reason: str = "damaged", note: str | None = None
         ) -> dict[str, Any]:
    return {"lines": [{"sku": s, "quantity": q} for s, q in lines], "reason": reason,
            "note": note}


async def _types(runtime: Runtime, m: Merchant, prefix: str) -> list[str]:
    async with runtime.db.read() as conn:
        types = (await conn.execute(
            select(outbox.c.type).where(outbox.c.business_id == m.principal.business_id)
            .order_by(outbox.c.id))).scalars().all()
    return [t for t in types if t.startswith(prefix)]


async def _ledger(client: httpx.AsyncClient, m: Merchant,
                  order: dict[str, Any]) -> dict[str, Any]:
    seen: dict[str, Any] = ok(await client.get(f"/v1/orders/{order['id']}/payments",
                                               headers=m.headers))
    return seen


async def _settings(client: httpx.AsyncClient, m: Merchant, **values: int) -> None:
    ok(await client.patch("/v1/business", headers=m.headers, json=values))


async def test_a_merchant_return_is_approved_restocked_and_refunded_by_hand_less_the_fee(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    order = await _shipped(client, m)
    await _settings(client, m, restocking_fee_bp=1000, restocking_fee_fixed=50)
    assert await levels(client, m, "MUG") == (7, 0, 7)

    asked = ok(await client.post(_url(order), headers=m.headers,
                                 json=_ask(("MUG", 2), note="cracked")), 201)
    assert (asked["status"], asked["requested_by"], asked["code"]) == (
        "requested", "staff", f"{order['number']}-R1")
    assert asked["lines"] == [{"sku": "MUG", "quantity": 2, "condition": None,
                               "location": None}]
    # Three MUGs shipped, two are in this return: two more cannot be asked for.
    error_of(await client.post(_url(order), headers=m.headers, json=_ask(("MUG", 2))),
             409, "return_exceeds_shipped")
    # Not yet received: nothing to refund.
    error_of(await client.post(_url(order, asked["id"], "refund"), headers=m.headers),
             409, "invalid_transition")

    ok(await client.post(_url(order, asked["id"], "approve"), headers=m.headers))
    received = ok(await client.post(_url(order, asked["id"], "receive"), headers=m.headers,
                                    json={"lines": [{"sku": "MUG", "condition": "restock",
                                                     "location": "main"}]}))
    assert received["status"] == "received"
    assert received["lines"][0]["condition"] == "restock"
    assert await levels(client, m, "MUG") == (9, 0, 9)
    assert await balanced(client, m)
    assert (await movements(client, m, "MUG"))[0]["reason"] == "return"

    preview = ok(await client.get(_url(order, asked["id"], "refund"), headers=m.headers))
    # Two of three MUGs at 1000 each: 2000; fee 10% + 50 = 250.
    assert (preview["value"], preview["restocking_fee"], preview["refund_amount"]) == (
        2000, 250, 1750)
    refunded = ok(await client.post(_url(order, asked["id"], "refund"), headers=m.headers))
    assert (refunded["status"], refunded["refund_amount"], refunded["restocking_fee"]) == (
        "refunded", 1750, 250)
    assert refunded["refund_method"] in ("by_hand", "none")
    error_of(await client.post(_url(order, asked["id"], "refund"), headers=m.headers),
             409, "invalid_transition")
    # The two MUGs count as refunded: a refund of the same units by lines is refused.
    error_of(await client.post(f"/v1/orders/{order['id']}/refunds", headers=m.headers,
                               json={"lines": [{"sku": "MUG", "quantity": 2}]}),
             409, "refund_exceeds_captured")
    seen = ok(await client.get(f"/v1/orders/{order['id']}", headers=m.headers))
    mug = next(x for x in seen["lines"] if x["sku"] == "MUG")
    assert mug["refunded_quantity"] == 2
    assert await _types(runtime, m, "return.") == [
        "return.requested", "return.approved", "return.received", "return.refunded"]
    # The buyer hears of the approval and the refund (not of the request they made, nor of
    # the receipt), through the relay's handlers as every order message.
    await default_relay(runtime).relay_until_idle()
    async with runtime.db.read() as conn:
        told = [r["kind"] for r in await notification_store.of_business(
            conn, m.principal.business_id, order_id=uuid.UUID(order["id"]))]
    assert told.count("buyer:return.approved") == 1
    assert told.count("buyer:return.refunded") == 1
    assert not {"buyer:return.requested", "buyer:return.received"} & set(told)
    history = ok(await client.get(f"/v1/orders/{order['id']}/history", headers=m.headers))
    actions = [e["action"] for e in history]
    for action in ("return_requested", "return_approved", "return_received",
                   "return_refunded"):
        assert action in actions


async def test_a_card_paid_return_is_refunded_through_the_provider_and_booked(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway) -> None:
    m = await new_merchant(runtime)
    await add_product(client, m, "MUG", 10)
    order = await place_order(client, m, ("MUG", 3))
    intent = ok(await client.post(f"/v1/orders/{order['id']}/payments", headers=m.headers,
                                  json={"provider": "sandbox",
                                        "payment_method": "pm_card_visa"}), 201)
    await sandbox.wait_for_deliveries()
    await ship(client, m, order)
    asked = ok(await client.post(_url(order), headers=m.headers, json=_ask(("MUG", 1))), 201)
    ok(await client.post(_url(order, asked["id"], "approve"), headers=m.headers))
    ok(await client.post(_url(order, asked["id"], "receive"), headers=m.headers,
                         json={"lines": [{"sku": "MUG", "condition": "damaged"}]}))
    # Written off: a return/damage pair, on_hand as it was.
    assert await levels(client, m, "MUG") == (7, 0, 7)
    assert sorted(r["reason"] for r in (await movements(client, m, "MUG"))[:2]) == [
        "damage", "return"]
    assert await balanced(client, m)
    done = ok(await client.post(_url(order, asked["id"], "refund"), headers=m.headers))
    assert (done["status"], done["refund_method"], done["refund_amount"]) == (
        "refunded", "card", 1000)
    await sandbox.wait_for_deliveries()
    ledger = await _ledger(client, m, order)
    refunds = [e["amount"] for e in ledger["ledger"] if e["kind"] == "refund"]
    assert refunds == [1000]
    assert ledger["data"][0]["amount_refunded"] == 1000
    assert intent["amount_captured"] == order["total"]


async def test_a_return_of_an_order_refunded_already_gives_back_only_what_is_left(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway) -> None:
    # Found by the property test: the whole card payment was refunded by amount, then a
    # return of one unit was "refunded by hand" again, as if paid outside the ledger.
    m = await new_merchant(runtime)
    await add_product(client, m, "MUG", 10)
    order = await place_order(client, m, ("MUG", 3))
    ok(await client.post(f"/v1/orders/{order['id']}/payments", headers=m.headers,
                         json={"provider": "sandbox", "payment_method": "pm_card_visa"}), 201)
    await sandbox.wait_for_deliveries()
    await ship(client, m, order)
    ok(await client.post(f"/v1/orders/{order['id']}/refunds", headers=m.headers,
                         json={"amount": order["total"] - 400, "reason": "goodwill"}), 201)
    await sandbox.wait_for_deliveries()
    asked = ok(await client.post(_url(order), headers=m.headers, json=_ask(("MUG", 1))), 201)
    ok(await client.post(_url(order, asked["id"], "approve"), headers=m.headers))
    ok(await client.post(_url(order, asked["id"], "receive"), headers=m.headers,
                         json={"lines": [{"sku": "MUG", "condition": "restock"}]}))
    done = ok(await client.post(_url(order, asked["id"], "refund"), headers=m.headers))
    # A unit is worth 1000, but the card holds 400 more: that is what goes back.
    assert (done["status"], done["refund_method"], done["refund_amount"]) == (
        "refunded", "card", 400)
    await sandbox.wait_for_deliveries()
    ledger = await _ledger(client, m, order)
    assert ledger["data"][0]["amount_refunded"] == order["total"]
    asked = ok(await client.post(_url(order), headers=m.headers, json=_ask(("MUG", 1))), 201)
    ok(await client.post(_url(order, asked["id"], "approve"), headers=m.headers))
    ok(await client.post(_url(order, asked["id"], "receive"), headers=m.headers,
                         json={"lines": [{"sku": "MUG", "condition": "restock"}]}))
    done = ok(await client.post(_url(order, asked["id"], "refund"), headers=m.headers))
    assert (done["refund_method"], done["refund_amount"]) == ("none", 0)
    assert sum(e["amount"] for e in (await _ledger(client, m, order))["ledger"]
               if e["kind"] == "refund") == order["total"]


async def test_a_return_of_every_shipped_unit_once_refunded_makes_the_order_returned(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway) -> None:
    m = await new_merchant(runtime)
    await add_product(client, m, "MUG", 10)
    order = await place_order(client, m, ("MUG", 3))
    ok(await client.post(f"/v1/orders/{order['id']}/payments", headers=m.headers,
                         json={"provider": "sandbox", "payment_method": "pm_card_visa"}), 201)
    await sandbox.wait_for_deliveries()
    await ship(client, m, order)
    ok(await client.patch(f"/v1/orders/{order['id']}/status", headers=m.headers,
                          json={"status": "delivered"}))

    async def back(units: int) -> dict[str, Any]:
        asked = ok(await client.post(_url(order), headers=m.headers, json=_ask(("MUG", units))),
                   201)
        ok(await client.post(_url(order, asked["id"], "approve"), headers=m.headers))
        ok(await client.post(_url(order, asked["id"], "receive"), headers=m.headers,
                             json={"lines": [{"sku": "MUG", "condition": "restock"}]}))
        done: dict[str, Any] = ok(await client.post(_url(order, asked["id"], "refund"),
                                                    headers=m.headers))
        return done

    # A cancelled return is announced like every other step.
    asked = ok(await client.post(_url(order), headers=m.headers, json=_ask(("MUG", 1))), 201)
    gone = ok(await client.post(_url(order, asked["id"], "cancel"), headers=m.headers))
    assert gone["status"] == "cancelled"
    assert await _types(runtime, m, "return.") == ["return.requested", "return.cancelled"]
    async with runtime.db.read() as conn:
        (payload,) = (await conn.execute(select(outbox.c.payload).where(
            outbox.c.business_id == m.principal.business_id,
            outbox.c.type == "return.cancelled"))).scalars().all()
    assert payload["return"]["id"] == asked["id"]

    # One of three units back: the order is still delivered.
    assert (await back(1))["status"] == "refunded"
    seen = ok(await client.get(f"/v1/orders/{order['id']}", headers=m.headers))
    assert seen["status"] == "delivered"
    # The last two back and refunded: every unit that shipped came back, nothing is held.
    assert (await back(2))["status"] == "refunded"
    seen = ok(await client.get(f"/v1/orders/{order['id']}", headers=m.headers))
    assert seen["status"] == "returned"
    assert [r["refund_amount"] for r in ok(await client.get(
        _url(order), headers=m.headers))["data"] if r["status"] == "refunded"] == [1000, 2000]
    ledger = await _ledger(client, m, order)
    assert ledger["data"][0]["amount_refunded"] == ledger["data"][0]["amount_captured"]
    assert (await _types(runtime, m, "order.returned")) == ["order.returned"]
    assert await reconcile_payments(runtime, m.principal.business_id) == []


async def test_the_buyer_asks_within_the_window_and_never_outside_it(
        client: httpx.AsyncClient, runtime: Runtime, tmp_path: Path) -> None:
    runtime.put(PROOF_STORAGE, sealed_storage(tmp_path / "proofs", master_keys("k1")))
    m = await new_merchant(runtime)
    order = await _shipped(client, m)
    buyer = {"Authorization": f"Bearer {order['access_token']}"}
    # Returns off for buyers (window 0): refused; the merchant may still ask.
    error_of(await client.post(_url(order), headers=buyer, json=_ask(("CAP", 1))),
             409, "return_window_closed")
    await _settings(client, m, return_window_days=30)
    options = ok(await client.get(f"/v1/orders/{order['id']}/return-options", headers=buyer))
    assert options["buyer_may_ask"] is True and options["units"] == {"MUG": 3, "CAP": 1}
    asked = ok(await client.post(_url(order), headers=buyer,
                                 json=_ask(("CAP", 1), reason="wrong_item")), 201)
    assert asked["requested_by"] == "buyer" and asked.get("actor") is None
    photo = ok(await client.post(_url(order, asked["id"], "photos"), headers={
        **buyer, "Content-Type": "image/png"}, content=image_bytes("PNG")), 201)
    assert photo["media_type"] == "image/png"
    seen = await client.get(_url(order, asked["id"], "photos", str(photo["id"])),
                            headers=m.headers)
    assert seen.status_code == 200 and seen.content.startswith(b"\x89PNG")
    # The buyer cannot decide; another business cannot see it.
    assert (await client.post(_url(order, asked["id"], "approve"),
                              headers=buyer)).status_code in (401, 403)
    rival = await new_merchant(runtime, name="Rival")
    assert (await client.get(_url(order), headers=rival.headers)).status_code == 404
    assert (await client.get(_url(order, asked["id"], "photos", str(photo["id"])),
                             headers=rival.headers)).status_code == 404
    assert (await client.post(_url(order, asked["id"], "approve"),
                              headers=rival.headers)).status_code == 404
    rejected = ok(await client.post(_url(order, asked["id"], "reject"), headers=m.headers,
                                    json={"reason": "worn"}))
    assert rejected["status"] == "rejected"
    # A rejected return frees its units.
    ok(await client.post(_url(order), headers=buyer, json=_ask(("CAP", 1))), 201)
    listed = ok(await client.get(_url(order), headers=buyer))["data"]
    assert [r["status"] for r in listed] == ["rejected", "requested"]


async def test_an_unshipped_order_has_nothing_to_return_and_settings_are_bounded(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await add_product(client, m, "MUG", 10)
    order = await pay(client, m, await place_order(client, m, ("MUG", 1)))
    error_of(await client.post(_url(order), headers=m.headers, json=_ask(("MUG", 1))),
             409, "return_exceeds_shipped")
    error_of(await client.patch("/v1/business", headers=m.headers,
                                json={"restocking_fee_bp": 10_001}), 422, "validation_error")
    error_of(await client.patch("/v1/business", headers=m.headers,
                                json={"return_window_days": -1}), 422, "validation_error")


async def test_units_a_return_restocked_are_not_restocked_again_by_a_refund_of_the_line(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway) -> None:
    m = await new_merchant(runtime)
    await add_product(client, m, "MUG", 10)
    order = await place_order(client, m, ("MUG", 3))
    ok(await client.post(f"/v1/orders/{order['id']}/payments", headers=m.headers,
                         json={"provider": "sandbox", "payment_method": "pm_card_visa"}), 201)
    await sandbox.wait_for_deliveries()
    await ship(client, m, order)
    asked = ok(await client.post(_url(order), headers=m.headers, json=_ask(("MUG", 2))), 201)
    ok(await client.post(_url(order, asked["id"], "approve"), headers=m.headers))
    ok(await client.post(_url(order, asked["id"], "receive"), headers=m.headers,
                         json={"lines": [{"sku": "MUG", "condition": "restock"}]}))
    assert await levels(client, m, "MUG") == (9, 0, 9)
    # A refund of all three MUGs, restocking them: only the one not returned goes back.
    ok(await client.post(f"/v1/orders/{order['id']}/refunds", headers=m.headers,
                         json={"lines": [{"sku": "MUG", "quantity": 3}], "restock": True}), 201)
    await sandbox.wait_for_deliveries()
    assert await levels(client, m, "MUG") == (10, 0, 10)
    assert await balanced(client, m)
    # Its units are refunded already: the return cannot refund them again.
    error_of(await client.post(_url(order, asked["id"], "refund"), headers=m.headers),
             409, "refund_exceeds_captured")
    ledger = await _ledger(client, m, order)
    assert [e["amount"] for e in ledger["ledger"] if e["kind"] == "refund"] == [3000]


async def test_a_provider_that_refuses_the_refund_leaves_the_return_received_and_nothing_taken(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway) -> None:
    m = await new_merchant(runtime)
    await add_product(client, m, "MUG", 10)
    order = await place_order(client, m, ("MUG", 2))
    ok(await client.post(f"/v1/orders/{order['id']}/payments", headers=m.headers,
                         json={"provider": "sandbox", "payment_method": "pm_card_visa"}), 201)
    await sandbox.wait_for_deliveries()
    await ship(client, m, order)
    asked = ok(await client.post(_url(order), headers=m.headers, json=_ask(("MUG", 1))), 201)
    ok(await client.post(_url(order, asked["id"], "approve"), headers=m.headers))
    ok(await client.post(_url(order, asked["id"], "receive"), headers=m.headers,
                         json={"lines": [{"sku": "MUG", "condition": "restock"}]}))
    sandbox.behaviour.fail_next_calls = 1
    error_of(await client.post(_url(order, asked["id"], "refund"), headers=m.headers),
             503, "payment_provider_unavailable")
    again = ok(await client.get(_url(order, asked["id"]), headers=m.headers))
    assert (again["status"], again["refund_amount"]) == ("received", None)
    seen = ok(await client.get(f"/v1/orders/{order['id']}", headers=m.headers))
    assert seen["lines"][0]["refunded_quantity"] == 0
    ledger = await _ledger(client, m, order)
    assert ledger["data"][0]["amount_refunded"] == 0
    # Once the provider answers again, the same refund goes through once.
    done = ok(await client.post(_url(order, asked["id"], "refund"), headers=m.headers))
    assert (done["status"], done["refund_amount"]) == ("refunded", 1000)
    await sandbox.wait_for_deliveries()
    ledger = await _ledger(client, m, order)
    assert [e["amount"] for e in ledger["ledger"] if e["kind"] == "refund"] == [1000]
    assert ledger["data"][0]["amount_refunded"] == 1000


async def test_a_read_only_key_reads_returns_but_is_refused_every_change(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    order = await _shipped(client, m)
    asked = ok(await client.post(_url(order), headers=m.headers, json=_ask(("MUG", 1))), 201)
    reader = await key_with(client, m, "read")
    assert [r["id"] for r in ok(await client.get(_url(order), headers=reader))["data"]] == [
        asked["id"]]
    for path, body in ((_url(order), _ask(("MUG", 1))),
                       (_url(order, asked["id"], "approve"), None),
                       (_url(order, asked["id"], "reject"), {"reason": "no"}),
                       (_url(order, asked["id"], "cancel"), None)):
        error_of(await client.post(path, headers=reader, json=body), 403, "forbidden")
    assert ok(await client.get(_url(order, asked["id"]), headers=m.headers))[
        "status"] == "requested"


async def test_a_return_photo_is_a_picture_and_only_while_the_return_is_open(
        client: httpx.AsyncClient, runtime: Runtime, tmp_path: Path) -> None:
    from tests.support.proof_samples import pdf_bytes

    runtime.put(PROOF_STORAGE, sealed_storage(tmp_path / "proofs", master_keys("k1")))
    m = await new_merchant(runtime)
    order = await _shipped(client, m)
    asked = ok(await client.post(_url(order), headers=m.headers, json=_ask(("MUG", 1))), 201)
    photos = _url(order, asked["id"], "photos")
    error_of(await client.post(photos, headers={**m.headers, "Content-Type": "application/pdf"},
                               content=pdf_bytes()), 415, "unsupported_file_type")
    ok(await client.post(_url(order, asked["id"], "reject"), headers=m.headers,
                         json={"reason": "no"}))
    error_of(await client.post(photos, headers={**m.headers, "Content-Type": "image/png"},
                               content=image_bytes("PNG")), 409, "invalid_transition")
    assert ok(await client.get(_url(order, asked["id"]), headers=m.headers))["photos"] == []
