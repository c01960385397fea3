"""The buyer's order page, ``/o/{order token}``, against a real ``orderline serve`` process on
each database: the payment instructions with copy buttons and a scannable code (QR Ph, UPI),
the proof upload with its progress bar and a retry, a rejection and a new proof, the page
turning "paid" live, the page readable offline, the language switch, and the security of the
link (another order's token, a made-up one, the proof's file, a refused SVG, escaped fields
under a CSP without inline script). Browser steps run at 375 px (PHONE) with axe; screenshots
in ``test-artifacts/screenshots/<test>/``.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from orderline.core.runtime import Runtime
from orderline.manual_payments.payment_codes import crc_is_valid, parse_tlv
from orderline.tenancy import service as tenancy
from tests.support.browser import (  # noqa: F401 (the fixture browser)
    PHONE,
    BrowserPage,
    Browsing,
    browser_fixture,
)
from tests.support.console import CONSOLE_SERVER_ENV
from tests.support.manual import receipt_for
from tests.support.servers import ORDERLINE

pytestmark = pytest.mark.slow
WAIT_MS = 30_000  # a generous cap on waiting for a condition, never a duration that decides
HTML = {"Accept": "text/html,application/xhtml+xml"}
SVG = (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script>'
       b'<rect width="10" height="10"/></svg>')
MARKUP_NAME = '<script>window.pwned=1</script><b>Maria</b>'


@pytest.fixture(name="order_server", scope="module")
def order_server_fixture(database_url: str, shared_db: Any) -> Iterator[str]:
    """A server with the proof master keys of the console tests (so proofs are sealed)."""
    from tests.support.servers import running_server

    with running_server(database_url, extra_env=CONSOLE_SERVER_ENV) as base:
        yield base


@dataclass(frozen=True)
class Shop:
    key: str
    verify_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    @property
    def verifier(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.verify_key}"}


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def _business(runtime: Runtime, currency: str) -> str:
    created = await tenancy.create_business(runtime, name=f"Toko {uuid.uuid4().hex[:5]}",
                                            currency=currency, reservation_ttl_seconds=None)
    return created.api_key.key


@pytest.fixture
async def keys(runtime: Runtime) -> dict[str, str]:
    return {"PHP": await _business(runtime, "PHP"), "INR": await _business(runtime, "INR")}


def _shop(server: str, key: str, method: dict[str, Any]) -> Shop:
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {key}"}) as api:
        ok(api.post("/v1/products", json={"name": "Batik shirt", "variants": [
            {"sku": "TEE", "name": "Batik shirt L", "price": 125_000, "initial_stock": 20}]}),
           201)
        ok(api.post("/v1/payment-methods", json=method), 201)
        verify_key = ok(api.post("/v1/api-keys", json={"name": "verifier",
                                                       "scopes": ["verify"]}), 201)["key"]
    return Shop(key=key, verify_key=verify_key)


@pytest.fixture
def gcash_shop(keys: dict[str, str], order_server: str) -> Shop:
    """A PHP shop whose GCash method gives what QR Ph needs (acquirer and city)."""
    return _shop(order_server, keys["PHP"], {
        "template": "gcash", "account_name": "Juan Dela Cruz", "account_number": "0917 555 0101",
        "details": {"qr_acquirer_id": "GXCHPHM2XXX", "merchant_city": "Manila"}})


@pytest.fixture
def upi_shop(keys: dict[str, str], order_server: str) -> Shop:
    return _shop(order_server, keys["INR"], {
        "template": "upi", "account_name": "Asha Stores", "account_number": "asha@okaxis"})


def place(server: str, shop: Shop, *, method: str = "gcash",
          name: str = "Maria Santos") -> dict[str, Any]:
    with httpx.Client(base_url=server, headers=shop.headers) as api:
        order: dict[str, Any] = ok(api.post("/v1/orders", json={
            "customer": {"name": name, "phone": f"+63 917 555 {uuid.uuid4().int % 10000:04d}"},
            "channel": "whatsapp", "payment_method": method,
            "lines": [{"sku": "TEE", "quantity": 1}]}), 201)
    return order


def page_of(order: dict[str, Any]) -> str:
    return f"/o/{order['access_token']}"


def opened(browser: Browsing, server: str, order: dict[str, Any], *,
           phone: bool = True) -> BrowserPage:
    page = browser.open(server, viewport=PHONE if phone else None)
    page.goto(page_of(order))
    return page


def pending(server: str, shop: Shop) -> list[dict[str, Any]]:
    with httpx.Client(base_url=server, headers=shop.verifier) as api:
        data: list[dict[str, Any]] = ok(api.get("/v1/verifications",
                                                params={"status": "pending"}))["data"]
    return data


def choose_file(page: BrowserPage, content: bytes, name: str = "receipt.png",
                mime: str = "image/png") -> None:
    page.page.set_input_files("#proof-file", files=[
        {"name": name, "mimeType": mime, "buffer": content}])


def wait_until_kept(page: BrowserPage, address: str) -> None:
    """Wait (capped) until the service worker has kept ``address`` (a JS expression) and
    controls the page; evaluate awaits the promise, so each check is a real answer."""
    deadline = time.monotonic() + WAIT_MS / 1000
    check = ("async () => !!navigator.serviceWorker.controller && "
             f"!!(await caches.match({address}, {{ignoreVary: true}}))")
    while not page.page.evaluate(check):
        assert time.monotonic() < deadline, "the page was never kept for offline reading"
        page.page.wait_for_timeout(200)


def no_horizontal_scroll(page: BrowserPage) -> None:
    assert page.page.evaluate(
        "() => document.documentElement.scrollWidth <= window.innerWidth"), "scrolls sideways"


# --- the instructions -------------------------------------------------------------------------

def test_the_instructions_show_what_to_pay_with_copy_buttons_and_a_qr_ph_code(
        gcash_shop: Shop, order_server: str, browser: Browsing) -> None:
    from playwright.sync_api import expect

    order = place(order_server, gcash_shop)
    mp = order["manual_payment"]
    page = opened(browser, order_server, order)
    page.page.context.grant_permissions(["clipboard-read", "clipboard-write"],
                                        origin=order_server)
    pay = page.page.locator("#pay")
    expect(pay.locator("#pay-amount")).to_have_text(re.compile(r"1,250\.00"))
    expect(pay.locator("#pay-reference")).to_have_text(mp["reference"])
    expect(pay.locator("#pay-account-number")).to_have_text("0917 555 0101")
    expect(pay.locator("#pay-account-name")).to_have_text("Juan Dela Cruz")
    expect(page.page.locator("[data-countdown]")).to_have_text(re.compile(r"\d+:\d\d:\d\d"))
    copy_reference = page.page.get_by_role("button", name="Copy Reference")
    copy_reference.click()
    expect(page.page.locator("#pay-reference ~ .copy-note")).to_have_text("Copied")
    assert page.page.evaluate("() => navigator.clipboard.readText()") == mp["reference"]
    page.page.get_by_role("button", name="Copy Amount to pay").click()
    assert page.page.evaluate("() => navigator.clipboard.readText()") == "1250.00"

    code = page.page.locator(".pay-code img")
    expect(code).to_be_visible()
    assert (code.get_attribute("src") or "").startswith("data:image/svg+xml")
    payload = code.get_attribute("data-payload") or ""
    fields = parse_tlv(payload)
    assert crc_is_valid(payload)
    assert (fields["01"], fields["53"], fields["54"], fields["58"]) == ("12", "608", "1250.00",
                                                                       "PH")
    assert parse_tlv(fields["62"])["05"] == mp["reference"]
    no_horizontal_scroll(page)
    page.screenshot("instructions-phone")
    page.check_accessibility()
    desk = opened(browser, order_server, order, phone=False)
    desk.screenshot("instructions-desktop")
    desk.check_accessibility()


def test_a_upi_order_gets_a_pay_link_and_its_qr_code(
        upi_shop: Shop, order_server: str, browser: Browsing) -> None:
    from playwright.sync_api import expect

    order = place(order_server, upi_shop, method="upi")
    reference = order["manual_payment"]["reference"]
    page = opened(browser, order_server, order)
    link = page.page.get_by_role("link", name="Pay with a UPI app")
    expected = f"upi://pay?pa=asha@okaxis&pn=Asha%20Stores&am=1250.00&tn={reference}&cu=INR"
    expect(link).to_have_attribute("href", expected)
    expect(page.page.locator(".pay-code img")).to_have_attribute("data-payload", expected)
    expect(page.page.locator("#pay-account-number-label")).to_have_text("UPI ID")
    page.screenshot("upi-phone")
    page.check_accessibility()


# --- the proof: upload, retry, rejection, a new proof, paid live -----------------------------

def test_a_proof_is_sent_with_progress_retried_after_a_failure_rejected_and_sent_again(
        gcash_shop: Shop, order_server: str, browser: Browsing) -> None:
    from playwright.sync_api import Route, expect

    order = place(order_server, gcash_shop)
    page = opened(browser, order_server, order)
    # The first attempt loses its connection: the sentence, the file kept, a Retry button.
    failures = []

    def drop_once(route: Route) -> None:
        if not failures:
            failures.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.page.route("**/proof", drop_once)
    choose_file(page, receipt_for(order))
    page.page.get_by_role("button", name="Send the proof").click()
    error = page.page.locator("#proof-error")
    expect(error).to_contain_text("the connection failed")
    retry = page.page.get_by_role("button", name="Retry")
    expect(retry).to_be_visible()
    page.screenshot("upload-failed")
    retry.click()
    expect(page.page.locator("#proof-status")).to_have_text("Sent. The shop is checking it.")
    expect(page.page.locator("#proof-progress")).to_have_attribute("value", "100")
    expect(error).to_be_hidden()
    proof = page.page.locator("#proofs li").first
    expect(proof).to_contain_text("Being checked by the shop")
    page.screenshot("upload-sent")
    [queued] = pending(order_server, gcash_shop)
    assert queued["order_id"] == order["id"]

    # The rejection reaches the open page live (order.updated on the order's stream).
    expect(page.page.locator(".order-stream[data-live=open]")).to_have_count(1, timeout=WAIT_MS)
    page.page.evaluate("() => { window.notReloaded = true; }")
    with httpx.Client(base_url=order_server, headers=gcash_shop.verifier) as api:
        ok(api.post(f"/v1/verifications/{queued['id']}/reject",
                    json={"reason": "The amount is cut off <b>in the photo</b>"}))
    expect(page.page.locator("#proofs li").first).to_contain_text(
        "The shop says: The amount is cut off <b>in the photo</b>", timeout=WAIT_MS)
    assert page.page.evaluate("() => window.notReloaded") is True
    page.page.reload()
    expect(page.page.locator("#proofs li").first).to_contain_text(
        "The shop says: The amount is cut off <b>in the photo</b>")
    expect(page.page.get_by_role("heading", name="Send a new proof")).to_be_visible()
    page.screenshot("rejected")
    page.check_accessibility()

    choose_file(page, receipt_for(order, noise="second try"))
    page.page.get_by_role("button", name="Send the proof").click()
    expect(page.page.locator("#proofs li").first).to_contain_text("Being checked by the shop")
    [again] = pending(order_server, gcash_shop)
    assert again["order_id"] == order["id"] and again["id"] != queued["id"]


def test_the_page_turns_paid_without_a_reload_when_the_proof_is_approved(
        gcash_shop: Shop, order_server: str, browser: Browsing) -> None:
    from playwright.sync_api import expect

    order = place(order_server, gcash_shop)
    with httpx.Client(base_url=order_server, headers=gcash_shop.headers) as api:
        ok(api.put(f"/v1/orders/{order['id']}/payment-proof",
                   headers={"Authorization": f"Bearer {order['access_token']}"},
                   content=receipt_for(order)), 201)
    page = opened(browser, order_server, order)
    expect(page.page.locator(".order-stream[data-live=open]")).to_have_count(1, timeout=WAIT_MS)
    page.page.evaluate("() => { window.notReloaded = true; }")
    expect(page.page.locator("[data-step=paid]")).to_contain_text("not yet")
    [queued] = pending(order_server, gcash_shop)
    with httpx.Client(base_url=order_server, headers=gcash_shop.verifier) as api:
        ok(api.post(f"/v1/verifications/{queued['id']}/approve"))
    expect(page.page.locator("[data-step=paid]")).to_have_class(re.compile(r"\bdone\b"),
                                                                 timeout=WAIT_MS)
    expect(page.page.locator(".status-now")).to_contain_text("Paid")
    expect(page.page.locator("#pay")).to_be_hidden()
    expect(page.page.locator("#proofs li").first).to_contain_text("Accepted")
    assert page.page.evaluate("() => window.notReloaded") is True
    page.screenshot("paid-live")
    page.check_accessibility()

    with httpx.Client(base_url=order_server, headers=gcash_shop.headers) as api:
        version = api.get(f"/v1/orders/{order['id']}").headers["etag"]
        ok(api.patch(f"/v1/orders/{order['id']}/shipping", headers={"If-Match": version},
                     json={"carrier": "LBC", "tracking_number": "LBC-778812",
                           "tracking_url": "https://lbc.example/track/LBC-778812"}))
    expect(page.page.locator("[data-step=shipped]")).to_have_class(re.compile(r"\bdone\b"),
                                                                    timeout=WAIT_MS)
    expect(page.page.locator(".tracking")).to_contain_text("LBC-778812")
    page.screenshot("shipped-live")


# --- offline and language ---------------------------------------------------------------------

def test_the_instructions_stay_readable_offline(
        gcash_shop: Shop, order_server: str, browser: Browsing) -> None:
    from playwright.sync_api import expect

    order = place(order_server, gcash_shop)
    reference = order["manual_payment"]["reference"]
    page = opened(browser, order_server, order)
    wait_until_kept(page, "location.href")
    page.page.context.set_offline(True)
    page.page.reload()
    expect(page.page.locator("#pay-reference")).to_have_text(reference)
    expect(page.page.locator("[data-offline-note]")).to_be_visible()
    page.screenshot("offline")
    # Another order's link has no copy: it is never answered from the first one's.
    other = place(order_server, gcash_shop)
    kept = page.page.evaluate("(url) => caches.match(url).then(kept => !!kept)",
                              order_server + page_of(other))
    assert kept is False
    page.page.context.set_offline(False)


def test_the_language_switch_keeps_bahasa_indonesia(
        gcash_shop: Shop, order_server: str, browser: Browsing) -> None:
    from playwright.sync_api import expect

    order = place(order_server, gcash_shop)
    page = opened(browser, order_server, order)
    page.page.locator(".language-switch summary").click()
    page.page.get_by_role("link", name="Bahasa Indonesia").click()
    expect(page.page.locator("#pay-title")).to_contain_text("Cara membayar")
    page.goto(page_of(order))  # no ?lang=: the cookie keeps the choice
    expect(page.page.locator("html")).to_have_attribute("lang", "id")
    expect(page.page.get_by_role("button", name=re.compile("^Salin"))).to_have_count(3)
    page.screenshot("bahasa-phone")
    page.check_accessibility()


# --- security ---------------------------------------------------------------------------------

def test_a_buyer_field_with_markup_is_shown_as_text_and_never_run(
        gcash_shop: Shop, order_server: str, browser: Browsing) -> None:
    from playwright.sync_api import expect

    order = place(order_server, gcash_shop, name=MARKUP_NAME)
    with httpx.Client(base_url=order_server, headers=HTML) as client:
        answer = client.get(page_of(order))
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in answer.text
    assert MARKUP_NAME not in answer.text
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    page = opened(browser, order_server, order)
    expect(page.page.locator(".order-for")).to_contain_text(MARKUP_NAME)
    assert page.page.evaluate("() => window.pwned") is None
    assert page.page.locator(".order-for b").count() == 0
    # The guard fails the test on any CSP violation: none happened (the markup is text).
    page.assert_clean()
    # Had markup got through, the page's policy would still refuse to run it: an inline script
    # put in the page is blocked (a CSP violation the guard records), and never runs.
    page.page.evaluate("""() => {
        const script = document.createElement('script');
        script.textContent = 'window.pwned = 2';
        document.body.appendChild(script);
    }""")
    page.wait_for_problem("CSP violation in the console", "script-src")
    assert page.page.evaluate("() => window.pwned") is None
    page.problems.clear()  # caused on purpose: the teardown's guard is for the real problems


def test_only_the_orders_own_link_opens_it_and_its_proof(
        gcash_shop: Shop, order_server: str) -> None:
    mine, theirs = place(order_server, gcash_shop), place(order_server, gcash_shop)
    with httpx.Client(base_url=order_server, headers=HTML) as client:
        page = client.get(page_of(mine))
        assert page.status_code == 200
        assert page.headers["cache-control"] == "private, no-store"
        assert page.headers["referrer-policy"] == "no-referrer"
        made_up = "oat_" + "A" * 32
        for path in (f"/o/{made_up}", f"/o/{made_up}/status", "/o/not-a-token",
                     f"/o/{mine['access_token']}x"):
            refused = client.get(path)
            assert refused.status_code == 404, path
            assert mine["number"] not in refused.text
        sent = client.post(f"/o/{mine['access_token']}/proof",
                           files={"file": ("r.png", receipt_for(mine), "image/png")},
                           follow_redirects=False)
        assert sent.status_code == 303
        assert sent.headers["location"].startswith(f"/o/{mine['access_token']}?sent=1")
        shown = client.get(sent.headers["location"])
        assert "Being checked by the shop" in shown.text
        proof_path = re.search(r'href="(/o/oat_[^/]+/proofs/[0-9a-f-]+)"', shown.text)
        assert proof_path is not None
        image = client.get(proof_path.group(1))
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
        assert "sandbox" in image.headers["content-security-policy"]
        assert image.headers["x-content-type-options"] == "nosniff"
        proof_id = proof_path.group(1).rsplit("/", 1)[1]
        assert client.get(f"/o/{theirs['access_token']}/proofs/{proof_id}").status_code == 404
        assert client.get(f"/o/{made_up}/proofs/{proof_id}").status_code == 404


def test_an_svg_or_html_proof_is_refused_in_plain_words_and_nothing_is_kept(
        gcash_shop: Shop, order_server: str) -> None:
    order = place(order_server, gcash_shop)
    with httpx.Client(base_url=order_server, headers=HTML) as client:
        for name, content, kind in (("r.svg", SVG, "image/svg+xml"),
                                    ("r.html", b"<html><script>alert(1)</script></html>",
                                     "text/html")):
            refused = client.post(f"/o/{order['access_token']}/proof",
                                  files={"file": (name, content, kind)})
            assert refused.status_code == 415
            assert "This kind of file is not accepted" in refused.text
            by_script = client.post(f"/o/{order['access_token']}/proof",
                                    headers={"Accept": "application/json"},
                                    files={"file": (name, content, kind)})
            assert by_script.status_code == 415
            assert by_script.json()["code"] == "unsupported_file_type"
        empty = client.post(f"/o/{order['access_token']}/proof", files={"other": ("x", b"1")})
        assert empty.status_code == 400 and "Choose the photo" in empty.text
    with httpx.Client(base_url=order_server) as api:
        proofs = ok(api.get(f"/v1/orders/{order['id']}/payment-proofs",
                            headers={"Authorization": f"Bearer {order['access_token']}"}))
    assert proofs["data"] == []


def test_an_order_paid_another_way_shows_its_status_and_no_instructions(
        gcash_shop: Shop, order_server: str) -> None:
    order = place(order_server, gcash_shop, method="bank_transfer")  # no method behind it
    with httpx.Client(base_url=order_server, headers=HTML) as client:
        shown = client.get(page_of(order))
        assert shown.status_code == 200
        assert "Waiting for your payment" in shown.text and 'id="pay"' not in shown.text
        with httpx.Client(base_url=order_server, headers=gcash_shop.headers) as api:
            ok(api.patch(f"/v1/orders/{order['id']}/payment", json={"reference": "cash"}))
            version = api.get(f"/v1/orders/{order['id']}").headers["etag"]
            ok(api.patch(f"/v1/orders/{order['id']}/shipping", headers={"If-Match": version},
                         json={"carrier": "J&T", "tracking_number": "JT-1"}))
            version = api.get(f"/v1/orders/{order['id']}").headers["etag"]
            ok(api.patch(f"/v1/orders/{order['id']}/status", headers={"If-Match": version},
                         json={"status": "returned"}))
        live = client.get(f"{page_of(order)}/status")
    assert live.status_code == 200
    steps = re.findall(r'data-step="(\w+)"', live.text)
    assert steps == ["placed", "paid", "shipped", "returned"]
    assert "J&amp;T" in live.text and "JT-1" in live.text
    assert "not yet" not in live.text


def test_a_paid_order_offers_its_invoice_to_download_once_the_worker_issued_it(
        gcash_shop: Shop, order_server: str, database_url: str, browser: Browsing) -> None:
    from playwright.sync_api import expect

    order = place(order_server, gcash_shop, method="bank_transfer", name="Nguyễn Thị Hoa")
    with httpx.Client(base_url=order_server, headers=gcash_shop.headers) as api:
        ok(api.patch(f"/v1/orders/{order['id']}/payment", json={"reference": "BDO 4471"}))
    # One round of the worker: it gives the invoice number, then draws the invoice.
    subprocess.run([ORDERLINE, "worker", "--once"], env={
        **os.environ, "ORDERLINE_DATABASE_URL": database_url, "ORDERLINE_LOG_LEVEL": "ERROR"},
        capture_output=True, timeout=120, check=False)
    page = opened(browser, order_server, order)
    link = page.page.get_by_role("link", name=re.compile(r"Download invoice INV-\d{6} \(PDF\)"))
    expect(link).to_be_visible(timeout=WAIT_MS)
    page.screenshot("invoice-link")
    page.check_accessibility()
    no_horizontal_scroll(page)
    with page.page.expect_download() as download:
        link.click()
    assert re.fullmatch(r"INV-\d{6}\.pdf", download.value.suggested_filename)


def test_the_service_worker_is_served_for_the_order_pages(order_server: str) -> None:
    with httpx.Client(base_url=order_server) as client:
        worker = client.get("/o/sw.js")
    assert worker.status_code == 200
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["cache-control"] == "no-cache"
    assert "caches.match" in worker.text
