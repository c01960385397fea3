"""The console's own pages in the test's process (the real app over ASGI, on each database):
the dashboard from real orders, the verifier's queue and who may open it, a proof of another
business, accepting an invitation, the second factor set up and used to log in, and logging
out everywhere."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from html import unescape
from typing import Any

import httpx
import pyotp
import pytest

from orderline.core.clock import ManualClock
from orderline.core.runtime import Runtime
from orderline.staff import service as staff_service
from orderline.tenancy import service as tenancy
from tests.conftest import Merchant
from tests.support.catalog import place, stock_sku
from tests.support.console import (
    SESSION_COOKIE,
    ConsoleShop,
    async_console_client,
    console_login,
    console_shop,
)
from tests.support.manual import (
    gcash,
    manual_order,
    ok,
    receipt_for,
    upload,
)
from tests.support.staff import join, new_email

BASE = "http://test"


@pytest.fixture
def page_clock(clock: ManualClock) -> ManualClock:
    """The clock of the pages' runtime (``shop_runtime``'s)."""
    return clock


@pytest.fixture
async def console(page_runtime: Runtime) -> ConsoleShop:
    return await console_shop(page_runtime, roles=("verifier", "operations"))


@pytest.fixture
async def owner(transport: httpx.ASGITransport, console: ConsoleShop
                ) -> AsyncIterator[httpx.AsyncClient]:
    async with async_console_client(transport, BASE, console.owner_login) as client:
        yield client


@pytest.fixture
async def stranger(transport: httpx.ASGITransport) -> AsyncIterator[httpx.AsyncClient]:
    async with async_console_client(transport, BASE, None) as client:
        yield client


async def _merchant(runtime: Runtime, shop: ConsoleShop) -> Merchant:
    return Merchant(principal=await tenancy.authenticate(runtime, shop.api_key),
                    key=shop.api_key)


def _form_token(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match is not None, f"no {name} in the page"
    return match.group(1)


# --- the dashboard -----------------------------------------------------------------------------

async def test_the_dashboard_shows_todays_orders_revenue_and_what_waits(
        page_runtime: Runtime, owner: httpx.AsyncClient, console: ConsoleShop,
        transport: httpx.ASGITransport) -> None:
    merchant = await _merchant(page_runtime, console)
    await stock_sku(page_runtime, merchant, "MUG", 3, price=2_500, threshold=5)
    unpaid = await place(page_runtime, merchant, ("MUG", 1))
    paid = await place(page_runtime, merchant, ("MUG", 1))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as api:
        ok(await api.patch(f"/v1/orders/{paid['id']}/payment", headers=console.api_headers,
                           json={"reference": "pay-1", "amount": paid["total"]}))
    page = await owner.get("/console?period=month")
    assert page.status_code == 200, page.text
    html = page.text
    assert paid["number"] in html  # paid, to ship
    assert f'href="/console/orders/{paid["id"]}"' in html
    assert "MUG" in html  # 1 left of a threshold of 5: low stock
    assert "$25.00" in html  # the revenue of the paid order, in the business's currency
    charts = [json.loads(unescape(data)) for data in re.findall(r'data-chart="([^"]+)"', html)]
    revenue, orders = charts
    assert sum(revenue["series"][0]["values"]) == 25.0  # in dollars, for the axis
    assert sum(orders["series"][0]["values"]) == 2  # placed
    assert sum(orders["series"][1]["values"]) == 1  # paid
    assert len(orders["x"]) == 30
    assert unpaid["id"] != paid["id"]
    assert 'aria-current="true" class="chosen">30 days' in html
    # Channels by their names, not their codes.
    channel = paid["channel"]
    shown = {"web": "Web shop", "whatsapp": "WhatsApp", "api": "API"}[channel]
    assert f'<th scope="row">{shown}</th>' in html


async def test_a_period_the_dashboard_does_not_know_shows_the_week(
        owner: httpx.AsyncClient) -> None:
    page = await owner.get("/console?period=decade")
    assert page.status_code == 200
    assert 'aria-current="true" class="chosen">7 days' in page.text


async def test_the_dashboard_listens_to_the_stream_and_its_figures_follow_new_orders(
        page_runtime: Runtime, owner: httpx.AsyncClient, console: ConsoleShop,
        transport: httpx.ASGITransport) -> None:
    page = await owner.get("/console?period=month")
    assert page.status_code == 200, page.text
    connect = re.findall(r'sse-connect="/console/stream\?types=([^"]+)"', page.text)
    assert connect and {"order.created", "order.paid", "order.shipped",
                        "order.cancelled"} <= set(connect[0].split(","))
    assert 'hx-get="/console/dashboard/figures?period=month"' in page.text  # the period kept
    assert "sse:order.paid" in page.text and "sse:order.created" in page.text

    before = await owner.get("/console/dashboard/figures?period=month")
    assert before.status_code == 200 and "<html" not in before.text  # the figures alone
    merchant = await _merchant(page_runtime, console)
    await stock_sku(page_runtime, merchant, "MUG", 3, price=2_500)
    paid = await place(page_runtime, merchant, ("MUG", 1))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as api:
        ok(await api.patch(f"/v1/orders/{paid['id']}/payment", headers=console.api_headers,
                           json={"reference": "pay-1", "amount": paid["total"]}))
    after = await owner.get("/console/dashboard/figures?period=month")
    assert "$25.00" not in before.text and "$25.00" in after.text
    assert paid["number"] in after.text  # now waiting to be shipped
    charts = [json.loads(unescape(data))
              for data in re.findall(r'data-chart="([^"]+)"', after.text)]
    assert len(charts[1]["x"]) == 30  # still the month


async def test_the_dashboard_s_stream_asks_for_proof_events_only_of_those_who_may_verify(
        page_runtime: Runtime, transport: httpx.ASGITransport, console: ConsoleShop,
        owner: httpx.AsyncClient) -> None:
    assert "payment_proof.submitted" in (await owner.get("/console")).text
    login = await console_login(page_runtime, console.staff["operations"])
    async with async_console_client(transport, BASE, login) as operations:
        page = await operations.get("/console")
        assert "sse-connect" in page.text and "payment_proof." not in page.text
    verifier_login = await console_login(page_runtime, console.staff["verifier"])
    async with async_console_client(transport, BASE, verifier_login) as verifier:
        assert (await verifier.get("/console/dashboard/figures")).status_code == 403


# --- the verifier's queue ------------------------------------------------------------------------

async def test_a_verifier_lands_on_the_queue_and_may_not_set_up_a_second_factor(
        page_runtime: Runtime, transport: httpx.ASGITransport, console: ConsoleShop) -> None:
    login = await console_login(page_runtime, console.staff["verifier"])
    async with async_console_client(transport, BASE, login) as verifier:
        first = await verifier.get("/console")
        assert first.status_code == 303
        assert first.headers["location"] == "/console/verifications"
        queue = await verifier.get("/console/verifications")
        assert queue.status_code == 200
        assert "Nothing to verify" in queue.text
        refused = await verifier.get("/console/account/second-factor")
        assert refused.status_code == 403
        assert "You cannot open this page" in refused.text
        posted = await verifier.post("/console/account/second-factor")
        assert posted.status_code == 403


async def test_operations_staff_may_not_open_the_verification_queue(
        page_runtime: Runtime, transport: httpx.ASGITransport, console: ConsoleShop) -> None:
    login = await console_login(page_runtime, console.staff["operations"])
    async with async_console_client(transport, BASE, login) as operations:
        assert (await operations.get("/console/verifications")).status_code == 403
        assert (await operations.get("/console")).status_code == 200


async def a_gcash_shop(page_runtime: Runtime, name: str) -> tuple[uuid.UUID, Merchant]:
    """A PHP shop selling a tee and taking GCash (its id, and its owner's key)."""
    created = await tenancy.create_business(page_runtime, name=name, currency="PHP")
    return created.id, Merchant(
        principal=await tenancy.authenticate(page_runtime, created.api_key.key),
        key=created.api_key.key)


async def a_proof_waiting(api: httpx.AsyncClient, merchant: Merchant) -> tuple[Any, Any]:
    """A GCash order of the tee whose buyer sent a receipt: the order and the proof."""
    ok(await api.post("/v1/products", headers=merchant.headers, json={
        "name": "Tee", "variants": [{"sku": "TEE", "name": "Tee", "price": 125_000,
                                     "initial_stock": 5}]}), 201)
    await gcash(api, merchant)
    order = await manual_order(api, merchant)
    return order, ok(await upload(api, order, receipt_for(order)), 201)


async def test_the_queue_lists_a_proof_and_another_business_gets_404_for_it(
        page_runtime: Runtime, transport: httpx.ASGITransport, console: ConsoleShop) -> None:
    # A PHP shop taking GCash, with a buyer's receipt waiting.
    business_id, merchant = await a_gcash_shop(page_runtime, "Manila console shop")
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as api:
        order, proof = await a_proof_waiting(api, merchant)
    manila_owner = await join(page_runtime, business_id, "owner", email=new_email("manila"))
    login = await console_login(page_runtime, manila_owner)
    async with async_console_client(transport, BASE, login) as manila:
        queue = await manila.get("/console/verifications")
        assert queue.status_code == 200
        assert order["number"] in queue.text
        assert "sse-connect=\"/console/stream?types=payment_proof.submitted" in queue.text
        assert 'hx-get="/console/verifications/rows"' in queue.text
        assert f'href="/console/verifications/{proof["id"]}"' in queue.text
        detail = await manila.get(f"/console/verifications/{proof['id']}")
        assert detail.status_code == 200
        image = await manila.get(f"/console/verifications/{proof['id']}/file")
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    async with async_console_client(transport, BASE, console.owner_login) as other:
        for path in (f"/console/verifications/{proof['id']}",
                     f"/console/verifications/{proof['id']}/file",
                     "/console/verifications/not-an-id"):
            answer = await other.get(path)
            assert answer.status_code == 404, path
        assert order["number"] not in (await other.get("/console/verifications")).text


async def test_the_queue_s_rows_follow_a_new_proof_for_the_live_part(
        page_runtime: Runtime, transport: httpx.ASGITransport, console: ConsoleShop) -> None:
    business_id, merchant = await a_gcash_shop(page_runtime, "Live queue shop")
    member = await join(page_runtime, business_id, "verifier", email=new_email("live"))
    async with async_console_client(transport, BASE,
                                    await console_login(page_runtime, member)) as verifier:
        page = await verifier.get("/console/verifications")
        assert "sse:payment_proof.submitted" in page.text
        assert "sse:payment_proof.approved" in page.text
        empty = await verifier.get("/console/verifications/rows")
        assert empty.status_code == 200 and "Nothing to verify" in empty.text
        assert "<html" not in empty.text
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as api:
            order, _ = await a_proof_waiting(api, merchant)
        rows = await verifier.get("/console/verifications/rows")
        assert rows.status_code == 200 and order["number"] in rows.text
    operations = await console_login(page_runtime, console.staff["operations"])
    async with async_console_client(transport, BASE, operations) as other:
        assert (await other.get("/console/verifications/rows")).status_code == 403


# --- invitations ---------------------------------------------------------------------------------

async def test_an_invited_person_chooses_a_password_twice_and_lands_in_the_console(
        page_runtime: Runtime, stranger: httpx.AsyncClient, console: ConsoleShop) -> None:
    email = new_email("invited")
    issued = await staff_service.invite(page_runtime, console.owner_login.principal,
                                        email=email, role="operations")
    path = f"/console/invitations/{issued.token}"
    form = await stranger.get(path)
    assert form.status_code == 200
    assert email in form.text and "operations" in form.text
    assert form.headers["referrer-policy"] == "no-referrer"
    mismatch = await stranger.post(path, data={"name": "Omar", "password": "a long password",
                                               "password_again": "another password"})
    assert mismatch.status_code == 422
    assert "The two passwords are not the same." in mismatch.text
    short = await stranger.post(path, data={"name": "Omar", "password": "short",
                                            "password_again": "short"})
    assert short.status_code == 422
    joined = await stranger.post(path, data={"name": "Omar Ops",
                                             "password": "a long password",
                                             "password_again": "a long password"})
    assert joined.status_code == 303, joined.text
    assert joined.headers["location"] == "/console"
    assert SESSION_COOKIE in joined.headers["set-cookie"]
    home = await stranger.get("/console")
    assert home.status_code == 200 and "Omar Ops" in home.text
    used = await stranger.get(path)
    assert used.status_code == 410
    assert "already used" in used.text


async def test_an_expired_or_unknown_invitation_link_says_so(
        page_runtime: Runtime, page_clock: ManualClock, stranger: httpx.AsyncClient,
        console: ConsoleShop) -> None:
    issued = await staff_service.invite(page_runtime, console.owner_login.principal,
                                        email=new_email("late"), role="viewer")
    page_clock.advance(page_runtime.settings.staff_invitation_hours * 3600 + 60)
    expired = await stranger.get(f"/console/invitations/{issued.token}")
    assert expired.status_code == 410
    assert "This invitation has expired" in expired.text
    posted = await stranger.post(f"/console/invitations/{issued.token}", data={
        "name": "Late", "password": "a long password", "password_again": "a long password"})
    assert posted.status_code == 410
    unknown = await stranger.get(f"/console/invitations/{uuid.uuid4().hex}")
    assert unknown.status_code == 410
    assert "cannot be used" in unknown.text


# --- the second factor ---------------------------------------------------------------------------

async def test_an_owner_sets_up_a_second_factor_and_then_logs_in_with_its_code(
        page_runtime: Runtime, page_clock: ManualClock, owner: httpx.AsyncClient,
        stranger: httpx.AsyncClient, console: ConsoleShop) -> None:
    assert (await owner.get("/console/account/second-factor")).status_code == 200
    setup = await owner.post("/console/account/second-factor")
    assert setup.status_code == 200
    secret = re.search(r'<code class="secret">([A-Z2-7]{16,})</code>', setup.text)
    assert secret is not None
    assert 'src="data:image/svg+xml' in setup.text  # the QR code
    assert "otpauth://totp/" in setup.text
    totp = pyotp.TOTP(secret.group(1))
    wrong = await owner.post("/console/account/second-factor/confirm", data={"code": "000000"})
    assert wrong.status_code == 422 and "not right" in wrong.text
    on = await owner.post("/console/account/second-factor/confirm",
                          data={"code": totp.at(page_clock.now())})
    assert on.status_code == 303
    assert "second factor is on" in (await owner.get(on.headers["location"])).text.lower()

    page_clock.advance(31)  # a code is accepted once: the next one
    login = await stranger.get("/console/login")
    token = _form_token(login.text, "login_token")
    first = await stranger.post("/console/login", data={
        "email": console.owner.email, "password": console.owner.password,
        "login_token": token})
    assert first.status_code == 200
    assert "authenticator" in first.text
    assert console.owner.password not in first.text  # sealed, never as text
    state = _form_token(first.text, "login_state")
    refused = await stranger.post("/console/login", data={
        "email": console.owner.email, "login_state": state, "code": "123456",
        "login_token": token})
    assert refused.status_code == 401
    assert "The email or password is not right." in refused.text
    done = await stranger.post("/console/login", data={
        "email": console.owner.email, "login_state": state,
        "code": totp.at(page_clock.now()), "login_token": token})
    assert done.status_code == 303, done.text
    assert (await stranger.get("/console")).status_code == 200


# --- sessions ------------------------------------------------------------------------------------

async def test_the_account_lists_the_sessions_and_logging_out_everywhere_ends_them_all(
        page_runtime: Runtime, transport: httpx.ASGITransport, owner: httpx.AsyncClient,
        console: ConsoleShop) -> None:
    other = await console_login(page_runtime, console.owner)
    account = await owner.get("/console/account")
    assert account.status_code == 200
    assert account.text.count("pytest console") >= 2  # both logins, with their device
    assert "This session" in account.text
    async with async_console_client(transport, BASE, other) as phone:
        assert (await phone.get("/console")).status_code == 200
        ended = await owner.post("/console/account/logout-everywhere")
        assert ended.status_code == 303
        assert ended.headers["location"] == "/console/login?ended=everywhere"
        assert (await phone.get("/console")).status_code == 303
    assert (await owner.get("/console")).status_code == 303
    listed = await console_login(page_runtime, console.owner)
    async with async_console_client(transport, BASE, listed) as again:
        text = (await again.get("/console/account")).text
    assert text.count("Logged out") >= 2
