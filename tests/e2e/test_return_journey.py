"""The journey "a buyer returns an item" in Chromium against a real ``orderline serve``
process, on each database: the buyer asks for a return from their order page (units, reason,
note, a photo), the merchant sees it on the console's order page with its photo, approves it,
receives the unit (back on hand) and refunds it after seeing the amount and the restocking
fee; the buyer's page then says it was refunded. axe runs on both pages (desktop and 375 px);
each step is a screenshot in ``test-artifacts/screenshots/<test>/``.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from orderline.core.runtime import Runtime
from tests.e2e.conftest import ok
from tests.support.browser import (  # noqa: F401 (the fixture browser)
    PHONE,
    Browsing,
    browser_fixture,
)
from tests.support.console import (  # noqa: F401 (the fixtures console_server, shop, api)
    ConsoleLogin,
    ConsoleShop,
    console_api_fixture,
    console_client,
    console_login,
    console_server_fixture,
    console_shop,
    new_product,
    opened,
    shipped_order,
    toko_sari_fixture,
)
from tests.support.proof_samples import image_bytes

pytestmark = pytest.mark.slow


def test_a_buyer_asks_for_a_return_and_the_merchant_approves_receives_and_refunds_it(
        shop: ConsoleShop, console_server: str, browser: Browsing, api: httpx.Client,
        tmp_path: Any) -> None:
    from playwright.sync_api import expect

    new_product(api, "Batik", ("BATIK", "Batik M", 1250, 10))
    order = shipped_order(api, ("BATIK", 3))
    ok(api.patch("/v1/business", json={"return_window_days": 30,
                                      "restocking_fee_bp": 1000}))
    photo = tmp_path / "torn.png"
    photo.write_bytes(image_bytes("PNG", size=(320, 240)))

    buyer = browser.open(console_server)
    buyer.goto(f"/o/{order['access_token']}")
    b = buyer.page
    b.get_by_text("Return items").click()
    b.locator("#return-quantity-1").fill("1")
    b.locator("#return-reason").select_option("damaged")
    b.locator("#return-note").fill("The seam is torn.")
    b.locator("#return-photos").set_input_files(str(photo))
    buyer.screenshot("buyer-form-filled")
    buyer.check_accessibility()
    with b.expect_navigation():
        b.get_by_role("button", name="Ask for a return").click()
    expect(b.locator("#returns .flash")).to_contain_text("Your return request was sent")
    expect(b.locator(".return-list")).to_contain_text("asked for")
    buyer.screenshot("buyer-return-asked")
    buyer.check_accessibility()

    page = opened(browser, console_server, shop.owner_login, f"/console/orders/{order['id']}")
    p = page.page
    section = p.locator(".order-returns")
    expect(section).to_contain_text("asked by the buyer")
    expect(section).to_contain_text("The seam is torn.")
    expect(section.get_by_role("link", name="Photo 1")).to_be_visible()
    shown = p.request.get(console_server + str(
        section.get_by_role("link", name="Photo 1").get_attribute("href")))
    assert shown.status == 200 and shown.body().startswith(b"\x89PNG")
    page.screenshot("merchant-sees-request")
    page.check_accessibility()

    code = f"{order['number']}-R1"
    with p.expect_navigation():
        p.get_by_role("button", name=f"Approve return {code}").click()
    expect(p.locator(".flash")).to_contain_text("The return was approved")
    with p.expect_navigation():
        p.get_by_role("button", name=f"Receive return {code}").click()
    expect(p.locator(".flash")).to_contain_text("The returned items were received")
    refund_form = p.locator(".return-refund")
    # 1250 less 10%: 1125 refunded, 125 kept.
    expect(refund_form).to_contain_text("$1.25")
    expect(refund_form).to_contain_text("To refund$11.25")
    page.screenshot("merchant-refund-shown")
    page.check_accessibility()
    with p.expect_navigation():
        p.get_by_role("button", name="Refund").filter(has_text="11.25").click()
    expect(p.locator(".flash")).to_contain_text("The return was refunded")
    expect(section).to_contain_text("Refunded")
    page.screenshot("merchant-refunded")

    phone = opened(browser, console_server, shop.owner_login,
                   f"/console/orders/{order['id']}", phone=True)
    expect(phone.page.locator(".order-returns")).to_be_visible()
    phone.screenshot("merchant-phone")
    phone.check_accessibility()

    buyer.goto(f"/o/{order['access_token']}")
    expect(b.locator(".return-list")).to_contain_text("refunded")
    buyer.screenshot("buyer-sees-refund")
    buyer_phone = browser.open(console_server, viewport=PHONE)
    buyer_phone.goto(f"/o/{order['access_token']}")
    buyer_phone.screenshot("buyer-phone")
    buyer_phone.check_accessibility()

    done = ok(api.get(f"/v1/orders/{order['id']}/returns"))["data"]
    assert [(r["status"], r["refund_amount"], r["restocking_fee"]) for r in done] == [
        ("refunded", 1125, 125)]
    assert len(done[0]["photos"]) == 1
    assert ok(api.get("/v1/inventory/BATIK"))["on_hand"] == 8
    report = ok(api.get("/v1/inventory/reconciliation"))
    assert report["balanced"] and report["drift"] == []


async def test_a_viewer_sees_returns_but_may_not_handle_them_nor_may_another_business(
        shop: ConsoleShop, runtime: Runtime, console_server: str, api: httpx.Client) -> None:
    new_product(api, "Sarung", ("SARUNG", "Sarung M", 1000, 5))
    order = shipped_order(api, ("SARUNG", 2), tracking_number="JNE-2")
    asked = ok(api.post(f"/v1/orders/{order['id']}/returns", json={
        "lines": [{"sku": "SARUNG", "quantity": 1}], "reason": "defective"}), 201)
    path = f"/console/orders/{order['id']}"
    approve = f"{path}/returns/{asked['id']}/approve"
    viewer: ConsoleLogin = await console_login(runtime, shop.staff["viewer"])
    with console_client(console_server, viewer) as client:
        shown = client.get(path)
        assert shown.status_code == 200 and asked["code"] in shown.text
        assert "Approve return" not in shown.text
        assert client.post(approve, data={"csrf_token": viewer.csrf_token}).status_code == 403
    with console_client(console_server, shop.owner_login) as owner:
        owner.headers.pop("X-CSRF-Token")
        assert owner.post(approve, data={}).status_code == 403
    other = await console_shop(runtime, name="Another shop")
    with console_client(console_server, other.owner_login) as stranger:
        assert stranger.get(path).status_code == 404
        assert stranger.post(approve, data={
            "csrf_token": other.owner_login.csrf_token}).status_code == 404
    assert ok(api.get(f"/v1/orders/{order['id']}/returns/{asked['id']}"))[
        "status"] == "requested"


async def test_the_owner_sets_the_return_window_and_fee_in_the_business_settings(
        shop: ConsoleShop, runtime: Runtime, console_server: str, api: httpx.Client) -> None:
    path = "/console/settings/business/returns"
    with console_client(console_server, shop.owner_login) as owner:
        page = owner.get("/console/settings/business")
        assert page.status_code == 200 and "Return window, in days" in page.text
        saved = owner.post(path, data={"return_window_days": "14",
                                       "restocking_fee_percent": "2.5",
                                       "restocking_fee_fixed": "1.00"})
        assert saved.status_code == 303, saved.text
        refused = owner.post(path, data={"return_window_days": "400",
                                         "restocking_fee_percent": "2.5",
                                         "restocking_fee_fixed": "1.00"})
        assert refused.status_code in (400, 422) and "return_window_days" in refused.text
        assert owner.post(path, data={"restocking_fee_percent": "2.555"}).status_code in (
            400, 422)
    viewer: ConsoleLogin = await console_login(runtime, shop.staff["viewer"])
    with console_client(console_server, viewer) as client:
        assert client.post(path, data={"return_window_days": "0"}).status_code == 403
    business = ok(api.get("/v1/business"))
    assert (business["return_window_days"], business["restocking_fee_bp"],
            business["restocking_fee_fixed"]) == (14, 250, 100)
