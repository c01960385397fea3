"""Paying a change by transfer, in Chromium against a real ``orderline serve`` process, on each
database: the buyer of an order paid by GCash opens the order page on a 375 px phone, sees
what the change asks (the account, the request's amount, its own reference), sends a file
that is not a receipt and is told why next to the field, then sends the receipt; the
verifier sees it in the queue as the payment for change 1 of the order, opens it, reads
that it pays the change (not the order's total), and approves it: the change applies. axe
runs on each page; every step is a screenshot in ``test-artifacts/screenshots/<test>/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from orderline.core.runtime import Runtime
from tests.support.browser import (  # noqa: F401 (the fixture browser)
    PHONE,
    Browsing,
    browser_fixture,
)
from tests.support.console import (  # noqa: F401 (the fixture console_server)
    ConsoleLogin,
    ConsoleShop,
    console_server_fixture,
    gcash_tee_api,
    log_in_fast,
    verifier_desk,
)
from tests.support.manual import ok, receipt_for

pytestmark = pytest.mark.slow

WAIT_MS = 30_000  # a cap on waiting for a condition, never a duration that decides


@pytest.fixture
async def desk(runtime: Runtime) -> tuple[ConsoleShop, ConsoleLogin]:
    return await verifier_desk(runtime, name="Toko Ubah")


@pytest.fixture
def server_api(desk: tuple[ConsoleShop, ConsoleLogin], console_server: str
               ) -> Iterator[httpx.Client]:
    with gcash_tee_api(console_server, desk[0], tees=10) as client:
        yield client


def waiting_change(api: httpx.Client) -> tuple[dict[str, Any], dict[str, Any]]:
    """A tee paid by GCash (its proof approved), then changed to two: one more to pay."""
    order = ok(api.post("/v1/orders", json={
        "customer": {"name": "Maria Santos", "phone": "+63 917 555 3001"},
        "channel": "whatsapp", "payment_method": "gcash",
        "lines": [{"sku": "TEE", "quantity": 1}]}), 201)
    proof = ok(api.put(f"/v1/orders/{order['id']}/payment-proof",
                       headers={"Authorization": f"Bearer {order['access_token']}"},
                       content=receipt_for(order)), 201)
    ok(api.post(f"/v1/verifications/{proof['id']}/approve"))
    change = ok(api.post(f"/v1/orders/{order['id']}/changes",
                         json={"change": [{"sku": "TEE", "quantity": 2}]}), 201)
    assert change["status"] == "awaiting_payment"
    return order, change


def test_the_buyer_pays_a_change_by_transfer_and_the_verifier_approves_it(
        desk: tuple[ConsoleShop, ConsoleLogin], console_server: str, browser: Browsing,
        server_api: httpx.Client) -> None:
    from playwright.sync_api import expect

    _, verifier = desk
    order, change = waiting_change(server_api)
    reference = f"{order['manual_payment']['reference']}-C1"

    phone = browser.open(console_server, viewport=PHONE)
    phone.goto(f"/o/{order['access_token']}")
    p = phone.page
    transfer = p.locator(".change-transfer")
    expect(transfer).to_contain_text("PHP 1,250.00")
    expect(transfer).to_contain_text(reference)
    expect(transfer).to_contain_text("Juan Dela Cruz")
    phone.screenshot("order-page-phone")
    phone.check_accessibility()
    assert p.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    field = p.get_by_label("Receipt of your transfer for change 1")
    field.set_input_files({"name": "notes.txt", "mimeType": "text/plain",
                           "buffer": b"not a receipt at all"})
    with p.expect_navigation():
        p.get_by_role("button", name="Send the proof of transfer").click()
    expect(p.locator(".change-transfer .field-error")).to_contain_text("not accepted")
    expect(p.locator(".error-summary a")).to_have_attribute(
        "href", f"#change-proof-{change['id']}")
    phone.screenshot("refused-phone")
    phone.check_accessibility()

    receipt = receipt_for({"manual_payment": {"amount": 125_000, "currency": "PHP",
                                              "reference": reference}})
    p.get_by_label("Receipt of your transfer for change 1").set_input_files(
        {"name": "receipt.png", "mimeType": "image/png", "buffer": receipt})
    with p.expect_navigation():
        p.get_by_role("button", name="Send the proof of transfer").click()
    expect(p.locator(".flash-success")).to_contain_text("Your proof was sent")
    expect(p.locator(".change-proof-list")).to_contain_text("Being checked by the shop")
    phone.screenshot("sent-phone")
    phone.check_accessibility()

    desk_page = browser.open(console_server)
    log_in_fast(desk_page, verifier)
    desk_page.goto("/console/verifications")
    q = desk_page.page
    expect(q.locator(".verify-change")).to_have_text(
        f"Payment for change 1 of order {order['number']}")
    desk_page.screenshot("queue-desktop")
    desk_page.check_accessibility()
    queue_phone = browser.open(console_server, viewport=PHONE)
    log_in_fast(queue_phone, verifier)
    queue_phone.goto("/console/verifications")
    expect(queue_phone.page.locator(".verify-change")).to_have_count(1)
    queue_phone.screenshot("queue-phone")
    queue_phone.check_accessibility()
    queue_phone.page.context.close()

    q.get_by_role("link", name=order["number"]).click()
    expect(q.get_by_role("heading", level=1)).to_have_text(
        f"Payment for change 1 of order {order['number']}", timeout=WAIT_MS)
    expect(q.locator("#change-note")).to_contain_text("1,250.00, not the order's total")
    desk_page.screenshot("proof-desktop")
    desk_page.check_accessibility()
    with q.expect_navigation():
        q.get_by_role("button", name=re.compile("Approve")).click()
    desk_page.screenshot("approved-desktop")

    done = ok(server_api.get(f"/v1/orders/{order['id']}/changes/{change['id']}"))
    assert (done["status"], done["payment_request"]["paid_by"]) == ("applied", "proof")
    after = ok(server_api.get(f"/v1/orders/{order['id']}"))
    assert after["total"] == 250_000
    level = ok(server_api.get("/v1/inventory/TEE"))
    assert (level["on_hand"], level["reserved"]) == (8, 0)

    phone.goto(f"/o/{order['access_token']}")
    expect(p.locator(".change-transfer")).to_have_count(0)
    phone.screenshot("after-phone")
