"""The console's "Cancel items" in Chromium against a real ``orderline serve`` process, on each
database: choose units, see the change (lines, totals, refund) before anything happens, then
confirm it; the order page shows the cancelled units. A viewer is offered no such action and
is refused one; a form without the CSRF token is refused. axe runs on each page, and every
step is a screenshot (desktop and 375 px) in ``test-artifacts/screenshots/<test>/``.
"""

from __future__ import annotations

import re

import httpx
import pytest

from orderline.core.runtime import Runtime
from tests.e2e.conftest import ok
from tests.support.browser import (  # noqa: F401 (the fixture browser)
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
    new_product,
    opened,
    placed_order,
    toko_sari_fixture,
)

pytestmark = pytest.mark.slow

WAIT_MS = 30_000  # a cap on waiting for a condition, never a duration that decides


def test_cancel_items_shows_the_change_first_then_cancels_the_units(
        shop: ConsoleShop, runtime: Runtime, console_server: str, browser: Browsing,
        api: httpx.Client) -> None:
    from playwright.sync_api import expect

    new_product(api, "Batik Kain", ("KAIN", "Batik Kain M", 1250, 10))
    order = placed_order(api, ("KAIN", 3))
    path = f"/console/orders/{order['id']}"

    page = opened(browser, console_server, shop.owner_login, path)
    p = page.page
    p.locator("summary", has_text="Cancel items").click()
    p.get_by_label(re.compile(r"KAIN\), 3 ordered")).fill("2")
    with p.expect_navigation():
        p.get_by_role("button", name="Show what changes").click()
    expect(p.locator("h1")).to_have_text("Cancel items: check the change")
    expect(p.locator("main")).to_contain_text("the buyer will pay the new total")
    page.screenshot("preview-desktop")
    page.check_accessibility()
    # Nothing changed yet.
    assert ok(api.get("/v1/inventory/KAIN"))["reserved"] == 3

    phone = opened(browser, console_server, shop.owner_login, path, phone=True)
    phone.page.locator("summary", has_text="Cancel items").click()
    phone.page.get_by_label(re.compile(r"KAIN\), 3 ordered")).fill("1")
    with phone.page.expect_navigation():
        phone.page.get_by_role("button", name="Show what changes").click()
    phone.screenshot("preview-phone")
    phone.check_accessibility()

    with p.expect_navigation():
        p.get_by_role("button", name="Cancel these items").click()
    expect(p.locator(".flash")).to_contain_text("The items were cancelled")
    expect(p.locator(".order-lines")).to_contain_text("2 cancelled")
    page.screenshot("order-after")
    page.check_accessibility()
    level = ok(api.get("/v1/inventory/KAIN"))
    assert (level["on_hand"], level["reserved"]) == (10, 1)
    after = ok(api.get(f"/v1/orders/{order['id']}"))
    assert (after["total"], after["lines"][0]["cancelled_quantity"]) == (1250, 2)

    # The phone's preview was made at the old version: confirming it names who changed it.
    with phone.page.expect_navigation():
        phone.page.get_by_role("button", name="Cancel these items").click()
    expect(phone.page.locator("h1")).to_have_text("Someone changed this order first")
    assert ok(api.get("/v1/inventory/KAIN"))["reserved"] == 1


async def test_a_viewer_is_not_offered_cancel_items_and_is_refused_it(
        shop: ConsoleShop, runtime: Runtime, console_server: str, api: httpx.Client) -> None:
    new_product(api, "Batik Sarung", ("SARUNG", "Batik Sarung M", 1250, 5))
    order = placed_order(api, ("SARUNG", 2))
    path = f"/console/orders/{order['id']}"
    form = {"version": str(order["version"]), "line_sku": "SARUNG", "cancel_SARUNG": "1"}
    viewer: ConsoleLogin = await console_login(runtime, shop.staff["viewer"])
    with console_client(console_server, viewer) as client:
        shown = client.get(path)
        assert shown.status_code == 200 and "Cancel items" not in shown.text
        refused = client.post(f"{path}/cancel-items",
                              data={**form, "csrf_token": viewer.csrf_token})
        assert refused.status_code == 403
    with console_client(console_server, shop.owner_login) as owner:
        owner.headers.pop("X-CSRF-Token")
        assert owner.post(f"{path}/cancel-items/preview", data=form).status_code == 403
        assert owner.post(f"{path}/cancel-items", data=form).status_code == 403
    assert ok(api.get("/v1/inventory/SARUNG"))["reserved"] == 2
