"""The console's "Split order" and "Merge with…" in Chromium against a real ``orderline
serve`` process, on each database: choose units (or the other order), see both orders'
figures before anything happens, then confirm; both order pages link to each other, and the
buyer's order page says where part of the order went. A viewer is offered neither action
and is refused both; a form without the CSRF token is refused; another business's order is
not found. axe runs on each page, and every step is a screenshot (desktop and 375 px) in
``test-artifacts/screenshots/<test>/``.
"""

from __future__ import annotations

import re

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
    placed_order,
    toko_sari_fixture,
)

pytestmark = pytest.mark.slow


def test_split_order_shows_both_orders_first_then_links_them(
        shop: ConsoleShop, runtime: Runtime, console_server: str, browser: Browsing,
        api: httpx.Client) -> None:
    from playwright.sync_api import expect

    new_product(api, "Batik Kain", ("KAIN", "Batik Kain M", 1250, 10))
    order = placed_order(api, ("KAIN", 3))
    path = f"/console/orders/{order['id']}"

    page = opened(browser, console_server, shop.owner_login, path)
    p = page.page
    p.locator("summary", has_text="Split order").click()
    p.get_by_label(re.compile(r"KAIN\): 3 not shipped")).fill("2")
    with p.expect_navigation():
        p.get_by_role("button", name="Show the two orders").click()
    expect(p.locator("h1")).to_have_text("Split order: check the two orders")
    expect(p.locator("main")).to_contain_text("the buyer pays each order's own total")
    page.screenshot("preview-desktop")
    page.check_accessibility()
    assert ok(api.get(f"/v1/orders/{order['id']}/links"))["data"] == []  # nothing yet

    phone = opened(browser, console_server, shop.owner_login, path, phone=True)
    phone.page.locator("summary", has_text="Split order").click()
    phone.page.get_by_label(re.compile(r"KAIN\): 3 not shipped")).fill("1")
    with phone.page.expect_navigation():
        phone.page.get_by_role("button", name="Show the two orders").click()
    phone.screenshot("preview-phone")
    phone.check_accessibility()

    with p.expect_navigation():
        p.get_by_role("button", name="Split the order").click()
    expect(p.locator(".flash")).to_contain_text("this is the new order")
    expect(p.locator(".order-related")).to_contain_text(f"Split from order {order['number']}")
    page.screenshot("new-order")
    page.check_accessibility()
    links = ok(api.get(f"/v1/orders/{order['id']}/links"))["data"]
    assert [x["kind"] for x in links] == ["split_into"]
    page.goto(path)
    expect(p.locator(".order-related")).to_contain_text(
        f"Some units moved to order {links[0]['number']}")
    page.screenshot("original-after")
    assert ok(api.get(f"/v1/orders/{order['id']}"))["total"] == 1250

    # The buyer of the original sees where the rest went.
    buyer = browser.open(console_server, viewport=PHONE)
    buyer.goto(f"/o/{order['access_token']}")
    expect(buyer.page.locator(".order-related")).to_contain_text(
        f"moved to order {links[0]['number']}")
    buyer.screenshot("buyer-page")
    buyer.check_accessibility()

    # The phone's preview was made at the old version: confirming it names who changed it.
    with phone.page.expect_navigation():
        phone.page.get_by_role("button", name="Split the order").click()
    expect(phone.page.locator("h1")).to_have_text("Someone changed this order first")
    assert len(ok(api.get(f"/v1/orders/{order['id']}/links"))["data"]) == 1


def test_merge_with_another_unpaid_order_of_the_buyer(
        shop: ConsoleShop, runtime: Runtime, console_server: str, browser: Browsing,
        api: httpx.Client) -> None:
    from playwright.sync_api import expect

    new_product(api, "Batik Selendang", ("SEL", "Batik Selendang", 900, 10))
    first = placed_order(api, ("SEL", 1))
    second = placed_order(api, ("SEL", 2))
    page = opened(browser, console_server, shop.owner_login, f"/console/orders/{first['id']}")
    p = page.page
    p.locator("summary", has_text="Merge with").click()
    p.get_by_label("The buyer's other unpaid order").select_option(second["id"])
    with p.expect_navigation():
        p.get_by_role("button", name="Show the merged order").click()
    expect(p.locator("h1")).to_have_text("Merge orders: check the merged order")
    page.screenshot("preview-desktop")
    page.check_accessibility()
    with p.expect_navigation():
        p.get_by_role("button", name="Merge the orders").click()
    expect(p.locator(".flash")).to_contain_text("The orders were merged")
    expect(p.locator(".order-related")).to_contain_text(
        f"Order {second['number']} was merged into this one")
    page.screenshot("merged")
    page.check_accessibility()
    gone = ok(api.get(f"/v1/orders/{second['id']}"))
    assert (gone["status"], gone["cancel_reason"]) == ("cancelled", "merged")
    assert ok(api.get(f"/v1/orders/{first['id']}"))["total"] == 2700
    assert ok(api.get("/v1/inventory/SEL"))["reserved"] == 3

    phone = opened(browser, console_server, shop.owner_login,
                   f"/console/orders/{second['id']}", phone=True)
    expect(phone.page.locator(".order-related")).to_contain_text(
        f"Merged into order {first['number']}")
    phone.screenshot("merged-away-phone")
    phone.check_accessibility()


async def test_a_viewer_is_offered_neither_and_is_refused_both(
        shop: ConsoleShop, runtime: Runtime, console_server: str, api: httpx.Client) -> None:
    new_product(api, "Batik Sarung", ("SARUNG", "Batik Sarung M", 1250, 5))
    order = placed_order(api, ("SARUNG", 2))
    other = placed_order(api, ("SARUNG", 1))
    path = f"/console/orders/{order['id']}"
    split_form = {"version": str(order["version"]), "line_sku": "SARUNG", "move_SARUNG": "1"}
    merge_form = {"version": str(order["version"]), "other_order_id": other["id"]}
    viewer: ConsoleLogin = await console_login(runtime, shop.staff["viewer"])
    with console_client(console_server, viewer) as client:
        shown = client.get(path)
        assert shown.status_code == 200
        assert "Split order" not in shown.text and "Merge with" not in shown.text
        assert client.post(f"{path}/split", data={
            **split_form, "csrf_token": viewer.csrf_token}).status_code == 403
        assert client.post(f"{path}/merge", data={
            **merge_form, "csrf_token": viewer.csrf_token}).status_code == 403
    with console_client(console_server, shop.owner_login) as owner:
        owner.headers.pop("X-CSRF-Token")
        for action, form in (("split", split_form), ("merge", merge_form)):
            assert owner.post(f"{path}/{action}/preview", data=form).status_code == 403
            assert owner.post(f"{path}/{action}", data=form).status_code == 403
    rival = await console_shop(runtime, name="Toko Lain")
    with console_client(console_server, rival.owner_login) as stranger:
        assert stranger.get(path).status_code == 404
        assert stranger.post(f"{path}/split/preview", data=split_form).status_code == 404
    assert ok(api.get("/v1/inventory/SARUNG"))["reserved"] == 3
    assert ok(api.get(f"/v1/orders/{order['id']}/links"))["data"] == []
