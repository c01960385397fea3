"""The verification workspace (``/console/verifications``), on each database.

Over HTTP in the test's process (the real app over ASGI): deciding opens the next proof,
rejecting with a picked reason tells the buyer, the second of two deciders is told who won,
bulk results one by one, the filters, a PDF in a frame, and who may not (no verify scope: 403;
another business: 404; no CSRF token: 403, nothing changes).

In Chromium against a real ``orderline serve``: a verifier approves with the keyboard and the
next proof opens, rejects with a picked reason, approves 20 proofs in bulk and sees each
result, and two verifiers race on one proof; axe on the queue and the proof page at desktop
and phone sizes, screenshots in ``test-artifacts/screenshots/<test>/``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from orderline.core.clock import ManualClock
from orderline.core.runtime import Runtime
from orderline.manual_payments.files.configured import PROOF_READER
from orderline.manual_payments.scoring import score_due
from orderline.tenancy import service as tenancy
from tests.conftest import Merchant
from tests.support.browser import (  # noqa: F401 (the fixture browser)
    PHONE,
    Browsing,
    browser_fixture,
)
from tests.support.console import (  # noqa: F401 (the fixture console_server)
    ConsoleLogin,
    ConsoleShop,
    async_console_client,
    console_login,
    console_server_fixture,
    console_shop,
    gcash_tee_api,
    log_in_fast,
    opened,
    verifier_desk,
)
from tests.support.manual import (
    ReceiptText,
    buyer,
    gcash,
    manual_order,
    ok,
    receipt_for,
    upload,
)
from tests.support.proof_samples import pdf_bytes

BASE = "http://test"
WAIT_MS = 30_000  # a generous cap on waiting for a condition, never a duration that decides


@pytest.fixture
def page_clock(clock: ManualClock) -> ManualClock:
    return clock


@pytest.fixture
def page_runtime(shop_runtime: Runtime, clock: ManualClock) -> Runtime:
    shop_runtime.put(PROOF_READER, ReceiptText(clock.now().strftime("%Y-%m-%d")))
    return shop_runtime


@pytest.fixture
async def shop(page_runtime: Runtime) -> ConsoleShop:
    return await console_shop(page_runtime, name="Toko Bukti", currency="PHP",
                              roles=("verifier", "operations"))


@pytest.fixture
async def api(transport: httpx.ASGITransport, shop: ConsoleShop, page_runtime: Runtime
              ) -> AsyncIterator[tuple[httpx.AsyncClient, Merchant]]:
    merchant = Merchant(principal=await tenancy.authenticate(page_runtime, shop.api_key),
                        key=shop.api_key)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        ok(await client.post("/v1/products", headers=merchant.headers, json={
            "name": "Tee", "variants": [{"sku": "TEE", "name": "Tee", "price": 125_000,
                                         "initial_stock": 50}]}), 201)
        await gcash(client, merchant)
        yield client, merchant


@pytest.fixture
async def verifier(transport: httpx.ASGITransport, shop: ConsoleShop, page_runtime: Runtime
                   ) -> AsyncIterator[httpx.AsyncClient]:
    login = await console_login(page_runtime, shop.staff["verifier"])
    async with async_console_client(transport, BASE, login) as client:
        yield client


async def a_proof(api: tuple[httpx.AsyncClient, Merchant], *, quantity: int = 1,
                  n: int = 0, content: bytes | None = None) -> tuple[Any, Any]:
    client, merchant = api
    order = await manual_order(client, merchant, quantity=quantity,
                               phone=f"+63 917 555 {1000 + n:04d}")
    proof = ok(await upload(client, order, content or receipt_for(order)), 201)
    return order, proof


async def verification(api: tuple[httpx.AsyncClient, Merchant], proof_id: str) -> Any:
    client, merchant = api
    return ok(await client.get(f"/v1/verifications/{proof_id}", headers=merchant.headers))


def location(answer: httpx.Response) -> str:
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


# --- over HTTP -----------------------------------------------------------------------------------

async def test_deciding_opens_the_next_pending_proof_then_the_empty_queue(
        api: tuple[httpx.AsyncClient, Merchant], verifier: httpx.AsyncClient,
        page_clock: ManualClock) -> None:
    first_order, first = await a_proof(api, n=1)
    page_clock.advance(60)
    _, second = await a_proof(api, n=2)
    page = await verifier.get(f"/console/verifications/{first['id']}")
    assert page.status_code == 200
    assert f'href="/console/verifications/{second["id"]}" id="next-proof"' in page.text
    assert 'id="previous-proof"' not in page.text  # the oldest has none before it
    answer = await verifier.post(f"/console/verifications/{first['id']}/approve")
    assert location(answer).startswith(f"/console/verifications/{second['id']}?done=approved")
    opened = await verifier.get(location(answer))
    assert f"Order {first_order['number']}: proof approved." in opened.text
    assert (await verification(api, first["id"]))["status"] == "approved"
    client, merchant = api
    paid = ok(await client.get(f"/v1/orders/{first_order['id']}", headers=merchant.headers))
    assert paid["status"] == "paid"
    last = await verifier.post(f"/console/verifications/{second['id']}/reject",
                               data={"reason_code": "unreadable"})
    assert location(last) == "/console/verifications?done=empty"
    assert "the queue is empty" in (await verifier.get(location(last))).text


async def test_a_picked_reason_reaches_the_buyer_and_none_is_refused(
        api: tuple[httpx.AsyncClient, Merchant], verifier: httpx.AsyncClient) -> None:
    order, proof = await a_proof(api)
    refused = await verifier.post(f"/console/verifications/{proof['id']}/reject",
                                  data={"reason_code": "", "reason": "  "})
    assert refused.status_code == 400
    assert 'href="#reason-code"' in refused.text  # the error summary links to the field
    assert (await verification(api, proof["id"]))["status"] == "pending"
    answer = await verifier.post(f"/console/verifications/{proof['id']}/reject",
                                 data={"reason_code": "wrong_amount",
                                       "reason": "It says 1,000."})
    assert location(answer) == "/console/verifications?done=empty"
    client, _ = api
    mine = ok(await client.get(f"/v1/orders/{order['id']}/payment-proofs",
                               headers=buyer(order)))["data"][0]
    assert mine["status"] == "rejected"
    assert mine["reason"] == "The amount on the receipt is not the order's total. It says 1,000."


async def test_the_second_decider_is_told_who_decided_and_when(
        api: tuple[httpx.AsyncClient, Merchant], verifier: httpx.AsyncClient,
        transport: httpx.ASGITransport, shop: ConsoleShop) -> None:
    _, proof = await a_proof(api)
    async with async_console_client(transport, BASE, shop.owner_login) as owner:
        assert (await owner.post(f"/console/verifications/{proof['id']}/approve")
                ).status_code == 303
    late = await verifier.post(f"/console/verifications/{proof['id']}/reject",
                               data={"reason_code": "duplicate"})
    assert late.status_code == 409
    decided = await verification(api, proof["id"])
    when = decided["decided_at"][:16].replace("T", " ")
    assert f"Already approved by Olivia Owner at {when} UTC." in late.text
    assert decided["status"] == "approved"
    assert [a["action"] for a in decided["audit"]] == ["submitted", "approved"]
    # The proof's own page says so too, with no form left to decide it.
    page = await verifier.get(f"/console/verifications/{proof['id']}")
    assert "Approved by Olivia Owner at" in page.text and 'id="approve-form"' not in page.text


async def test_bulk_decisions_show_each_result_on_its_own(
        api: tuple[httpx.AsyncClient, Merchant], verifier: httpx.AsyncClient,
        transport: httpx.ASGITransport, shop: ConsoleShop) -> None:
    proofs = [(await a_proof(api, n=i))[1] for i in range(3)]
    async with async_console_client(transport, BASE, shop.owner_login) as owner:
        await owner.post(f"/console/verifications/{proofs[1]['id']}/approve")
    answer = await verifier.post("/console/verifications/bulk", data={
        "action": "approve", "id": [p["id"] for p in proofs]})
    assert answer.status_code == 200, answer.text
    rows = re.findall(r'data-proof-id="([^"]+)" data-ok="(yes|no)"', answer.text)
    assert rows == [(proofs[0]["id"], "yes"), (proofs[1]["id"], "no"),
                    (proofs[2]["id"], "yes")]
    assert "2 of 3 done." in answer.text
    assert "Already approved by Olivia Owner at" in answer.text
    assert {(await verification(api, p["id"]))["status"] for p in proofs} == {"approved"}
    nothing = await verifier.post("/console/verifications/bulk", data={"action": "approve"})
    assert nothing.status_code == 400 and "Select at least one proof" in nothing.text
    # Rejecting many needs a reason the buyers will read; with one, each is rejected.
    more = [(await a_proof(api, n=10 + i))[1] for i in range(2)]
    ids = [p["id"] for p in more]
    unexplained = await verifier.post("/console/verifications/bulk",
                                      data={"action": "reject", "id": ids})
    assert unexplained.status_code == 400 and 'href="#bulk-reason-code"' in unexplained.text
    assert {(await verification(api, i))["status"] for i in ids} == {"pending"}
    rejected = await verifier.post("/console/verifications/bulk", data={
        "action": "reject", "id": ids, "reason_code": "other", "reason": "Blurry photo."})
    assert re.findall(r'data-ok="(yes|no)"', rejected.text) == ["yes", "yes"]
    assert {(await verification(api, i))["reason"] for i in ids} == {"Blurry photo."}


async def test_the_filters_narrow_the_queue_and_stay_in_its_links(
        api: tuple[httpx.AsyncClient, Merchant], verifier: httpx.AsyncClient,
        page_runtime: Runtime, page_clock: ManualClock) -> None:
    one, _ = await a_proof(api, n=1)  # read as matching the amount: 70
    two, _ = await a_proof(api, n=2, quantity=2)  # the amount does not match: 30
    while await score_due(page_runtime):
        pass
    page_clock.advance(3 * 3600)
    fresh, _ = await a_proof(api, n=3)  # not read yet, and newer

    async def numbers(query: str) -> set[str]:
        page = await verifier.get(f"/console/verifications?{query}")
        assert page.status_code == 200, page.text
        found = {o["number"] for o in (one, two, fresh) if f">{o['number']}</a>" in page.text}
        return found

    assert await numbers("") == {one["number"], two["number"], fresh["number"]}
    assert await numbers("min_score=60") == {one["number"]}
    assert await numbers("max_score=50") == {two["number"]}
    assert await numbers("unscored=1") == {fresh["number"]}
    assert await numbers("older_than=60") == {one["number"], two["number"]}
    assert await numbers("method=gcash&min_score=0") == {one["number"], two["number"]}
    assert await numbers("status=approved") == set()
    page = await verifier.get("/console/verifications?min_score=60")
    assert 'hx-get="/console/verifications/rows?min_score=60"' in page.text
    assert "3 waiting" in page.text  # the count is the whole queue's
    # Rows name the method as the shop named it, not by its code.
    assert '<td class="verify-wide">GCash</td>' in page.text
    rows = await verifier.get("/console/verifications/rows?min_score=60")
    assert one["number"] in rows.text and two["number"] not in rows.text
    bad = await verifier.get("/console/verifications?min_score=lots")
    assert bad.status_code == 400 and 'href="#min_score"' in bad.text


async def test_the_proof_page_sets_what_was_read_beside_the_order(
        api: tuple[httpx.AsyncClient, Merchant], verifier: httpx.AsyncClient,
        page_runtime: Runtime) -> None:
    order, first = await a_proof(api)
    await verifier.post(f"/console/verifications/{first['id']}/reject",
                        data={"reason_code": "unreadable"})
    client, _ = api
    second = ok(await upload(client, order, receipt_for(order)), 201)
    while await score_due(page_runtime):
        pass
    page = (await verifier.get(f"/console/verifications/{second['id']}")).text
    assert order["manual_payment"]["reference"] in page
    assert "Maria Santos" in page and "+63 917 555 1000" in page
    assert "Score: 70 out of 100." in page
    rows = dict(re.findall(r'<th scope="row">(\w+)</th>.*?<span class="verify-verdict '
                           r'verify-(\w+)">', page, re.S))
    # The reference was not on the receipt; everything else was, each said in words.
    assert rows == {"Amount": "match", "Reference": "mismatch", "Date": "match",
                    "Recipient": "match"}
    assert "Does not match" in page and "Matches" in page
    assert "The receipt cannot be read; please send a clearer picture." in page  # earlier
    assert f'href="/console/verifications/{first["id"]}"' in page


async def test_a_pdf_proof_is_shown_in_a_frame_of_this_site_only(
        api: tuple[httpx.AsyncClient, Merchant], verifier: httpx.AsyncClient) -> None:
    _, proof = await a_proof(api, content=pdf_bytes())
    page = await verifier.get(f"/console/verifications/{proof['id']}")
    assert f'<iframe class="verify-pdf" src="/console/verifications/{proof["id"]}/file"' in (
        page.text)
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    file = await verifier.get(f"/console/verifications/{proof['id']}/file")
    assert file.status_code == 200 and file.headers["content-type"] == "application/pdf"
    assert file.headers["content-disposition"].startswith("inline")
    assert file.headers["x-frame-options"] == "SAMEORIGIN"
    policy = file.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'self'" in policy
    assert file.headers["x-content-type-options"] == "nosniff"


async def test_without_the_verify_scope_every_page_and_action_is_refused(
        api: tuple[httpx.AsyncClient, Merchant], transport: httpx.ASGITransport,
        shop: ConsoleShop, page_runtime: Runtime) -> None:
    _, proof = await a_proof(api)
    operations = await console_login(page_runtime, shop.staff["operations"])
    pid = proof["id"]
    async with async_console_client(transport, BASE, operations) as other:
        for path in ("/console/verifications", "/console/verifications/rows",
                     f"/console/verifications/{pid}", f"/console/verifications/{pid}/file"):
            assert (await other.get(path)).status_code == 403, path
        for path, data in ((f"/console/verifications/{pid}/approve", {}),
                           (f"/console/verifications/{pid}/reject",
                            {"reason_code": "unreadable"}),
                           ("/console/verifications/bulk", {"action": "approve", "id": pid})):
            assert (await other.post(path, data=data)).status_code == 403, path
    assert (await verification(api, pid))["status"] == "pending"


async def test_another_business_gets_404_and_a_form_without_its_token_403(
        api: tuple[httpx.AsyncClient, Merchant], transport: httpx.ASGITransport,
        shop: ConsoleShop, page_runtime: Runtime) -> None:
    _, proof = await a_proof(api)
    pid = proof["id"]
    elsewhere = await console_shop(page_runtime, name="Other shop")
    async with async_console_client(transport, BASE, elsewhere.owner_login) as stranger:
        for path in (f"/console/verifications/{pid}", f"/console/verifications/{pid}/file"):
            assert (await stranger.get(path)).status_code == 404, path
        assert (await stranger.post(f"/console/verifications/{pid}/approve")
                ).status_code == 404
        bulk = await stranger.post("/console/verifications/bulk",
                                   data={"action": "approve", "id": pid})
        assert bulk.status_code == 200 and 'data-ok="no"' in bulk.text
    login = await console_login(page_runtime, shop.staff["verifier"])
    async with async_console_client(transport, BASE, login) as forged:
        del forged.headers["X-CSRF-Token"]
        for path in (f"/console/verifications/{pid}/approve",
                     f"/console/verifications/{pid}/reject", "/console/verifications/bulk"):
            answer = await forged.post(path, data={"action": "approve", "id": pid,
                                                   "reason_code": "unreadable"})
            assert answer.status_code == 403, path
    assert (await verification(api, pid))["status"] == "pending"


# --- in Chromium -------------------------------------------------------------------------------

@pytest.fixture
async def desk(runtime: Runtime) -> tuple[ConsoleShop, ConsoleLogin]:
    """A PHP shop with a verifier (logged in) for the browser tests."""
    return await verifier_desk(runtime, name="Toko Bukti")


@pytest.fixture
def server_api(desk: tuple[ConsoleShop, ConsoleLogin], console_server: str
               ) -> Iterator[httpx.Client]:
    """The shop's API on the server the browser uses, selling tees and taking GCash."""
    with gcash_tee_api(console_server, desk[0], tees=50) as client:
        yield client


def sent_proof(client: httpx.Client, n: int) -> tuple[Any, Any]:
    """An order of a tee whose buyer sent a receipt, through the server's API."""
    order = ok(client.post("/v1/orders", json={
        "customer": {"name": f"Buyer {n}", "phone": f"+63 917 555 {2000 + n:04d}"},
        "channel": "whatsapp", "payment_method": "gcash",
        "lines": [{"sku": "TEE", "quantity": 1}]}), 201)
    proof = ok(client.put(f"/v1/orders/{order['id']}/payment-proof",
                          headers={"Authorization": f"Bearer {order['access_token']}"},
                          content=receipt_for(order)), 201)
    return order, proof


def test_a_verifier_decides_with_the_keyboard_and_the_next_proof_opens(
        desk: tuple[ConsoleShop, ConsoleLogin], console_server: str, browser: Browsing,
        server_api: httpx.Client) -> None:
    from playwright.sync_api import expect

    _, verifier = desk
    first_order, first = sent_proof(server_api, 1)
    second_order, second = sent_proof(server_api, 2)
    queue = opened(browser, console_server, verifier, "/console/verifications")
    expect(queue.page.locator("[data-live=open]")).to_have_count(1, timeout=WAIT_MS)
    expect(queue.page.get_by_text("2 waiting")).to_be_visible()
    queue.screenshot("queue-desktop")
    queue.check_accessibility()
    phone_queue = opened(browser, console_server, verifier, "/console/verifications",
                         phone=True)
    phone_queue.screenshot("queue-phone")
    phone_queue.check_accessibility()
    assert phone_queue.page.evaluate(
        "document.documentElement.scrollWidth <= window.innerWidth")
    phone_queue.assert_clean()
    # Closed: axe leaves empty style="" attributes behind, which a later live swap would
    # copy (htmx settles style) and the CSP would refuse; a person's page has none.
    phone_queue.page.context.close()

    page = queue.page
    page.get_by_role("link", name=first_order["number"]).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(first_order["number"])
    expect(page.locator("#proof-image")).to_be_visible()
    queue.screenshot("proof-desktop")
    queue.check_accessibility()
    # j and k walk the queue.
    listening = page.locator("html[data-verify-keys=on]")
    expect(listening).to_have_count(1)
    page.keyboard.press("j")
    expect(page).to_have_url(re.compile(rf"/console/verifications/{second['id']}$"),
                             timeout=WAIT_MS)
    expect(listening).to_have_count(1)
    page.keyboard.press("k")
    expect(page).to_have_url(re.compile(rf"/console/verifications/{first['id']}$"),
                             timeout=WAIT_MS)
    expect(listening).to_have_count(1)
    # Zoom and turn the picture with the keys.
    page.keyboard.press("+")
    page.keyboard.press("]")
    expect(page.locator("#proof-image")).to_have_attribute("data-turn", "90")
    queue.screenshot("proof-zoomed")
    # The list of keys.
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts")).to_be_hidden()
    # Keys typed in a field are text, not shortcuts.
    page.locator("#reason").fill("a")
    expect(page).to_have_url(re.compile(rf"/console/verifications/{first['id']}$"))
    page.locator("#reason").fill("")
    page.locator("h1").click()
    page.keyboard.press("a")
    expect(page).to_have_url(re.compile(rf"/console/verifications/{second['id']}\?done=approved"),
                             timeout=WAIT_MS)
    expect(listening).to_have_count(1)
    expect(page.get_by_role("status")).to_contain_text(f"Order {first_order['number']}")
    assert ok(server_api.get(f"/v1/verifications/{first['id']}"))["status"] == "approved"
    # r picks the reason first; the reject button sends it.
    page.keyboard.press("r")
    expect(page.locator("#reason-code")).to_be_focused()
    page.locator("#reason-code").select_option("not_a_receipt")
    page.get_by_role("button", name=re.compile("^Reject")).click()
    expect(page).to_have_url(re.compile(r"/console/verifications\?done=empty"),
                             timeout=WAIT_MS)
    expect(page.get_by_text("Nothing to verify")).to_be_visible()
    rejected = ok(server_api.get(f"/v1/verifications/{second['id']}"))
    assert rejected["status"] == "rejected"
    assert rejected["reason"] == "This is not a payment receipt."
    assert second_order["id"] == rejected["order_id"]
    # A pending proof on a phone, in Indonesian.
    third_order, third = sent_proof(server_api, 3)
    waiting = browser.open(console_server, viewport=PHONE, locale="id-ID")
    log_in_fast(waiting, verifier)
    waiting.goto(f"/console/verifications/{third['id']}")
    expect(waiting.page.get_by_role("heading", level=1)).to_contain_text(
        f"Bukti pembayaran untuk pesanan {third_order['number']}")
    waiting.screenshot("pending-proof-phone-id")
    waiting.check_accessibility()
    assert waiting.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    waiting.assert_clean()
    phone = opened(browser, console_server, verifier, f"/console/verifications/{second['id']}",
                   phone=True)
    phone.screenshot("decided-proof-phone")
    phone.check_accessibility()
    assert phone.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    for p in (queue, phone):
        p.assert_clean()


def test_twenty_proofs_approved_in_bulk_each_with_its_result(
        desk: tuple[ConsoleShop, ConsoleLogin], console_server: str, browser: Browsing,
        server_api: httpx.Client) -> None:
    from playwright.sync_api import expect

    _, verifier = desk
    sent = [sent_proof(server_api, n) for n in range(20)]
    page = opened(browser, console_server, verifier, "/console/verifications")
    expect(page.page.locator("input.verify-select")).to_have_count(20)
    page.page.get_by_label("Select every proof on this page").check()
    expect(page.page.locator("#bulk-count")).to_have_text("Selected: 20")
    page.screenshot("selected")
    page.page.get_by_role("button", name="Approve selected").click()
    expect(page.page.get_by_role("heading", level=1)).to_have_text("Approved together",
                                                                   timeout=WAIT_MS)
    expect(page.page.locator("tr[data-ok=yes]")).to_have_count(20)
    for order, proof in sent:
        row = page.page.locator(f"tr[data-proof-id='{proof['id']}']")
        expect(row).to_contain_text(order["number"])
        expect(row).to_contain_text("Approved")
    page.screenshot("results", full_page=True)
    page.check_accessibility()
    statuses = {ok(server_api.get(f"/v1/verifications/{p['id']}"))["status"] for _, p in sent}
    assert statuses == {"approved"}
    page.assert_clean()


def test_two_verifiers_race_on_one_proof_and_the_loser_sees_who_won(
        desk: tuple[ConsoleShop, ConsoleLogin], console_server: str, browser: Browsing,
        server_api: httpx.Client) -> None:
    from playwright.sync_api import expect

    shop, verifier = desk
    order, proof = sent_proof(server_api, 1)
    path = f"/console/verifications/{proof['id']}"
    winner = opened(browser, console_server, shop.owner_login, path)
    loser = opened(browser, console_server, verifier, path, phone=True)
    queue = opened(browser, console_server, verifier, "/console/verifications")
    expect(queue.page.locator("[data-live=open]")).to_have_count(1, timeout=WAIT_MS)
    expect(queue.page.get_by_role("link", name=order["number"])).to_be_visible()
    winner.page.get_by_role("button", name=re.compile("^Approve")).click()
    expect(winner.page).to_have_url(re.compile(r"done=empty"), timeout=WAIT_MS)
    # The queue that was open elsewhere lets the decided proof go, live.
    expect(queue.page.get_by_role("link", name=order["number"])).to_have_count(
        0, timeout=WAIT_MS)
    loser.page.locator("#reason-code").select_option("wrong_amount")
    loser.page.get_by_role("button", name=re.compile("^Reject")).click()
    summary = loser.page.locator(".error-summary, [role=alert]").first
    expect(summary).to_contain_text("Already approved by Olivia Owner at", timeout=WAIT_MS)
    loser.screenshot("loser-phone")
    loser.check_accessibility()
    decided = ok(server_api.get(f"/v1/verifications/{proof['id']}"))
    assert decided["status"] == "approved"
    decisions = [a["action"] for a in decided["audit"] if a["action"] != "file_viewed"]
    assert decisions == ["submitted", "approved"]  # exactly one decision
    assert "file_viewed" in {a["action"] for a in decided["audit"]}  # the file is audited
    assert decided["decided_at"][:16].replace("T", " ") in (summary.text_content() or "")
    for p in (winner, loser, queue):
        p.assert_clean()


def test_a_pdf_proof_shows_in_its_frame(
        desk: tuple[ConsoleShop, ConsoleLogin], console_server: str, browser: Browsing,
        server_api: httpx.Client) -> None:
    from playwright.sync_api import expect

    _, verifier = desk
    order = ok(server_api.post("/v1/orders", json={
        "customer": {"name": "Pdf Buyer", "phone": "+63 917 555 3000"},
        "channel": "whatsapp", "payment_method": "gcash",
        "lines": [{"sku": "TEE", "quantity": 1}]}), 201)
    proof = ok(server_api.put(f"/v1/orders/{order['id']}/payment-proof",
                              headers={"Authorization": f"Bearer {order['access_token']}"},
                              content=pdf_bytes()), 201)
    page = browser.open(console_server)
    log_in_fast(page, verifier)
    file_url = f"/console/verifications/{proof['id']}/file"
    with page.page.expect_response(lambda r: r.url.endswith(file_url)) as framed:
        page.goto(f"/console/verifications/{proof['id']}")
    # The frame loads the PDF itself (Chromium's viewer draws it: see the screenshot).
    assert framed.value.status == 200
    assert framed.value.headers["content-type"] == "application/pdf"
    assert framed.value.frame.parent_frame == page.page.main_frame
    expect(page.page.locator("iframe.verify-pdf")).to_be_visible()
    page.screenshot("pdf-desktop")
    page.check_accessibility()
    page.assert_clean()
