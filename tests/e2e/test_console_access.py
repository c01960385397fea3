"""The console in Chromium against real ``orderline serve`` processes, on SQLite and
PostgreSQL: logging in through the form, the same answer for a wrong password and an unknown
email, the lockout, a session ended elsewhere, the CSRF refusal, the cookie's flags, another
business's proof, the second factor computed by pyotp, accepting an invitation, the dashboard
with real orders, the verifier's queue and its 403, and ``orderline demo``'s console log-in.
Every page is checked with axe; screenshots at desktop width and at 375 px are in
``test-artifacts/screenshots/<test>/``.

The data is made by async fixtures before the browser starts (a test lists them before
``browser``: Playwright's sync API runs its own event loop while the test runs).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from orderline.core.runtime import Runtime
from orderline.staff import service as staff_service
from orderline.tenancy import service as tenancy
from tests.conftest import Merchant
from tests.support.browser import PHONE, BrowserPage, Browsing, browser_fixture  # noqa: F401
from tests.support.catalog import stock_sku
from tests.support.console import (
    CONSOLE_SERVER_ENV,
    SESSION_COOKIE,
    ConsoleLogin,
    ConsoleShop,
    console_client,
    console_login,
    console_shop,
    log_in_fast,
    log_in_through_form,
)
from tests.support.manual import ok, receipt_for
from tests.support.servers import ORDERLINE, free_port, running_server
from tests.support.staff import Member, new_email

pytestmark = pytest.mark.slow

FAILURES_BEFORE_LOCKOUT = 3
SAME_ANSWER = "The email or password is not right."


@pytest.fixture(scope="module")
def server(database_url: str, shared_db: Any) -> Iterator[str]:
    """``orderline serve`` with the tests' master keys (TOTP secrets) and a low lockout."""
    env = {**CONSOLE_SERVER_ENV,
           "ORDERLINE_STAFF_LOGIN_FAILURES_PER_EMAIL": str(FAILURES_BEFORE_LOCKOUT)}
    with running_server(database_url, extra_env=env) as base:
        yield base


@pytest.fixture
async def shop(runtime: Runtime) -> ConsoleShop:
    """A business with an owner and a verifier, and orders: two paid (to ship), one not."""
    made = await console_shop(runtime, roles=("verifier",))
    merchant = Merchant(principal=await tenancy.authenticate(runtime, made.api_key),
                        key=made.api_key)
    await stock_sku(runtime, merchant, "BEAN-250", 30, price=1_250, threshold=3)
    await stock_sku(runtime, merchant, "MUG-350", 4, price=900, threshold=5)
    return made


def _orders(server: str, shop: ConsoleShop) -> list[dict[str, Any]]:
    """Two paid orders and one waiting for payment, made through the API."""
    made = []
    with httpx.Client(base_url=server, headers=shop.api_headers) as api:
        for sku, channel in (("BEAN-250", "web"), ("MUG-350", "whatsapp"),
                             ("BEAN-250", "instagram")):
            made.append(ok(api.post("/v1/orders", json={
                "customer": {"name": f"Buyer {channel}", "phone": "+1 555 0100"},
                "channel": channel, "payment_method": "card",
                "lines": [{"sku": sku, "quantity": 2}]}), 201))
        for order in made[:2]:
            ok(api.patch(f"/v1/orders/{order['id']}/payment",
                         json={"reference": "pay", "amount": order["total"]}))
    return made


def _check(page: BrowserPage, step: str) -> None:
    page.screenshot(step)
    page.check_accessibility()


def _error_summary(page: BrowserPage) -> str:
    return page.page.locator(".error-summary").inner_text()


# --- logging in ----------------------------------------------------------------------------------

def test_an_owner_logs_in_through_the_form_and_sees_the_dashboard_with_real_orders(
        server: str, shop: ConsoleShop, browser: Browsing) -> None:
    orders = _orders(server, shop)
    page = browser.open(server)
    page.goto("/console")  # no session: the login page, coming back here after
    assert page.page.url.startswith(f"{server}/console/login")
    _check(page, "login")
    log_in_through_form(page, shop.owner, go=False)
    assert page.page.url == f"{server}/console"
    assert page.page.get_by_role("heading", name="Dashboard", exact=True).is_visible()
    page.page.locator(".chart .uplot canvas").first.wait_for(timeout=30_000)
    assert page.page.locator(".chart .uplot").count() == 2  # drawn by uPlot, no inline script
    waiting = page.page.locator("#waiting-to_ship").locator("xpath=..").inner_text()
    assert orders[0]["number"] in waiting and orders[1]["number"] in waiting
    today = page.page.locator(".figures").first.inner_text()
    assert "$43.00" in today  # paid today: 2 x $12.50 + 2 x $9.00
    _check(page, "dashboard-desktop")
    page.page.set_viewport_size({"width": PHONE["width"], "height": PHONE["height"]})
    page.page.reload()
    page.page.locator(".chart .uplot canvas").first.wait_for(timeout=30_000)
    width = page.page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a 375 px phone"
    _check(page, "dashboard-phone")
    page.page.get_by_role("link", name="7 days").click()  # the period picker, by keyboard too
    page.page.wait_for_url(f"{server}/console?period=week")
    page.assert_clean()


def test_a_phone_in_indonesian_logs_in_with_the_keyboard_alone(
        server: str, shop: ConsoleShop, browser: Browsing) -> None:
    page = browser.open(server, viewport=PHONE, locale="id-ID")
    page.goto("/console/login")
    assert page.page.get_by_role("heading", name="Masuk ke konsol").is_visible()
    _check(page, "login-id-phone")
    page.page.get_by_label("Alamat email").focus()
    page.page.keyboard.type(shop.owner.email)
    page.page.keyboard.press("Tab")
    page.page.keyboard.type(shop.owner.password)
    with page.page.expect_navigation():
        page.page.keyboard.press("Enter")
    assert page.page.url == f"{server}/console"
    assert page.page.get_by_role("heading", name="Dasbor", exact=True).is_visible()
    _check(page, "dashboard-id-phone")
    page.assert_clean()


def test_the_session_cookie_is_httponly_samesite_lax_and_scoped_to_the_console(
        server: str, shop: ConsoleShop, browser: Browsing) -> None:
    page = browser.open(server)
    log_in_through_form(page, shop.owner)
    cookies = {c["name"]: c for c in page.page.context.cookies()}
    session = cookies[SESSION_COOKIE]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Lax"
    assert session["path"] == "/console"
    assert session["secure"] is False  # plain HTTP here; over HTTPS it is Secure
    assert session["value"] != shop.owner_login.token  # every login is a new session
    assert page.page.evaluate("() => document.cookie").find(SESSION_COOKIE) == -1
    page.assert_clean()


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer_then_the_lockout(
        server: str, shop: ConsoleShop, browser: Browsing) -> None:
    page = browser.open(server)
    answers = []
    for email, password in ((new_email("nobody"), "a wrong password"),
                            (shop.owner.email, "a wrong password")):
        page.goto("/console/login")
        page.page.get_by_label("Email address").fill(email)
        page.page.get_by_label("Password", exact=True).fill(password)
        page.page.get_by_role("button", name="Log in").click()
        page.page.locator(".error-summary").wait_for()
        answers.append(_error_summary(page))
    assert answers[0] == answers[1] and SAME_ANSWER in answers[0]
    assert page.page.get_by_label("Email address").get_attribute("aria-invalid") == "true"
    _check(page, "same-answer")
    for _ in range(FAILURES_BEFORE_LOCKOUT):
        page.page.get_by_label("Password", exact=True).fill("still wrong")
        page.page.get_by_role("button", name="Log in").click()
        page.page.locator(".error-summary").wait_for()
    locked = _error_summary(page)
    assert "Too many failed logins. Try again in" in locked and "UTC" in locked
    _check(page, "locked-out")
    page.assert_clean()


def test_the_right_password_is_refused_during_a_lockout(
        server: str, shop: ConsoleShop, browser: Browsing) -> None:
    page = browser.open(server)
    for _ in range(FAILURES_BEFORE_LOCKOUT):
        page.goto("/console/login")
        page.page.get_by_label("Email address").fill(shop.owner.email)
        page.page.get_by_label("Password", exact=True).fill("not the password")
        page.page.get_by_role("button", name="Log in").click()
        page.page.locator(".error-summary").wait_for()
    log_in_through_form(page, shop.owner)
    assert page.page.url.startswith(f"{server}/console/login")
    assert "Too many failed logins" in _error_summary(page)
    page.assert_clean()


# --- sessions and CSRF ---------------------------------------------------------------------------

def test_a_session_ended_from_another_device_sends_the_page_back_to_login(
        server: str, shop: ConsoleShop, second_login: ConsoleLogin,
        browser: Browsing) -> None:
    laptop = browser.open(server)
    log_in_fast(laptop, shop.owner_login)
    laptop.goto("/console/account")
    phone = browser.open(server, viewport=PHONE)
    log_in_fast(phone, second_login)
    phone.goto("/console/account")
    _check(phone, "account-phone")
    phone.page.get_by_role("button", name="Log out everywhere").click()
    phone.page.wait_for_url(re.compile(r".*/console/login\?ended=everywhere$"))
    assert phone.page.get_by_text("You are logged out on every device.").is_visible()
    _check(phone, "logged-out-everywhere")
    laptop.page.reload()  # the laptop's session ended too
    assert laptop.page.url == f"{server}/console/login?next=/console/account"
    _check(laptop, "expired-to-login")
    log_in_through_form(laptop, shop.owner, go=False)
    assert laptop.page.url == f"{server}/console/account"  # back where it was
    laptop.assert_clean()
    phone.assert_clean()


@pytest.fixture
async def second_login(runtime: Runtime, shop: ConsoleShop) -> ConsoleLogin:
    return await console_login(runtime, shop.owner)


def test_a_form_without_its_csrf_token_is_refused(
        server: str, shop: ConsoleShop, browser: Browsing) -> None:
    page = browser.open(server)
    log_in_fast(page, shop.owner_login)
    page.goto("/console/account")
    # Evaluated through DevTools (not the page's scripts): take the token out of the form.
    page.page.evaluate("""() => document.querySelectorAll(
        'form[action="/console/account/logout-everywhere"] input[name="csrf_token"]')
        .forEach((input) => input.remove())""")
    with page.page.expect_navigation():
        page.page.get_by_role("button", name="Log out everywhere").click()
    assert page.page.get_by_role("heading", name="You cannot open this page").is_visible()
    _check(page, "csrf-refused")
    with console_client(server, shop.owner_login) as client:
        del client.headers["X-CSRF-Token"]
        assert client.post("/console/logout").status_code == 403
        assert client.get("/console/account").status_code == 200  # nothing ended
    page.assert_clean()


def test_the_dashboard_follows_a_paid_order_live_without_a_reload_keeping_its_period(
        server: str, shop: ConsoleShop, browser: Browsing) -> None:
    from playwright.sync_api import expect

    page = browser.open(server)
    log_in_fast(page, shop.owner_login)
    page.goto("/console?period=month")
    p = page.page
    expect(p.locator("[data-live=open]")).to_have_count(1, timeout=30_000)
    p.locator("details summary").first.click()  # the figures as a table: kept open
    p.evaluate("() => { window.notReloaded = true; }")
    order = _orders(server, shop)[0]  # placed and paid through the API
    waiting = p.locator("#waiting-to_ship").locator("xpath=..")
    expect(waiting).to_contain_text(order["number"], timeout=30_000)
    expect(p.locator(".chart .uplot")).to_have_count(2, timeout=30_000)  # drawn again
    assert p.evaluate("() => window.notReloaded === true")
    assert p.url == f"{server}/console?period=month"
    expect(p.get_by_role("link", name="30 days")).to_have_attribute("aria-current", "true")
    expect(p.locator("details").first).to_have_attribute("open", "")
    _check(page, "dashboard-live")
    page.assert_clean()


def test_the_console_stream_carries_a_new_order_to_a_logged_in_page(
        server: str, shop: ConsoleShop) -> None:
    """What ``hx-ext="sse" sse-connect="/console/stream"`` reads: the business's events, with
    the session cookie as the credential."""
    cookies = {SESSION_COOKIE: shop.owner_login.token}
    with httpx.Client(base_url=server, cookies=cookies,
                      timeout=httpx.Timeout(10, read=60)) as client, client.stream(
            "GET", "/console/stream", headers={"Accept": "text/event-stream"}) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines).startswith(":")  # "stream open": now the order
        order = _orders(server, shop)[0]
        seen = []
        for line in lines:  # capped by the read timeout, never by a sleep
            seen.append(line)
            if line.startswith("data:") and order["id"] in line:
                break
        assert "event: order.created" in seen
    assert httpx.get(f"{server}/console/stream").status_code == 401  # no session


def test_an_htmx_request_carries_the_csrf_token_from_the_pages_meta_tag(
        server: str, shop: ConsoleShop, browser: Browsing) -> None:
    """static/js/console.js: what every htmx form and button of the console relies on."""
    page = browser.open(server)
    log_in_fast(page, shop.owner_login)
    page.goto("/console/account")
    with page.page.expect_response(lambda r: r.url.endswith("/console/logout")) as answer:
        page.page.evaluate("() => htmx.ajax('POST', '/console/logout', "
                           "{target: 'main', swap: 'none'})")
    assert answer.value.status == 303  # accepted: logged out, sent to the login page
    assert answer.value.request.header_value("x-csrf-token") == shop.owner_login.csrf_token
    with console_client(server, shop.owner_login) as client:
        assert client.get("/console/account").status_code == 303  # the session ended
    page.assert_clean()


# --- another business ----------------------------------------------------------------------------

@pytest.fixture
async def other_shop(runtime: Runtime) -> ConsoleShop:
    return await console_shop(runtime, currency="PHP", name="Manila rival")


def test_a_proof_comes_into_the_open_queue_live_and_another_business_gets_404_for_it(
        server: str, shop: ConsoleShop, other_shop: ConsoleShop, browser: Browsing) -> None:
    from playwright.sync_api import expect

    with httpx.Client(base_url=server, headers=other_shop.api_headers) as api:
        ok(api.post("/v1/products", json={"name": "Tee", "variants": [{
            "sku": "TEE", "name": "Tee", "price": 125_000, "initial_stock": 5}]}), 201)
        ok(api.post("/v1/payment-methods", json={
            "template": "gcash", "account_name": "Manila Rival",
            "account_number": "0917 555 0101"}), 201)
        order = ok(api.post("/v1/orders", json={
            "customer": {"name": "Maria Santos", "phone": "+63 917 555 0199"},
            "channel": "whatsapp", "payment_method": "gcash",
            "lines": [{"sku": "TEE", "quantity": 1}]}), 201)
    theirs = browser.open(server)
    log_in_fast(theirs, other_shop.owner_login)
    theirs.goto("/console/verifications")
    expect(theirs.page.locator("[data-live=open]")).to_have_count(1, timeout=30_000)
    assert order["number"] not in theirs.page.locator("main").inner_text()
    # The buyer's receipt arrives while the queue is open: its row comes in without a reload.
    with httpx.Client(base_url=server) as buyer:
        proof = ok(buyer.put(f"/v1/orders/{order['id']}/payment-proof",
                             content=receipt_for(order),
                             headers={"Authorization": f"Bearer {order['access_token']}"}), 201)
    expect(theirs.page.locator("#queue")).to_contain_text(order["number"], timeout=30_000)
    _check(theirs, "queue-with-a-proof")
    theirs.goto(f"/console/verifications/{proof['id']}")
    _check(theirs, "proof")
    mine = browser.open(server)
    log_in_fast(mine, shop.owner_login)
    mine.goto(f"/console/verifications/{proof['id']}", expect_status=404)
    assert mine.page.get_by_role("heading", name="Page not found").is_visible()
    _check(mine, "other-business-404")
    mine.goto(f"/console/verifications/{proof['id']}/file", expect_status=404)
    theirs.assert_clean()
    mine.assert_clean()


# --- the second factor ---------------------------------------------------------------------------

def test_an_owner_turns_on_a_second_factor_and_logs_in_with_the_code_pyotp_computes(
        server: str, shop: ConsoleShop, browser: Browsing) -> None:
    page = browser.open(server)
    log_in_fast(page, shop.owner_login)
    page.goto("/console/account")
    page.page.get_by_role("link", name="Manage the second factor").click()
    page.page.get_by_role("button", name="Set up an authenticator app").click()
    page.page.get_by_role("img", name="QR code of your authenticator secret").wait_for()
    secret = page.page.locator("code.secret").first.inner_text().strip()
    _check(page, "second-factor-qr")
    totp = pyotp.TOTP(secret)
    page.page.get_by_label("Code from the app").fill(totp.now())
    page.page.get_by_role("button", name="Turn on the second factor").click()
    page.page.wait_for_url(re.compile(r".*/console/account\?done=second-factor-on$"))
    assert page.page.get_by_text("Your second factor is on.").is_visible()
    page.page.get_by_role("button", name="Log out", exact=True).click()
    page.page.wait_for_url(re.compile(r".*/console/login\?ended=logout$"))

    log_in_through_form(page, shop.owner, go=False)
    code = page.page.get_by_label("Authenticator code")
    assert code.is_visible()
    assert shop.owner.password not in page.page.content()  # sealed in the form, never as text
    _check(page, "second-step")
    # The code just used is spent; the next 30-second step's code is within the allowed drift.
    code.fill(totp.at(time.time() + 30))
    with page.page.expect_navigation():
        page.page.get_by_role("button", name="Log in").click()
    assert page.page.url == f"{server}/console"
    page.assert_clean()


# --- invitations and roles -----------------------------------------------------------------------

@pytest.fixture
async def invitation(runtime: Runtime, shop: ConsoleShop) -> tuple[str, str]:
    email = new_email("verifier")
    issued = await staff_service.invite(runtime, shop.owner_login.principal, email=email,
                                        role="verifier")
    return issued.token, email


def test_an_invited_verifier_joins_opens_the_queue_and_gets_403_on_an_admin_page(
        server: str, invitation: tuple[str, str], browser: Browsing) -> None:
    token, email = invitation
    page = browser.open(server, viewport=PHONE)
    page.goto(f"/console/invitations/{token}")
    assert email in page.page.locator("main").inner_text()
    _check(page, "invitation")
    page.page.get_by_label("Your name").fill("Vera Verifier")
    page.page.get_by_label("Password", exact=True).fill("a long enough password")
    page.page.get_by_label("The same password again").fill("not the same password")
    page.page.get_by_role("button", name="Create my account").click()
    page.page.locator(".error-summary").wait_for()
    assert "The two passwords are not the same." in _error_summary(page)
    _check(page, "invitation-mismatch")
    page.page.get_by_label("Password", exact=True).fill("a long enough password")
    page.page.get_by_label("The same password again").fill("a long enough password")
    with page.page.expect_navigation(url=re.compile(r".*/console/verifications$")):
        page.page.get_by_role("button", name="Create my account").click()
    assert page.page.get_by_role("heading", name="Payment proofs to verify").is_visible()
    nav = page.page.get_by_role("navigation", name="Main").inner_text()
    assert "Verifications" in nav and "Orders" not in nav and "Settings" not in nav
    _check(page, "verifier-queue")
    page.goto("/console/account/second-factor", expect_status=403)
    _check(page, "verifier-403")
    page.goto(f"/console/invitations/{token}", expect_status=410)
    assert page.page.get_by_role("heading", name="This invitation link cannot be used").is_visible()
    _check(page, "invitation-used")
    page.assert_clean()


# --- the demo ------------------------------------------------------------------------------------

@pytest.fixture
def demo(database_url: str, shared_db: Any) -> Iterator[tuple[str, str, str, str]]:
    """``orderline demo`` on its own port: (base URL, owner email, password, the buyer's
    checkout link) from its output."""
    port = free_port()
    with tempfile.NamedTemporaryFile(prefix="orderline-demo-", suffix=".log",
                                     delete=False) as log:
        proc = subprocess.Popen([ORDERLINE, "demo", "--port", str(port), "--database-url",
                                 database_url], stdout=log, stderr=subprocess.STDOUT,
                                env={**CONSOLE_SERVER_ENV, **_env()})
    try:
        text = _wait_for(Path(log.name), proc, r"password\s+(\S+)")
        email = re.search(r"log in as\s+(\S+)", text)
        password = re.search(r"password\s+(\S+)", text)
        assert email and password, text
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:  # capped wait for the server to answer
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, Path(log.name).read_text()
            time.sleep(0.2)
        assert f"Console:       {base}/console" in text
        link = re.search(rf"{re.escape(base)}(/c/ct_[A-Za-z0-9_-]+)", text)
        assert link, text
        yield base, email.group(1), password.group(1), link.group(1)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        Path(log.name).unlink(missing_ok=True)


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "ORDERLINE_LOG_LEVEL": "WARNING", "ORDERLINE_DB_POOL_SIZE": "5"}


def _wait_for(log: Path, proc: subprocess.Popen[bytes], pattern: str) -> str:
    deadline = time.monotonic() + 120
    while True:
        text = log.read_text(errors="replace")
        if re.search(pattern, text):
            return text
        assert proc.poll() is None and time.monotonic() < deadline, text
        time.sleep(0.2)


def test_orderline_demo_prints_a_console_log_in_that_opens_the_demo_shops_orders(
        demo: tuple[str, str, str, str], browser: Browsing) -> None:
    base, email, password, checkout = demo
    page = browser.open(base)
    page.goto("/")
    page.page.get_by_role("button", name="Open the console").click()  # a link drawn as a button
    page.page.wait_for_url(re.compile(r".*/console/login"))
    log_in_through_form(page, Member(row=None, email=email,  # type: ignore[arg-type]
                                     password=password), go=False)
    assert page.page.url == f"{base}/console"
    assert "Demo Coffee Shop" in page.page.locator("header").inner_text()
    waiting = page.page.locator("#waiting-to_ship").locator("xpath=..").inner_text()
    assert re.search(r"\d", waiting)
    page.page.locator(".chart .uplot canvas").first.wait_for(timeout=30_000)
    _check(page, "demo-dashboard")
    page.assert_clean()
    # The buyer's checkout link it printed opens the demo cart on a phone.
    buyer = browser.open(base, viewport=PHONE)
    buyer.goto(checkout)
    names = buyer.page.locator(".line-name")
    names.first.wait_for(timeout=30_000)
    assert sorted(names.all_inner_texts()) == ["Ceramic mug 350ml", "House blend 250g"]
    _check(buyer, "demo-checkout-phone")
    buyer.assert_clean()
