"""Tenancy over HTTP: a business never sees, reads or changes another business's rows.

Business A builds a small world with names found nowhere else (``A-ONLY``, ``Alice Aonly``,
``a-only-channel``...). Business B then uses A's ids and SKUs on every endpoint that takes one
(each answer must be 404 ``not_found``, and A's world must be exactly as before) and reads every
list endpoint (no answer may contain any of A's names or ids).

The two businesses are built once per database for this module, with a snapshot of everything
A owns taken right after. Every test here only reads A's world, or tries to change it as B and
then compares A's world with that snapshot. Building it once keeps these many small tests fast.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from orderline.core.runtime import Runtime
from orderline.manual_payments.files.configured import PROOF_STORAGE
from tests.conftest import Merchant, new_merchant
from tests.e2e.conftest import (
    add_product,
    api_client,
    balanced,
    error_of,
    levels,
    movements,
    ok,
    pay,
    place_order,
)
from tests.support.manual import master_keys, sealed_storage
from tests.support.proof_samples import image_bytes


@dataclass
class World:
    """Business A, what it owns (as ids and distinctive names), and business B."""

    a: Merchant
    b: Merchant
    order: dict[str, Any]
    paid_order: dict[str, Any]
    product: dict[str, Any]
    second_key: dict[str, Any]
    webhook: dict[str, Any]
    manual_order: dict[str, Any]
    proof: dict[str, Any]
    baseline: dict[str, Any] = field(default_factory=dict)

    @property
    def ids(self) -> dict[str, str]:
        return {"order": self.order["id"], "paid_order": self.paid_order["id"],
                "product": self.product["id"], "customer": self.order["customer"]["id"],
                "key": self.second_key["id"], "sku": "A-ONLY", "webhook": self.webhook["id"],
                "manual_order": self.manual_order["id"], "proof": self.proof["id"]}

    @property
    def markers(self) -> list[str]:
        """Strings that appear only in A's data; none may show up in B's answers."""
        return [*self.ids.values(), "Alice Aonly", "+1 555 0001", "a-only-channel",
                "a-only-store", "a-only-key", "a-only-note", self.second_key["prefix"],
                "a-only-hook", "A-only account", "A-ONLY-ACCT",
                self.manual_order["manual_payment"]["reference"]]


async def _build_world(client: httpx.AsyncClient, a: Merchant, b: Merchant) -> World:
    product = await add_product(client, a, "A-ONLY", 10, price=700)
    await add_product(client, a, "MUG", 5)
    ok(await client.post("/v1/channels", headers=a.headers, json={"code": "a-only-channel"}), 201)
    ok(await client.post("/v1/locations", headers=a.headers,
                         json={"code": "a-only-store", "name": "A store"}), 201)
    ok(await client.post("/v1/inventory/adjustments", headers=a.headers,
                         json={"sku": "A-ONLY", "delta": 2, "reason": "receipt",
                               "location": "a-only-store", "note": "a-only-note"}))
    key = ok(await client.post("/v1/api-keys", headers=a.headers,
                               json={"name": "a-only-key", "scopes": ["read"]}), 201)
    order = await place_order(client, a, ("A-ONLY", 2), ("MUG", 1), name="Alice Aonly",
                              phone="+1 555 0001", channel="a-only-channel")
    paid = await pay(client, a, await place_order(client, a, ("A-ONLY", 1), name="Alice Aonly",
                                                  phone="+1 555 0001"))
    # A webhook that never receives anything (it wants only its own disabling, which it
    # never gets), on a local address, so sending it can never reach out of this machine.
    ok(await client.patch("/v1/business", headers=a.headers, json={"development_mode": True}))
    webhook = ok(await client.post("/v1/webhooks", headers=a.headers, json={
        "url": "http://127.0.0.1:9/a-only-hook", "event_types": ["webhook_endpoint.disabled"]}),
        201)
    # A manual payment: a method, a setting, an order paid by it and its proof in the queue.
    ok(await client.post("/v1/payment-methods", headers=a.headers, json={
        "code": "a_only_bank", "name": "A-only bank", "kind": "bank_transfer",
        "account_name": "A-only account", "account_number": "A-ONLY-ACCT",
        "bank_name": "A Bank"}), 201)
    ok(await client.patch("/v1/business/manual-payments", headers=a.headers,
                          json={"proof_deadline_minutes": 120}))
    manual = ok(await client.post("/v1/orders", headers=a.headers, json={
        "customer": {"name": "Alice Aonly", "phone": "+1 555 0001"}, "channel": "web",
        "payment_method": "a_only_bank", "lines": [{"sku": "MUG", "quantity": 1}]}), 201)
    proof = ok(await client.put(f"/v1/orders/{manual['id']}/payment-proof",
                                headers={"Authorization": f"Bearer {manual['access_token']}"},
                                content=image_bytes("PNG")), 201)
    await add_product(client, b, "MUG", 9)  # B's own MUG: same SKU, separate stock
    await place_order(client, b, ("MUG", 1), name="Bob Bonly", phone="+1 555 0002")
    return World(a=a, b=b, order=order, paid_order=paid, product=product, second_key=key,
                 webhook=webhook, manual_order=manual, proof=proof)


async def _snapshot(client: httpx.AsyncClient, world: World) -> dict[str, Any]:
    """Everything B might have touched, as A reads it (and B's own MUG)."""
    reads = {
        "order": f"/v1/orders/{world.order['id']}",
        "order_history": f"/v1/orders/{world.order['id']}/history",
        "paid_order": f"/v1/orders/{world.paid_order['id']}",
        "product": f"/v1/products/{world.product['id']}",
        "stock": "/v1/inventory/A-ONLY",
        "mug": "/v1/inventory/MUG",
        "movements": "/v1/inventory/movements",
        "customer": f"/v1/customers/{world.order['customer']['id']}",
        "keys": "/v1/api-keys",
        "webhooks": "/v1/webhooks",
        "manual_order": f"/v1/orders/{world.manual_order['id']}",
        "instructions": f"/v1/orders/{world.manual_order['id']}/payment-instructions",
        "proof": f"/v1/verifications/{world.proof['id']}",
        "methods": "/v1/payment-methods",
    }
    answers = await asyncio.gather(
        *(client.get(path, headers=world.a.headers) for path in reads.values()),
        client.get("/v1/orders", headers={"Authorization": f"Bearer {world.second_key['key']}"}),
        levels(client, world.b, "MUG"))
    *read, key_works, b_mug = answers
    snapshot = {name: ok(answer) for name, answer in zip(reads, read, strict=True)}
    snapshot["proof"].pop("age_seconds")  # the clock's, not B's doing
    for key in snapshot["keys"]["data"]:
        key.pop("last_used_at")  # moved by these very reads, not by B
    snapshot["second_key_status"] = key_works.status_code
    snapshot["b_mug"] = b_mug
    return snapshot


@pytest.fixture(scope="module")
async def world(module_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> World:
    module_runtime.put(PROOF_STORAGE, sealed_storage(tmp_path_factory.mktemp("proofs"),
                                                  master_keys("k1")))
    a = await new_merchant(module_runtime, name="A shop")
    b = await new_merchant(module_runtime, name="B shop")
    async with api_client(module_runtime) as client:
        built = await _build_world(client, a, b)
        built.baseline = await _snapshot(client, built)
    assert (built.baseline["second_key_status"], built.baseline["b_mug"]) == (200, (9, 1, 8))
    return built


SHIPPING = {"carrier": "DHL", "tracking_number": "STOLEN"}
TARGETED: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "get_order": ("GET", "/v1/orders/{order}", None),
    "edit_order": ("PUT", "/v1/orders/{order}",
                   {"note": "hijacked", "lines": [{"sku": "MUG", "quantity": 1}]}),
    "cancel_order": ("DELETE", "/v1/orders/{order}", None),
    "cancel_paid_order": ("DELETE", "/v1/orders/{paid_order}", None),
    "order_history": ("GET", "/v1/orders/{order}/history", None),
    "change_status": ("PATCH", "/v1/orders/{paid_order}/status", {"status": "processing"}),
    "confirm_payment": ("PATCH", "/v1/orders/{order}/payment", {}),
    "set_shipping": ("PATCH", "/v1/orders/{paid_order}/shipping", SHIPPING),
    "get_product": ("GET", "/v1/products/{product}", None),
    "add_variants": ("POST", "/v1/products/{product}/variants",
                     {"variants": [{"sku": "INTRUDER", "name": "Intruder", "price": 1}]}),
    "update_variant": ("PATCH", "/v1/variants/{sku}", {"price": 1, "name": "Cheap"}),
    "update_product": ("PATCH", "/v1/products/{product}", {"name": "Hijacked"}),
    "archive_product": ("POST", "/v1/products/{product}/archive", None),
    "unarchive_product": ("POST", "/v1/products/{product}/unarchive", None),
    "archive_variant": ("POST", "/v1/variants/{sku}/archive", None),
    "unarchive_variant": ("POST", "/v1/variants/{sku}/unarchive", None),
    "sku_movements": ("GET", "/v1/inventory/movements?sku={sku}", None),
    "sku_movements_export": ("GET", "/v1/exports/stock-movements.csv?sku={sku}", None),
    "customer_orders": ("GET", "/v1/customers/{customer}/orders", None),
    "stock_of": ("GET", "/v1/inventory/{sku}", None),
    "adjust_stock": ("POST", "/v1/inventory/adjustments",
                     {"sku": "{sku}", "delta": -5, "reason": "damage"}),
    "stock_take": ("POST", "/v1/inventory/adjustments",
                   {"sku": "{sku}", "set_on_hand": 0, "reason": "correction"}),
    "get_customer": ("GET", "/v1/customers/{customer}", None),
    "export_personal_data": ("GET", "/v1/customers/{customer}/personal-data", None),
    "erase_personal_data": ("DELETE", "/v1/customers/{customer}/personal-data", None),
    "payment_instructions": ("GET", "/v1/orders/{order}/payment-instructions", None),
    "upload_payment_proof": ("PUT", "/v1/orders/{order}/payment-proof", {}),
    "list_payment_proofs": ("GET", "/v1/orders/{manual_order}/payment-proofs", None),
    "manual_instructions": ("GET", "/v1/orders/{manual_order}/payment-instructions", None),
    "upload_manual_proof": ("PUT", "/v1/orders/{manual_order}/payment-proof", {}),
    "proof_file": ("GET", "/v1/orders/{manual_order}/payment-proofs/{proof}/file", None),
    "get_verification": ("GET", "/v1/verifications/{proof}", None),
    "verification_file": ("GET", "/v1/verifications/{proof}/file", None),
    "approve_proof": ("POST", "/v1/verifications/{proof}/approve", None),
    "reject_proof": ("POST", "/v1/verifications/{proof}/reject", {"reason": "stolen"}),
    "revoke_api_key": ("DELETE", "/v1/api-keys/{key}", None),
    "get_webhook": ("GET", "/v1/webhooks/{webhook}", None),
    "delete_webhook": ("DELETE", "/v1/webhooks/{webhook}", None),
    "enable_webhook": ("POST", "/v1/webhooks/{webhook}/enable", None),
    "rotate_webhook_secret": ("POST", "/v1/webhooks/{webhook}/rotate-secret",
                              {"overlap_seconds": 0}),
    "webhook_deliveries": ("GET", "/v1/webhooks/{webhook}/deliveries", None),
    "replay_delivery": ("POST", "/v1/webhooks/{webhook}/deliveries/{order}/replay", None),
}


@pytest.mark.parametrize("case", list(TARGETED))
async def test_another_business_using_an_id_or_sku_gets_404_and_changes_nothing(
        client: httpx.AsyncClient, world: World, case: str) -> None:
    method, path, body = TARGETED[case]
    json_body = ({k: v.format(**world.ids) if isinstance(v, str) else v
                  for k, v in body.items()} if body is not None else None)
    response = await client.request(method, path.format(**world.ids), headers=world.b.headers,
                                    json=json_body)
    details = error_of(response, 404, "not_found")
    assert details["id"] in world.ids.values()
    assert await _snapshot(client, world) == world.baseline


async def test_another_business_cannot_order_a_sku_channel_or_location_it_does_not_have(
        client: httpx.AsyncClient, world: World) -> None:
    rival = world.b
    details = error_of(await client.post("/v1/orders", headers=rival.headers, json={
        "customer": {"name": "Bob", "phone": "+1 555 0002"}, "channel": "web",
        "payment_method": "card", "lines": [{"sku": "A-ONLY", "quantity": 1}]}),
        422, "unknown_sku")
    assert details == {"unknown_skus": ["A-ONLY"]}
    error_of(await client.post("/v1/orders", headers=rival.headers, json={
        "customer": {"name": "Bob", "phone": "+1 555 0002"}, "channel": "a-only-channel",
        "payment_method": "card", "lines": [{"sku": "MUG", "quantity": 1}]}),
        422, "unknown_channel")
    error_of(await client.post("/v1/orders", headers=rival.headers, json={
        "customer": {"name": "Bob", "phone": "+1 555 0002"}, "location": "a-only-store",
        "payment_method": "card", "lines": [{"sku": "MUG", "quantity": 1}]}),
        404, "not_found")
    error_of(await client.post("/v1/inventory/adjustments", headers=rival.headers,
                               json={"sku": "MUG", "delta": 1, "reason": "receipt",
                                     "location": "a-only-store"}), 404, "not_found")
    assert await _snapshot(client, world) == world.baseline


LISTS = ["/v1/orders", "/v1/orders?customer_id={customer}", "/v1/orders?channel=a-only-channel",
         "/v1/orders/stats", "/v1/products", "/v1/products?include_archived=true&q=mug",
         "/v1/inventory", "/v1/inventory?include_archived=true&low_stock=false&location=main",
         "/v1/inventory/movements",
         "/v1/customers", "/v1/customers?phone=%2B1 555 0001", "/v1/customers?q=555",
         "/v1/channels",
         "/v1/locations", "/v1/api-keys", "/v1/webhooks", "/v1/payment-methods",
         "/v1/verifications?status=all", "/v1/business/manual-payments"]


@pytest.mark.parametrize("path", LISTS)
async def test_list_endpoints_never_show_another_business_rows(
        client: httpx.AsyncClient, world: World, path: str) -> None:
    url = path.format(**world.ids)
    theirs = await client.get(url, headers=world.b.headers)
    assert theirs.status_code == 200, theirs.text
    leaked = [m for m in world.markers if m in theirs.text]
    assert leaked == []
    mine = await client.get(url, headers=world.a.headers)
    assert mine.status_code == 200, mine.text
    assert theirs.json() != mine.json()  # A's answer is A's own: the check above is not vacuous


EXPORTS = ["/v1/exports/orders.csv", "/v1/exports/orders.csv?customer_id={customer}",
           "/v1/exports/order-lines.csv", "/v1/exports/customers.csv",
           "/v1/exports/customers.csv?q=555", "/v1/exports/stock-movements.csv"]
# (The money ledger's export has a card-paid business of its own in test_api_csv.py: A's
# orders here are paid by hand, which books no ledger entry.)


@pytest.mark.parametrize("path", EXPORTS)
async def test_exports_never_show_another_business_rows(
        client: httpx.AsyncClient, world: World, path: str) -> None:
    url = path.format(**world.ids)
    theirs = await client.get(url, headers=world.b.headers)
    assert theirs.status_code == 200, theirs.text
    assert [m for m in world.markers if m in theirs.text] == []
    mine = await client.get(url, headers=world.a.headers)
    assert mine.status_code == 200, mine.text
    assert len(mine.text.splitlines()) > 1  # A's rows are there: the check is not vacuous


async def test_another_business_cannot_import_stock_or_variants_of_skus_it_does_not_have(
        client: httpx.AsyncClient, world: World) -> None:
    details = error_of(await client.post("/v1/imports/stock", headers=world.b.headers,
                                         content=b"sku,on_hand,location\r\nA-ONLY,99,\r\n"
                                                 b"MUG,9,a-only-store\r\n"),
                       422, "import_rejected")
    assert [r["reason"] for r in details["rows"]] == ["unknown_sku", "unknown_location"]
    details = error_of(await client.post("/v1/imports/variants", headers=world.b.headers,
                                         content=b"sku,price_minor\r\nA-ONLY,1\r\n"),
                       422, "import_rejected")
    assert [r["reason"] for r in details["rows"]] == ["needed_for_new_sku"] * 2
    assert await _snapshot(client, world) == world.baseline


async def test_each_business_sees_only_its_own_rows_in_lists_and_figures(
        client: httpx.AsyncClient, world: World) -> None:
    merchant, rival = world.a, world.b
    theirs = ok(await client.get("/v1/orders", headers=rival.headers))["data"]
    assert [(o["number"], o["customer"]["name"]) for o in theirs] == [("OL-000001", "Bob Bonly")]
    mine = ok(await client.get("/v1/orders", headers=merchant.headers))["data"]
    assert sorted(o["id"] for o in mine) == sorted([world.order["id"], world.paid_order["id"],
                                                    world.manual_order["id"]])
    stats = ok(await client.get("/v1/orders/stats", headers=rival.headers))
    assert (stats["orders"], stats["paid_orders"], stats["revenue"]) == (1, 0, 0)
    assert stats["by_channel"] == {"web": {"orders": 1, "revenue": 0}}
    assert ok(await client.get("/v1/orders/stats", headers=merchant.headers))["revenue"] == 700
    stock = ok(await client.get("/v1/inventory", headers=rival.headers))["data"]
    assert [(s["sku"], s["on_hand"], s["reserved"]) for s in stock] == [("MUG", 9, 1)]
    products = ok(await client.get("/v1/products", headers=rival.headers))["data"]
    assert [v["sku"] for p in products for v in p["variants"]] == ["MUG"]
    customers = ok(await client.get("/v1/customers", headers=rival.headers))["data"]
    assert [c["name"] for c in customers] == ["Bob Bonly"]
    keys = ok(await client.get("/v1/api-keys", headers=rival.headers))["data"]
    assert [k["name"] for k in keys] == ["owner"]
    locations = ok(await client.get("/v1/locations", headers=rival.headers))["data"]
    assert [loc["code"] for loc in locations] == ["main"]
    channels = ok(await client.get("/v1/channels", headers=rival.headers))["data"]
    assert sorted(c["code"] for c in channels) == ["api", "instagram", "pos", "web", "whatsapp"]
    assert [m["delta"] for m in await movements(client, rival)] == [9]


async def test_the_same_sku_in_two_businesses_has_separate_stock_price_and_orders(
        client: httpx.AsyncClient, merchant: Merchant, rival: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5, price=1000)
    await add_product(client, rival, "MUG", 9, price=2000)
    mine = await pay(client, merchant, await place_order(client, merchant, ("MUG", 2)))
    theirs = await place_order(client, rival, ("MUG", 4))
    assert (mine["total"], theirs["total"]) == (2000, 8000)
    assert await levels(client, merchant, "MUG") == (3, 0, 3)
    assert await levels(client, rival, "MUG") == (9, 4, 5)
    ok(await client.patch("/v1/variants/MUG", headers=rival.headers, json={"price": 50}))
    ok(await client.post("/v1/inventory/adjustments", headers=rival.headers,
                         json={"sku": "MUG", "set_on_hand": 4, "reason": "correction"}))
    assert await levels(client, rival, "MUG") == (4, 4, 0)
    assert await levels(client, merchant, "MUG") == (3, 0, 3)
    product = ok(await client.get("/v1/products", headers=merchant.headers))["data"][0]
    assert product["variants"][0]["price_minor"] == 1000
    again = await place_order(client, merchant, ("MUG", 1))
    assert again["total"] == 1000
    assert [m["reason"] for m in await movements(client, merchant, "MUG")] == ["sale", "receipt"]
    assert await balanced(client, merchant) and await balanced(client, rival)
