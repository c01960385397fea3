"""The settings pages in Chromium against a real ``orderline serve`` process, on each database:
an owner invites a verifier from the staff page (the link shown once), the verifier joins
through the invitation page in a browser of their own and gets the 403 page on every settings
URL (and opens the verification queue), the owner adds a payment method from a template, makes an
API key (shown once), replays a dead webhook delivery and revokes the key with its
confirmation; and every settings page on a 375 px phone in Indonesian. Axe on every page;
screenshots of each step in ``test-artifacts/screenshots/<test>/``.

The other sections' forms are checked without a browser in
``test_console_settings_pages.py``."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from playwright.sync_api import expect

from orderline.core.config import Settings, async_url
from orderline.core.db.engine import Database
from orderline.core.runtime import Runtime
from orderline.coupons import service as coupons
from orderline.shipping import service as shipping
from orderline.tenancy import service as tenancy
from orderline.webhooks import service as webhooks
from orderline.wiring import provide_parts
from tests.conftest import Merchant
from tests.support.browser import (  # noqa: F401 (the fixture browser)
    PHONE,
    Browsing,
    browser_fixture,
)
from tests.support.console import (  # noqa: F401 (the fixture console_server)
    ConsoleShop,
    console_server_fixture,
    console_shop,
    log_in_fast,
)
from tests.support.console_settings import SECTIONS, DeadLetter, dead_letter
from tests.support.staff import PASSWORD, new_email

pytestmark = pytest.mark.slow
T = TypeVar("T")


@dataclass(frozen=True)
class SettingsShop:
    shop: ConsoleShop
    letter: DeadLetter


@pytest.fixture
async def shop(runtime: Runtime) -> SettingsShop:
    """A peso shop (so the GCash template fits) with one dead webhook delivery, a shipping
    zone with a method and a tax rate, and a coupon (so the phone pages show full tables)."""
    made = await console_shop(runtime, currency="PHP", name="Sari-sari Settings")
    principal = await tenancy.authenticate(runtime, made.api_key)
    merchant = Merchant(principal=principal, key=made.api_key)
    zone = await shipping.create_zone(runtime, principal, name="Metro Manila",
                                      countries=["PH"], regions=["Metro Manila"])
    await shipping.add_method(runtime, principal, zone["id"], name="Lalamove same day",
                              kind="free_above", price=12000, free_above=150000)
    await shipping.add_tax_rate(runtime, principal, zone["id"], name="VAT", rate="12")
    await coupons.create_coupon(runtime, principal, code="PASKO15", kind="percentage",
                                percent_off=Decimal(15), usage_limit=200)
    return SettingsShop(shop=made, letter=await dead_letter(runtime, merchant, "SET-BROWSER"))


def beside_the_browser(database_url: str,
                       work: Callable[[Runtime], Coroutine[Any, Any, T]]) -> T:
    """Run ``work`` on its own event loop and engine in a thread, while the browser test's
    Playwright loop holds this one (the suite's loop is not running during a ``def`` test)."""
    result: list[T] = []

    async def run() -> None:
        db = Database(async_url(database_url), pool_size=2)
        try:
            result.append(await work(provide_parts(Runtime(
                settings=Settings(database_url=database_url), db=db))))
        finally:
            await db.dispose()

    thread = threading.Thread(target=lambda: asyncio.run(run()))
    thread.start()
    thread.join(timeout=120)
    assert result, "the work beside the browser did not finish"
    return result[0]


def test_an_owner_invites_a_verifier_adds_a_payment_method_makes_a_key_and_replays_a_delivery(
        shop: SettingsShop, console_server: str, browser: Browsing, database_url: str) -> None:
    page = browser.open(console_server)
    log_in_fast(page, shop.shop.owner_login)
    p = page.page

    page.goto("/console/settings")
    expect(p.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    page.screenshot("01-settings-index")
    page.check_accessibility()

    # Invite a verifier; the link is shown once, to share in a chat.
    email = new_email("verifier")
    page.goto("/console/settings/staff")
    p.get_by_label("Email").fill(email)
    p.get_by_label("Verifier: the payment-proof queue only").check()
    p.get_by_role("button", name="Invite", exact=True).click()
    secret = p.locator("#secret-value")
    expect(secret).to_be_visible()
    link = secret.input_value()
    assert "/console/invitations/" in link
    expect(p.get_by_text(email).first).to_be_visible()
    page.screenshot("02-invitation-link-shown-once")
    page.check_accessibility()
    page.goto("/console/settings/staff")
    assert link not in p.content()

    # The verifier joins in a browser of their own, from the link's path (the link names the
    # configured public base URL, not this test server's port).
    token = link.split("/console/invitations/", 1)[1]
    verifier = browser.open(console_server)
    verifier.goto(f"/console/invitations/{token}")
    verifier.page.get_by_label("Your name").fill("Vera Verifier")
    verifier.page.get_by_label("Password", exact=True).fill(PASSWORD)
    verifier.page.get_by_label("The same password again").fill(PASSWORD)
    with verifier.page.expect_navigation():
        verifier.page.get_by_role("button", name="Create my account").click()
    for section in SECTIONS:
        verifier.goto(f"/console/settings{section}", expect_status=403)
    verifier.screenshot("03-verifier-gets-403-on-settings")
    verifier.check_accessibility()
    verifier.goto("/console/verifications")  # the payment-proof queue is theirs
    verifier.assert_clean()

    # The owner sees that she is logged in, and logs her out everywhere (a lost phone).
    page.goto("/console/settings/staff")
    vera = p.get_by_role("row").filter(has_text="Vera Verifier")
    expect(vera).to_contain_text("Live sessions: 1")
    vera.get_by_text("Log out everywhere", exact=True).click()
    vera.get_by_role("button", name="Yes, log them out").click()
    expect(p.get_by_role("status")).to_contain_text("logged out everywhere")
    expect(p.get_by_role("row").filter(has_text="Vera Verifier")).to_contain_text(
        "Live sessions: 0")
    page.screenshot("03b-verifier-logged-out-everywhere")
    page.check_accessibility()
    verifier.page.goto(f"{console_server}/console/verifications")
    expect(verifier.page).to_have_url(re.compile(r"/console/login"))

    # A payment method from a template.
    page.goto("/console/settings/payments")
    p.get_by_label("Template").select_option("gcash")
    p.get_by_label("Account name").fill("Sari Santos")
    p.get_by_label("Account number").fill("0917 123 4567")
    p.get_by_role("button", name="Add the payment method").click()
    expect(p.get_by_role("status")).to_contain_text("The payment method was added.")
    expect(p.get_by_role("cell", name="GCash (PHP)")).to_be_visible()
    page.screenshot("04-payment-method-added")
    page.check_accessibility()

    # An API key, shown once; then revoked after its confirmation.
    page.goto("/console/settings/api-keys")
    p.get_by_label("Name").fill("Web shop")
    p.get_by_label("read: see orders, stock and settings").check()
    p.get_by_role("button", name="Make the key").click()
    key = p.locator("#secret-value").input_value()
    assert key.startswith("ol_")
    page.screenshot("05-api-key-shown-once")
    page.check_accessibility()
    page.goto("/console/settings/api-keys")
    assert key not in p.content()
    row = p.get_by_role("row").filter(has_text="Web shop")
    row.get_by_text("Revoke", exact=True).click()
    page.screenshot("06-revoke-asks-first")
    row.get_by_role("button", name="Yes, revoke it").click()
    expect(p.get_by_role("status")).to_contain_text("The API key was revoked")
    expect(p.get_by_role("row").filter(has_text="Web shop")).to_contain_text("Revoked")

    # The dead letter, replayed from its endpoint's deliveries.
    page.goto("/console/settings/webhooks")
    page.screenshot("07-webhooks-with-a-dead-letter")
    page.check_accessibility()
    p.get_by_role("link", name="order.created").click()
    expect(p.get_by_role("cell", name="Failed every try")).to_be_visible()
    page.screenshot("08-endpoint-deliveries")
    page.check_accessibility()
    p.get_by_role("button", name="Send again").click()
    expect(p.get_by_role("status")).to_contain_text("The delivery is queued to be sent again.")
    page.screenshot("09-delivery-replayed")
    delivery = beside_the_browser(database_url, lambda rt: webhooks.get_delivery(
        rt, shop.shop.owner_login.principal, shop.letter.endpoint_id, shop.letter.delivery_id))
    assert delivery["status"] == "pending"
    beside_the_browser(database_url, lambda rt: webhooks.delete_endpoint(
        rt, shop.shop.owner_login.principal, shop.letter.endpoint_id))
    page.assert_clean()


def test_every_settings_page_fits_a_phone_in_indonesian_and_says_what_is_wrong(
        shop: SettingsShop, console_server: str, browser: Browsing) -> None:
    page = browser.open(console_server, viewport=PHONE, locale="id-ID")
    log_in_fast(page, shop.shop.owner_login)
    p = page.page
    for section in SECTIONS:
        page.goto(f"/console/settings{section}")
        assert p.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], section
        page.screenshot(f"phone-{section.strip('/') or 'index'}")
        page.check_accessibility()
    page.goto(f"/console/settings/webhooks/{shop.letter.endpoint_id}")
    assert p.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot("phone-webhook-endpoint")
    page.check_accessibility()

    page.goto("/console/settings/business")
    p.locator("#reservation_minutes").fill("lama")
    p.get_by_role("button", name="Simpan", exact=True).click()
    expect(p.locator(".error-summary")).to_be_focused()
    expect(p.locator("#reservation_minutes-error")).to_be_visible()
    page.screenshot("phone-business-error")
    page.check_accessibility()
    page.assert_clean()
