"""The whole way from a chat link to a paid order, as the people involved go through it, in
Chromium against real processes: ``orderline serve`` (the pages and the API) and
``orderline worker`` (which reads and scores the proof with Tesseract), on both databases.

The buyer, on a phone, opens the cart link the shop sent, fills in the address, picks the
e-wallet transfer and places the order; the order page tells them what to send and where; they
upload the receipt (drawn by the test); the worker scores it; a verifier, in another browser
context, opens it from the queue and approves it with the keyboard; and the buyer's page, still
open, turns paid without a reload.

Nothing here asserts what Tesseract read or how long a step took: the test waits (capped) for
the proof to be scored, whatever its score, and for each page to show its next state.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from orderline.bench.receipts import draw_receipt
from orderline.core.runtime import Runtime
from tests.support.browser import PHONE, Browsing, browser_fixture  # noqa: F401
from tests.support.console import (
    CONSOLE_SERVER_ENV,
    ConsoleLogin,
    ConsoleShop,
    console_login,
    console_shop,
    log_in_fast,
)
from tests.support.servers import running_server, running_worker

WAIT_MS = 60_000  # a cap on waiting for a condition, never a timing assertion
ACCOUNT = {"template": "gcash", "account_name": "Juan Dela Cruz",
           "account_number": "0917 555 0101"}


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture(name="journey_server", scope="module")
def journey_server_fixture(database_url: str, shared_db: Any) -> Iterator[str]:
    """A server and a worker (scoring proofs every 0.2 s) with the console tests' master
    keys, so proofs are sealed and the test's sessions are read the same way."""
    with running_server(database_url, extra_env=CONSOLE_SERVER_ENV) as base, \
            running_worker(database_url, interval=0.2, extra_env=CONSOLE_SERVER_ENV):
        yield base


@dataclass(frozen=True)
class Desk:
    shop: ConsoleShop
    verifier: ConsoleLogin


@pytest.fixture
async def desk(runtime: Runtime) -> Desk:
    shop = await console_shop(runtime, currency="PHP", name="Toko Batik Ada",
                              roles=("verifier",))
    return Desk(shop=shop, verifier=await console_login(runtime, shop.staff["verifier"]))


def cart_link(server: str, desk: Desk) -> str:
    """What the shop sends in the chat: a cart of one shirt on the WhatsApp channel, for a
    shop that ships within the Philippines and takes GCash."""
    with httpx.Client(base_url=server, headers=desk.shop.api_headers, timeout=30) as api:
        ok(api.post("/v1/products", json={"name": "Batik shirt", "variants": [
            {"sku": "TEE", "name": "Batik shirt L", "price": 125_000, "initial_stock": 5}]}),
           201)
        zone = ok(api.post("/v1/shipping-zones", json={"name": "Philippines",
                                                       "countries": ["PH"]}), 201)
        ok(api.post(f"/v1/shipping-zones/{zone['id']}/methods", json={
            "name": "LBC", "kind": "flat", "price": 15_000}), 201)
        ok(api.post("/v1/payment-methods", json=ACCOUNT), 201)
        cart = ok(api.post("/v1/carts", json={"channel": "whatsapp"}), 201)
        ok(api.post(f"/v1/carts/{cart['id']}/lines", headers={"X-Cart-Token": cart["token"]},
                    json={"sku": "TEE", "quantity": 1}))
    return f"/c/{cart['token']}"


def scored_proof(server: str, desk: Desk) -> dict[str, Any]:
    """The one pending proof, once the worker has scored it (waited for, capped)."""
    deadline = time.monotonic() + WAIT_MS / 1000
    with httpx.Client(base_url=server, headers=desk.shop.api_headers, timeout=30) as api:
        while True:
            waiting = ok(api.get("/v1/verifications", params={"status": "pending"}))["data"]
            if waiting and waiting[0]["score"] is not None:
                assert len(waiting) == 1
                return dict(waiting[0])
            assert time.monotonic() < deadline, f"the worker never scored the proof: {waiting}"
            time.sleep(0.2)


def test_a_chat_link_becomes_a_paid_order_through_a_bank_transfer_proof(
        desk: Desk, journey_server: str, browser: Browsing) -> None:
    from playwright.sync_api import expect

    # 1. The buyer opens the cart link on a phone and checks out with GCash.
    buyer = browser.open(journey_server, viewport=PHONE)
    p = buyer.page
    buyer.goto(cart_link(journey_server, desk))
    expect(p.locator(".line-name")).to_have_text("Batik shirt L")
    p.get_by_label("Full name").fill("Maria Santos")
    p.get_by_label("Phone").fill("+63 917 555 0199")
    p.get_by_label("Street and number").fill("12 Mabini St")
    p.get_by_label("Town or city").fill("Makati")
    p.get_by_label("Country code").fill("PH")
    p.get_by_label("Postal code").fill("1200")
    p.get_by_label("Full name").focus()  # the address is checked as a field is left
    expect(p.get_by_text("We deliver here")).to_be_visible(timeout=WAIT_MS)
    p.locator("#shipping_method_id label", has_text="LBC").locator("input").check()
    p.locator("#payment_method label", has_text="GCash").locator("input").check()
    buyer.screenshot("01-checkout")
    buyer.check_accessibility()
    p.get_by_role("button", name="Continue to review").click()
    place = p.get_by_role("button", name=re.compile(r"^Place order for"))
    expect(place).to_contain_text("1,400.00")  # the shirt and its shipping
    buyer.screenshot("02-review")
    place.click()

    # 2. The order page: what to send, where, and the reference.
    p.wait_for_url(re.compile(r".*/o/oat_[A-Za-z0-9_-]+$"), timeout=WAIT_MS)
    token = p.url.rsplit("/", 1)[1]
    with httpx.Client(base_url=journey_server, timeout=30,
                      headers={"Authorization": f"Bearer {token}"}) as as_buyer:
        [order] = ok(httpx.get(f"{journey_server}/v1/orders",
                               headers=desk.shop.api_headers))["data"]
        instructions = ok(as_buyer.get(f"/v1/orders/{order['id']}/payment-instructions"))
    assert order["status"] == "pending_payment" and order["total"] == 140_000
    reference = instructions["reference"]
    pay = p.locator("#pay")
    expect(pay).to_contain_text(reference)
    expect(pay).to_contain_text("0917 555 0101")
    expect(pay).to_contain_text("1,400.00")
    expect(p.locator(".order-stream[data-live=open]")).to_have_count(1, timeout=WAIT_MS)
    p.evaluate("() => { window.notReloaded = true; }")
    buyer.screenshot("03-instructions")
    buyer.check_accessibility()

    # 3. The buyer uploads the receipt of the transfer.
    receipt = draw_receipt(amount="1,400.00", reference=reference, date="Dec 06, 2026 9:30 AM",
                           recipient=ACCOUNT["account_name"])
    p.set_input_files("#proof-file", files=[
        {"name": "gcash-receipt.png", "mimeType": "image/png", "buffer": receipt}])
    p.get_by_role("button", name="Send the proof").click()
    expect(p.locator("#proofs")).to_contain_text("Being checked", timeout=WAIT_MS)
    buyer.screenshot("04-proof-sent")

    # 4. The worker reads and scores it (whatever the score: OCR output is not asserted).
    proof = scored_proof(journey_server, desk)
    assert proof["order_id"] == order["id"]

    # 5. A verifier, in another browser context, approves it with the keyboard.
    verifier = browser.open(journey_server)
    log_in_fast(verifier, desk.verifier)
    verifier.goto("/console/verifications")
    v = verifier.page
    expect(v.get_by_text("1 waiting")).to_be_visible(timeout=WAIT_MS)
    v.get_by_role("link", name=order["number"]).click()
    expect(v.locator("#proof-image")).to_be_visible(timeout=WAIT_MS)
    expect(v.locator("html[data-verify-keys=on]")).to_have_count(1)
    verifier.screenshot("05-verifier-proof")
    v.locator("h1").click()
    v.keyboard.press("a")
    expect(v).to_have_url(re.compile(r"/console/verifications\?done=empty"), timeout=WAIT_MS)
    verifier.screenshot("06-verifier-queue-empty")

    # 6. The buyer's page, still open, turns paid with no reload.
    expect(p.locator("[data-step=paid]")).to_have_class(re.compile(r"\bdone\b"),
                                                         timeout=WAIT_MS)
    expect(p.locator(".status-now")).to_contain_text("Paid")
    expect(p.locator("#pay")).to_be_hidden()
    assert p.evaluate("() => window.notReloaded") is True
    buyer.screenshot("07-paid")
    buyer.check_accessibility()
    with httpx.Client(base_url=journey_server, headers=desk.shop.api_headers) as api:
        paid = ok(api.get(f"/v1/orders/{order['id']}"))
        decided = ok(api.get(f"/v1/verifications/{proof['id']}"))
    assert paid["status"] == "paid"
    assert decided["status"] == "approved"
