"""The journey "the merchant exchanges an item" in Chromium against a real ``orderline
serve`` process, on each database: on the console's order page the merchant opens "Exchange
items", chooses the unit coming back and the replacement SKU, sees the difference the buyer
owes, confirms; the order shows its approved return and the replacement order, which awaits
the difference. axe runs on every page (desktop and 375 px); each step is a screenshot in
``test-artifacts/screenshots/<test>/``. Roles, CSRF and another business's order as the
returns' forms.
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

pytestmark = pytest.mark.slow


def _shipped(api: httpx.Client) -> dict[str, Any]:
    new_product(api, "Batik", ("BATIK", "Batik M", 1250, 10))
    new_product(api, "Batik large", ("BATIK-L", "Batik L", 2000, 4))
    return shipped_order(api, ("BATIK", 3))


def test_the_merchant_exchanges_a_unit_for_a_larger_size_and_the_buyer_owes_the_difference(
        shop: ConsoleShop, console_server: str, browser: Browsing, api: httpx.Client) -> None:
    from playwright.sync_api import expect

    order = _shipped(api)
    page = opened(browser, console_server, shop.owner_login, f"/console/orders/{order['id']}")
    p = page.page
    p.get_by_text("Exchange items", exact=True).click()
    # A replacement nobody sells is refused next to the form.
    p.get_by_label("Units of BATIK to send back").fill("1")
    p.get_by_label("Replacement SKU").fill("NOPE")
    with p.expect_navigation():
        p.get_by_role("button", name="Preview the exchange").click()
    expect(p.locator("#exchange-error")).to_contain_text("There is no product with this SKU")
    page.screenshot("refused-unknown-sku")
    page.check_accessibility()

    p.get_by_label("Units of BATIK to send back").fill("1")
    p.get_by_label("Replacement SKU").fill("BATIK-L")
    p.get_by_label("How many to send").fill("1")
    page.screenshot("form-filled")
    with p.expect_navigation():
        p.get_by_role("button", name="Preview the exchange").click()
    expect(p.get_by_role("heading", level=1)).to_contain_text("check the replacement")
    # 1250 back against 2000: the buyer pays 7.50.
    expect(p.locator("dl.totals")).to_contain_text("The buyer pays$7.50")
    page.screenshot("preview")
    page.check_accessibility()
    desktop = p.viewport_size
    p.set_viewport_size({"width": 375, "height": 812})
    page.screenshot("preview-phone")
    page.check_accessibility()
    assert desktop is not None
    p.set_viewport_size(desktop)
    with p.expect_navigation():
        p.get_by_role("button", name="Make the exchange").click()
    expect(p.locator(".flash")).to_contain_text("The exchange was made")
    related = p.locator(".order-related")
    expect(related).to_contain_text("Items exchanged: the replacement is order")
    expect(p.locator(".order-returns")).to_contain_text("Approved")
    expect(p.locator(".order-returns")).to_contain_text("Exchanged: $12.50")
    page.screenshot("exchanged")
    page.check_accessibility()

    phone = opened(browser, console_server, shop.owner_login,
                   f"/console/orders/{order['id']}", phone=True)
    expect(phone.page.locator(".order-related")).to_be_visible()
    phone.screenshot("phone-exchanged")
    phone.check_accessibility()

    with p.expect_navigation():
        related.get_by_role("link").first.click()
    expect(p.locator("body")).to_contain_text("Replacement for items exchanged from order")
    page.screenshot("replacement-order")
    page.check_accessibility()

    links = ok(api.get(f"/v1/orders/{order['id']}/links"))["data"]
    assert [x["kind"] for x in links] == ["exchange_to"]
    new = ok(api.get(f"/v1/orders/{links[0]['order_id']}"))
    assert (new["status"], new["total"]) == ("pending_payment", 2000)
    assert ok(api.get("/v1/inventory/BATIK-L"))["reserved"] == 1

    buyer = browser.open(console_server, viewport=PHONE)
    buyer.goto(f"/o/{order['access_token']}")
    expect(buyer.page.locator(".order-related")).to_contain_text(new["number"])
    buyer.screenshot("buyer-original-phone")
    buyer.check_accessibility()

    # The replacement's own page (its token comes with the exchange, here by the API):
    # what the returned items pay and the difference left to pay.
    again = ok(api.post(f"/v1/orders/{order['id']}/exchanges", json={
        "lines": [{"sku": "BATIK", "quantity": 1}], "reason": "wrong_item",
        "replacement": [{"sku": "BATIK-L", "quantity": 1}]}), 201)
    buyer.goto(f"/o/{again['access_token']}")
    due = buyer.page.locator("#exchange-pay")
    expect(due).to_contain_text("Pay the difference for your exchange")
    expect(due).to_contain_text("$7.50")
    buyer.screenshot("buyer-replacement-phone")
    buyer.check_accessibility()


async def test_a_viewer_may_not_exchange_nor_may_another_business_nor_a_form_without_csrf(
        shop: ConsoleShop, runtime: Runtime, console_server: str, api: httpx.Client) -> None:
    order = _shipped(api)
    path = f"/console/orders/{order['id']}"
    form = {"line_sku": "BATIK", "back_BATIK": "1", "replacement_sku": "BATIK-L",
            "replacement_quantity": "1", "reason": "wrong_item"}
    viewer: ConsoleLogin = await console_login(runtime, shop.staff["viewer"])
    with console_client(console_server, viewer) as client:
        shown = client.get(path)
        assert shown.status_code == 200 and "Exchange items" not in shown.text
        for action in ("exchange/preview", "exchange"):
            assert client.post(f"{path}/{action}", data={
                **form, "csrf_token": viewer.csrf_token}).status_code == 403
    with console_client(console_server, shop.owner_login) as owner:
        assert "Exchange items" in owner.get(path).text
        owner.headers.pop("X-CSRF-Token")
        assert owner.post(f"{path}/exchange", data=form).status_code == 403
    other = await console_shop(runtime, name="Another shop")
    with console_client(console_server, other.owner_login) as stranger:
        for action in ("exchange/preview", "exchange"):
            assert stranger.post(f"{path}/{action}", data={
                **form, "csrf_token": other.owner_login.csrf_token}).status_code == 404
    assert ok(api.get(f"/v1/orders/{order['id']}/returns"))["data"] == []
    assert ok(api.get(f"/v1/orders/{order['id']}/links"))["data"] == []
