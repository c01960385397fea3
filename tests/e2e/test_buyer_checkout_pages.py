"""The buyer's hosted checkout, ``/c/{cart token}``, over HTTP (the app over ASGI, on both
databases) and in Chromium at 375 px: the lines with their availability, the address and
its zone, shipping, coupons, the ways to pay, every refusal as a sentence, the confirm that
places one order per Idempotency-Key, cash on delivery's code step, and the card step on the
sandbox's test card page (and Stripe's page, over HTTP only: the browser cannot reach it)."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from orderline.api.app import create_app
from orderline.core.clock import ManualClock
from orderline.core.config import Settings
from orderline.core.runtime import Runtime
from tests.conftest import Merchant, new_merchant
from tests.e2e.conftest import all_orders, ok
from tests.e2e.test_api_cod import Inbox
from tests.support.browser import PHONE, BrowserPage, Browsing, browser_fixture  # noqa: F401
from tests.support.checkout import Cart, Shop, new_cart, open_shop
from tests.support.servers import serving_in_thread

HTML = {"Accept": "text/html"}
WAIT = 30_000  # ms: a generous cap on waiting for a condition, never a timing assertion
DETAILS = {"name": "Ada Buyer", "phone": "+1 555 0100", "email": "", "line1": "1 Main St",
           "line2": "", "city": "Springfield", "region": "IL", "postal_code": "62701",
           "country": "US", "coupon": "", "payment_method": "card", "shipping_method_id": ""}


@pytest.fixture
def inbox(runtime: Runtime) -> Inbox:
    box = Inbox()
    runtime.notifier = box
    return box


async def shop_with(client: httpx.AsyncClient, runtime: Runtime, *, cod: bool = False,
                    stock: int = 10, price: int = 1000) -> Shop:
    merchant = await new_merchant(runtime)
    shop = await open_shop(client, merchant, products={"MUG": (price, stock)}, shipping=500,
                           tax_rate=None)
    if cod:
        ok(await client.patch("/v1/business/cod", headers=merchant.headers, json={
            "enabled": True, "zone_ids": [shop.zone_id]}))
    return shop


def page_text(response: httpx.Response) -> str:
    """The page's visible words, on one line (tags dropped, entities read)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


def hidden(response: httpx.Response, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', response.text)
    assert found is not None, f"no hidden {name}"
    return found.group(1)


async def to_review(client: httpx.AsyncClient, cart: Cart, **changes: str) -> httpx.Response:
    """Send the details form; the answer must be the redirect to the review."""
    sent = await client.post(f"/c/{cart.token}/details", headers=HTML,
                             data={**DETAILS, **changes})
    assert sent.status_code == 303, page_text(sent)
    return sent


async def review_of(client: httpx.AsyncClient, cart: Cart, **changes: str) -> httpx.Response:
    sent = await to_review(client, cart, **changes)
    review = await client.get(sent.headers["location"], headers=HTML)
    assert review.status_code == 200, page_text(review)
    return review


def confirm_url(review: httpx.Response) -> str:
    found = re.search(r'action="(/c/[^"]+/confirm)"', review.text)
    assert found is not None
    return found.group(1)


async def place(client: httpx.AsyncClient, review: httpx.Response) -> httpx.Response:
    return await client.post(confirm_url(review), headers=HTML, data={
        "key": hidden(review, "key"), "total": hidden(review, "total")})


# --- the cart, the address, the ways to pay ---------------------------------------------------

async def test_the_cart_page_shows_the_lines_their_stock_and_the_ways_to_pay(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    shop = await shop_with(client, runtime, cod=True, stock=3)
    cart = await new_cart(client, shop.merchant, ("MUG", 2))
    page = await client.get(f"/c/{cart.token}", headers=HTML)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "private, no-store"
    words = page_text(page)
    assert "Variant MUG" in words and "Only 3 left." in words
    assert "Card" in words and "Cash on delivery" in words

    # More than there is: "only N left" with what to do, and the details are refused.
    changed = await client.post(f"/c/{cart.token}/lines/MUG", headers=HTML,
                                data={"quantity": "5"})
    assert changed.status_code == 303
    words = page_text(await client.get(f"/c/{cart.token}", headers=HTML))
    assert "Only 3 left. Lower the quantity to continue." in words
    refused = await client.post(f"/c/{cart.token}/details", headers=HTML, data=DETAILS)
    assert refused.status_code == 409
    assert ("Some items are no longer in stock in the quantity you asked for. Lower the "
            "quantity or remove them, then try again.") in page_text(refused)

    # htmx swaps the lines only; removing the line empties the cart.
    swapped = await client.post(f"/c/{cart.token}/lines/MUG",
                                headers={**HTML, "HX-Request": "true"}, data={"remove": "1"})
    assert swapped.status_code == 200
    assert swapped.text.lstrip().startswith("<section id=\"lines\"")
    assert "Your cart is empty." in page_text(swapped)


async def test_the_lines_come_back_with_the_stock_as_it_is_now_when_the_buyer_returns(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    shop = await shop_with(client, runtime, stock=10)
    cart = await new_cart(client, shop.merchant, ("MUG", 2))
    page = await client.get(f"/c/{cart.token}", headers=HTML)
    # The lines ask for themselves again when the page is shown again (another app, then back).
    assert (f'hx-get="/c/{cart.token}/lines" hx-trigger="visibilitychange from:document"'
            in page.text)
    assert "left." not in page_text(page)
    # Meanwhile the shop sold all but one elsewhere.
    ok(await client.post("/v1/inventory/adjustments", headers=shop.merchant.headers, json={
        "sku": "MUG", "set_on_hand": 1, "reason": "correction"}))
    again = await client.get(f"/c/{cart.token}/lines", headers={**HTML, "HX-Request": "true"})
    assert again.status_code == 200 and again.headers["cache-control"] == "private, no-store"
    assert again.text.lstrip().startswith('<section id="lines"')
    assert "Only 1 left. Lower the quantity to continue." in page_text(again)
    stranger = await client.get(f"/c/ct_{'x' * 32}/lines", headers=HTML)
    assert stranger.status_code == 404


async def test_the_address_is_answered_inline_with_the_zone_or_the_undeliverable_sentence(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    shop = await shop_with(client, runtime)
    cart = await new_cart(client, shop.merchant, ("MUG", 1))
    here = await client.get(f"/c/{cart.token}/delivery", headers={**HTML, "HX-Request": "true"},
                            params={"country": "us", "postal_code": "62701"})
    assert "We deliver here: shipping from $5.00." in page_text(here)
    assert shop.method_id in here.text
    away = await client.get(f"/c/{cart.token}/delivery", headers={**HTML, "HX-Request": "true"},
                            params={"country": "FR"})
    assert "The shop does not deliver to this address. Use another address." in page_text(away)
    refused = await client.post(f"/c/{cart.token}/details", headers=HTML,
                                data={**DETAILS, "country": "FR"})
    assert refused.status_code == 422
    assert 'id="country-error"' in refused.text
    assert "The shop does not deliver to this address." in page_text(refused)


async def test_the_review_applies_or_refuses_a_coupon_with_the_reason(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    shop = await shop_with(client, runtime)
    ok(await client.post("/v1/coupons", headers=shop.merchant.headers, json={
        "code": "TENOFF", "kind": "percentage", "percent_off": 10}), 201)
    ok(await client.post("/v1/coupons", headers=shop.merchant.headers, json={
        "code": "BIGONLY", "kind": "fixed_amount", "amount_off": 100, "min_subtotal": 100000}), 201)
    cart = await new_cart(client, shop.merchant, ("MUG", 2))
    review = await review_of(client, cart)
    coupons = re.search(r'action="(/c/[^"]+/coupons)"', review.text)
    assert coupons is not None
    for code, sentence in (("NOPE", "We do not know this coupon code."),
                           ("BIGONLY", "Your order is below this coupon's minimum.")):
        refused = await client.post(coupons.group(1), headers=HTML, data={"coupon": code,
                                                                           "codes": ""})
        assert refused.status_code == 422
        assert sentence in page_text(refused) and 'id="coupon-error"' in refused.text
    applied = await client.post(coupons.group(1), headers=HTML, data={"coupon": "tenoff",
                                                                       "codes": ""})
    assert applied.status_code == 303
    words = page_text(await client.get(applied.headers["location"], headers=HTML))
    assert "Coupon TENOFF applied: \N{MINUS SIGN}$2.00" in words and "$23.00" in words
    # "Change your details" brings the form back filled in, the delivery options shown.
    checkout_id = applied.headers["location"].rsplit("/", 1)[1]
    again = await client.get(f"/c/{cart.token}", headers=HTML, params={"k": checkout_id})
    assert 'value="1 Main St"' in again.text and 'value="TENOFF"' in again.text
    assert f'value="{shop.method_id}" checked' in again.text


# --- refusals as sentences ----------------------------------------------------------------------

async def test_a_price_change_shows_the_new_total_and_the_next_confirm_places_the_order(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    shop = await shop_with(client, runtime)
    cart = await new_cart(client, shop.merchant, ("MUG", 1))
    review = await review_of(client, cart, payment_method="card")
    ok(await client.patch("/v1/variants/MUG", headers=shop.merchant.headers,
                          json={"price": 1200}))
    refused = await place(client, review)
    assert refused.status_code == 409
    words = page_text(refused)
    assert "A price, the delivery cost or the tax changed since you looked." in words
    assert "$17.00" in words  # the new total, shown at once
    placed = await place(client, refused)
    assert placed.status_code == 303 and "/pay/oat_" in placed.headers["location"]


async def test_an_expired_checkout_says_so_and_how_to_go_on(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    clock = ManualClock()
    runtime.clock = clock
    shop = await shop_with(client, runtime)
    cart = await new_cart(client, shop.merchant, ("MUG", 1))
    review = await review_of(client, cart)
    clock.advance(2 * 3600)
    refused = await place(client, review)
    assert refused.status_code == 409
    assert ("The time we held your items for ran out. Check your details again to hold them "
            "anew.") in page_text(refused)
    assert not await all_orders(client, shop.merchant)


async def test_cash_on_delivery_refusals_are_sentences_next_to_the_way_to_pay(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    shop = await shop_with(client, runtime, cod=True)
    ok(await client.patch("/v1/business/cod", headers=shop.merchant.headers,
                          json={"max_order_total": 1000}))
    cart = await new_cart(client, shop.merchant, ("MUG", 2))
    refused = await client.post(f"/c/{cart.token}/details", headers=HTML,
                                data={**DETAILS, "payment_method": "cod"})
    assert refused.status_code == 422
    assert 'id="payment_method-error"' in refused.text
    assert ("This order is above the most the shop takes in cash on delivery. Choose another "
            "way to pay, or order less.") in page_text(refused)


# --- the confirm ---------------------------------------------------------------------------------

async def test_the_same_confirm_sent_twice_places_one_order_and_both_lead_to_it(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    shop = await shop_with(client, runtime)
    cart = await new_cart(client, shop.merchant, ("MUG", 1))
    review = await review_of(client, cart)
    first = await place(client, review)
    second = await place(client, review)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert len(await all_orders(client, shop.merchant)) == 1


async def test_a_bank_transfer_order_lands_on_the_order_page_and_only_this_channels_methods_show(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    shop = await shop_with(client, runtime)
    for code, kind, name, channels in (("bank", "bank_transfer", "Town Bank", []),
                                       ("wallet", "e_wallet", "Chat Wallet", ["whatsapp"])):
        ok(await client.post("/v1/payment-methods", headers=shop.merchant.headers, json={
            "code": code, "kind": kind, "name": name, "account_name": "Ada Shop",
            "account_number": "123-456", "channels": channels}), 201)
    cart = await new_cart(client, shop.merchant, ("MUG", 1))
    words = page_text(await client.get(f"/c/{cart.token}", headers=HTML))
    assert "Town Bank" in words and "Send a transfer from your bank" in words
    assert "Chat Wallet" not in words  # offered on the whatsapp channel only
    review = await review_of(client, cart, payment_method="bank")
    placed = await place(client, review)
    assert placed.status_code == 303 and placed.headers["location"].startswith("/o/oat_")
    orders = await all_orders(client, shop.merchant)
    assert [(o["status"], o["payment_method"]) for o in orders] == [("pending_payment", "bank")]
    refused = await client.post(f"/c/{cart.token}/details", headers=HTML,
                                data={**DETAILS, "payment_method": "wallet"})
    assert refused.status_code == 422  # the cart is an order now: it can no longer change
    assert "can no longer change" in page_text(refused)


async def test_too_many_orders_in_a_minute_says_when_to_try_again(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    shop = await shop_with(client, runtime)
    ok(await client.patch("/v1/business", headers=shop.merchant.headers,
                          json={"confirms_per_minute": 1}))
    first = await new_cart(client, shop.merchant, ("MUG", 1))
    assert (await place(client, await review_of(client, first))).status_code == 303
    second = await new_cart(client, shop.merchant, ("MUG", 1))
    refused = await place(client, await review_of(client, second))
    assert refused.status_code == 429
    assert re.search(r"Too many tries in a short time\. Try again in \d+ seconds\.",
                     page_text(refused))
    assert len(await all_orders(client, shop.merchant)) == 1


async def test_another_carts_checkout_or_a_made_up_token_is_the_404_page(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    shop = await shop_with(client, runtime)
    mine = await new_cart(client, shop.merchant, ("MUG", 1))
    theirs = await new_cart(client, shop.merchant, ("MUG", 1))
    their_review = (await to_review(client, theirs)).headers["location"]
    their_checkout = their_review.rsplit("/", 1)[1]
    for path in (f"/c/{mine.token}/review/{their_checkout}", "/c/ct_madeup/review/x",
                 "/c/ct_" + "a" * 32, "/c/not-a-token", f"/c/{mine.token}/review/nope"):
        page = await client.get(path, headers=HTML)
        assert page.status_code == 404, path
        assert "text/html" in page.headers["content-type"]
    confirmed = await client.post(f"/c/{mine.token}/review/{their_checkout}/confirm",
                                  headers=HTML, data={"key": str(uuid.uuid4()), "total": "1"})
    assert confirmed.status_code == 404
    assert not await all_orders(client, shop.merchant)


@pytest.mark.parametrize("field", ["name", "line1", "city", "country", "coupon", "phone"])
async def test_nul_bytes_and_huge_values_are_a_4xx_page_and_change_nothing(
        client: httpx.AsyncClient, runtime: Runtime, field: str) -> None:
    shop = await shop_with(client, runtime)
    cart = await new_cart(client, shop.merchant, ("MUG", 1))
    for value in ("A\x00B", "x" * 5000):
        answer = await client.post(f"/c/{cart.token}/details", headers=HTML,
                                   data={**DETAILS, field: value})
        assert 400 <= answer.status_code < 500, (field, answer.status_code)
        assert "There is a problem" in answer.text
    for path, data in ((f"/c/{cart.token}/lines/MUG", {"quantity": "1\x00"}),
                       (f"/c/{cart.token}/lines/MUG", {"quantity": "9" * 5000})):
        answer = await client.post(path, headers=HTML, data=data)
        assert 400 <= answer.status_code < 500, path
    for path in (f"/c/{cart.token}/lines/MUG%00", f"/c/{cart.token}%00/lines/MUG",
                 f"/c/{cart.token}/lines/" + "M" * 5000):
        answer = await client.post(path, headers=HTML, data={"quantity": "1"})
        assert 400 <= answer.status_code < 500, path
    for params in ({"country": "U\x00"}, {"country": "US", "postal_code": "6\x00"},
                   {"country": "US", "region": "x" * 5000}):
        answer = await client.get(f"/c/{cart.token}/delivery", headers=HTML, params=params)
        assert answer.status_code < 500, params
    review = await review_of(client, cart)
    for key, total in (("k\x00" * 10, "1"), (str(uuid.uuid4()), "1\x00"),
                       ("x" * 5000, "1"), (str(uuid.uuid4()), "9" * 5000)):
        answer = await client.post(confirm_url(review), headers=HTML,
                                   data={"key": key, "total": total})
        assert 400 <= answer.status_code < 500
    assert not await all_orders(client, shop.merchant)


# --- cash on delivery's code, and the card --------------------------------------------------------

async def test_a_cash_order_states_the_amount_asks_for_the_code_then_is_placed(
        client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox) -> None:
    shop = await shop_with(client, runtime, cod=True)
    cart = await new_cart(client, shop.merchant, ("MUG", 2))
    review = await review_of(client, cart, payment_method="cod")
    assert "You pay $25.00 in cash when your order is delivered." in page_text(review)
    asked = await place(client, review)
    assert asked.status_code == 303 and "/code?key=" in asked.headers["location"]
    step = await client.get(asked.headers["location"], headers=HTML)
    assert "You can ask for 3 more codes in the next 10 minutes." in page_text(step)
    send = re.search(r'action="(/c/[^"]+/code/send)"', step.text)
    assert send is not None
    sent = await client.post(send.group(1), headers=HTML, data={"key": hidden(step, "key")})
    assert sent.status_code == 303
    step = await client.get(sent.headers["location"], headers=HTML)
    words = page_text(step)
    assert "We sent a 6-digit code to" in words and "5 tries left for this code." in words
    code_url = send.group(1).removesuffix("/send")
    wrong = await client.post(code_url, headers=HTML, data={
        "key": hidden(step, "key"), "total": hidden(step, "total"), "code": "000000"
        if inbox.last_code() != "000000" else "111111"})
    assert wrong.status_code == 422
    assert "That code is not right." in page_text(wrong)
    assert "4 tries left for this code." in page_text(wrong)
    placed = await client.post(code_url, headers=HTML, data={
        "key": hidden(wrong, "key"), "total": hidden(wrong, "total"),
        "code": inbox.last_code()})
    assert placed.status_code == 303 and placed.headers["location"].startswith("/o/oat_")
    orders = await all_orders(client, shop.merchant)
    assert [(o["status"], o["payment_method"], o["total"]) for o in orders] == [
        ("confirmed", "cod", 2500)]


async def test_the_code_sends_are_limited_and_the_page_says_when_to_ask_again(
        client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox) -> None:
    shop = await shop_with(client, runtime, cod=True)
    cart = await new_cart(client, shop.merchant, ("MUG", 1))
    review = await review_of(client, cart, payment_method="cod")
    step_url = (await place(client, review)).headers["location"]
    send_url = step_url.split("?")[0] + "/send"
    key = step_url.split("key=")[1]
    for _ in range(3):
        assert (await client.post(send_url, headers=HTML, data={"key": key})).status_code == 303
    words = page_text(await client.get(step_url, headers=HTML))
    assert "You have asked for as many codes as we send in 10 minutes." in words
    assert re.search(r"You can ask for a new code in \d+ seconds\.", words)
    assert "Send me a new code" not in words
    refused = await client.post(send_url, headers=HTML, data={"key": key})
    assert refused.status_code == 429
    assert re.search(r"Too many tries in a short time\. Try again in \d+ seconds\.",
                     page_text(refused))
    assert len(inbox.sent) == 3


async def test_a_card_order_is_paid_on_the_sandbox_test_card_page(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    shop = await shop_with(client, runtime)
    cart = await new_cart(client, shop.merchant, ("MUG", 1))
    review = await review_of(client, cart, payment_method="card")
    pay_url = (await place(client, review)).headers["location"]
    access_token = pay_url.rsplit("/", 1)[1]
    page = await client.get(pay_url, headers=HTML)
    assert page.status_code == 200
    assert "Sandbox test card page" in page_text(page) and "js.stripe.com" not in page.text
    declined = await client.post(pay_url, headers=HTML, data={"outcome": "decline"})
    assert declined.status_code == 402
    assert "Your card was declined. Try another card" in page_text(declined)
    paid = await client.post(pay_url, headers=HTML, data={"outcome": "succeed"})
    assert paid.status_code == 303 and paid.headers["location"] == f"/o/{access_token}"
    order = (await all_orders(client, shop.merchant))[0]
    assert order["status"] == "paid"
    buyer_view = ok(await client.get(f"/v1/orders/{order['id']}",
                                     headers={"Authorization": f"Bearer {access_token}"}))
    assert buyer_view["status"] == "paid"
    # Once paid, the card step sends the buyer to the order page; another token is 404.
    again = await client.get(pay_url, headers=HTML)
    assert again.status_code == 303
    assert (await client.get(pay_url[:-4] + "AAAA", headers=HTML)).status_code == 404


async def test_the_stripe_page_loads_stripe_only_there_with_its_own_policy(
        client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    from orderline.payments.providers.base import ProviderIntent, ProviderStatus
    from orderline.payments.providers.configured import PROVIDERS

    class FakeStripe:
        """Stands in for Stripe's API (the tests never reach it): an intent awaiting a card."""
        name = "stripe"

        async def create_intent(self, **kwargs: Any) -> ProviderIntent:
            return ProviderIntent(reference="pi_test_1", status=ProviderStatus.REQUIRES_ACTION,
                                  amount=kwargs["amount"], currency=kwargs["currency"],
                                  client_secret="pi_test_1_secret_abc")

    runtime.get(PROVIDERS)["stripe"] = FakeStripe()  # type: ignore[assignment]
    runtime.settings = runtime.settings.model_copy(update={"stripe_publishable_key": "pk_test_1"})
    shop = await shop_with(client, runtime)
    ok(await client.patch("/v1/business", headers=shop.merchant.headers,
                          json={"card_provider": "stripe"}))
    cart = await new_cart(client, shop.merchant, ("MUG", 1))
    review = await review_of(client, cart, payment_method="card")
    csp_review = review.headers["content-security-policy"]
    assert "stripe.com" not in csp_review and "stripe.com" not in review.text
    pay_url = (await place(client, review)).headers["location"]
    for _ in range(2):  # a reload shows the same attempt
        page = await client.get(pay_url, headers=HTML)
        assert page.status_code == 200
        assert '<script src="https://js.stripe.com/v3/"></script>' in page.text
        assert 'data-client-secret="pi_test_1_secret_abc"' in page.text
        assert 'data-publishable-key="pk_test_1"' in page.text
        policy = dict(part.strip().split(" ", 1) for part in
                      page.headers["content-security-policy"].split(";"))
        for directive in ("script-src", "frame-src", "connect-src"):
            assert "https://js.stripe.com" in policy[directive]
        assert "https://api.stripe.com" in policy["connect-src"]
        assert "'unsafe-inline'" not in page.headers["content-security-policy"]
    payments = ok(await client.get(
        f"/v1/orders/{(await all_orders(client, shop.merchant))[0]['id']}/payments",
        headers=shop.merchant.headers))
    assert len(payments["data"]) == 1


# --- in the browser ------------------------------------------------------------------------------

@dataclass
class LiveShop:
    base: str
    token: str
    inbox: Inbox
    merchant: Merchant


@pytest.fixture
async def cod_merchant(runtime: Runtime) -> Merchant:
    return await new_merchant(runtime, name="Warung Ada")


@pytest.fixture
def live_shop(database_url: str, cod_merchant: Merchant) -> Iterator[LiveShop]:
    """The app in a thread of this process (so the test reads the codes it sends), with a
    shop that takes cash on delivery, and a cart of two mugs."""
    app = create_app(Settings(database_url=database_url, embedded_worker=False))
    with serving_in_thread(app) as port:
        base = f"http://127.0.0.1:{port}"
        inbox = Inbox()
        app.state.runtime.notifier = inbox
        h = cod_merchant.headers
        with httpx.Client(base_url=base, timeout=30) as http:
            ok(http.post("/v1/products", headers=h, json={"name": "Mug", "variants": [
                {"sku": "MUG", "name": "Enamel mug", "price": 1000, "initial_stock": 10}]}),
                201)
            zone = ok(http.post("/v1/shipping-zones", headers=h,
                                json={"name": "Home", "countries": ["US"]}), 201)
            ok(http.post(f"/v1/shipping-zones/{zone['id']}/methods", headers=h, json={
                "name": "Courier", "kind": "flat", "price": 500}), 201)
            ok(http.patch("/v1/business/cod", headers=h,
                          json={"enabled": True, "zone_ids": [zone["id"]]}))
            cart = ok(http.post("/v1/carts", headers=h, json={"channel": "web"}), 201)
            ok(http.post(f"/v1/carts/{cart['id']}/lines", headers={"X-Cart-Token": cart["token"]},
                         json={"sku": "MUG", "quantity": 2}))
        yield LiveShop(base=base, token=cart["token"], inbox=inbox, merchant=cod_merchant)


def look(page: BrowserPage, step: str) -> None:
    """Photograph this step and check it with axe."""
    page.screenshot(step)
    page.check_accessibility()


def test_a_buyer_on_a_phone_orders_cash_on_delivery_with_the_code(
        live_shop: LiveShop, browser: Browsing) -> None:
    page = browser.open(live_shop.base, viewport=PHONE)
    p = page.page
    page.goto(f"/c/{live_shop.token}")
    look(page, "01-cart")
    assert p.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    p.get_by_label("Full name").fill("Ada Buyer")
    p.get_by_label("Phone").fill("+1 555 0100")
    p.get_by_label("Street and number").fill("1 Main St")
    p.get_by_label("Town or city").fill("Springfield")
    p.get_by_label("Country code").fill("FR")
    p.get_by_label("Postal code").focus()  # the change is sent as the field is left
    p.get_by_text("The shop does not deliver to this address.").wait_for(timeout=WAIT)
    look(page, "02-undeliverable")
    p.get_by_label("Country code").fill("US")
    p.get_by_label("Postal code").fill("62701")
    p.get_by_label("Full name").focus()
    p.get_by_text("We deliver here: shipping from $5.00.").wait_for(timeout=WAIT)
    p.get_by_label("Courier · $5.00").check()
    p.get_by_label("Cash on delivery").check()
    look(page, "03-details")
    p.get_by_role("button", name="Continue to review").click()
    p.get_by_text("You pay $25.00 in cash when your order is delivered.").wait_for(timeout=WAIT)
    look(page, "04-cash-confirmation")
    assert p.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    p.get_by_role("button", name="Place order, pay $25.00 on delivery").click()
    p.get_by_role("button", name="Send me a code").click()
    p.get_by_text("We sent a 6-digit code to").wait_for(timeout=WAIT)
    look(page, "05-code")
    p.get_by_label("The code we sent to").fill(live_shop.inbox.last_code())
    p.get_by_role("button", name="Place order, pay $25.00 on delivery").click()
    p.wait_for_url(re.compile(r".*/o/oat_[A-Za-z0-9_-]+$"), timeout=WAIT)
    access_token = p.url.rsplit("/", 1)[1]
    page.screenshot("06-order-page")
    with httpx.Client(base_url=live_shop.base, timeout=30) as http:
        orders = ok(http.get("/v1/orders", headers=live_shop.merchant.headers))["data"]
        assert [(o["status"], o["payment_method"], o["total"]) for o in orders] == [
            ("confirmed", "cod", 2500)]
        mine = ok(http.get(f"/v1/orders/{orders[0]['id']}",
                           headers={"Authorization": f"Bearer {access_token}"}))
        assert mine["number"] == orders[0]["number"]


def test_a_buyer_on_a_laptop_changes_the_cart_is_refused_a_coupon_inline_and_pays_by_card(
        live_shop: LiveShop, browser: Browsing) -> None:
    page = browser.open(live_shop.base, locale="id-ID")
    p = page.page
    page.goto(f"/c/{live_shop.token}")
    p.get_by_role("heading", name="Pembayaran", level=1).wait_for(timeout=WAIT)  # Indonesian
    look(page, "01-cart-id")
    page.goto(f"/c/{live_shop.token}?lang=en")
    # htmx swaps the lines: three mugs.
    p.get_by_label("Quantity of Enamel mug").fill("3")
    p.get_by_role("button", name="Update").click()
    p.locator("#lines").get_by_text("$30.00").last.wait_for(timeout=WAIT)
    look(page, "02-quantity-changed")
    p.get_by_label("Full name").fill("Ada Buyer")
    p.get_by_label("Phone").fill("+1 555 0100")
    p.get_by_label("Street and number").fill("1 Main St")
    p.get_by_label("Town or city").fill("Springfield")
    p.get_by_label("Country code").fill("US")
    p.get_by_label("Card").check()
    p.get_by_role("button", name="Continue to review").click()
    p.get_by_role("heading", name="Review your order").wait_for(timeout=WAIT)
    review_url = p.url
    look(page, "03-review")
    # A coupon the shop does not know: refused next to the field, the page stays.
    p.get_by_label("Add a coupon code").fill("NOPE")
    p.get_by_role("button", name="Apply").click()
    p.get_by_text("We do not know this coupon code.").wait_for(timeout=WAIT)
    assert p.url == review_url
    look(page, "04-coupon-refused")
    on_phone = browser.open(live_shop.base, viewport=PHONE)
    on_phone.goto(review_url.removeprefix(live_shop.base))
    look(on_phone, "05-review-phone")
    p.get_by_role("button", name="Place order and pay $35.00 by card").click()
    p.get_by_role("heading", name="Sandbox test card page").wait_for(timeout=WAIT)
    look(page, "06-sandbox-card")
    on_phone.goto(p.url.removeprefix(live_shop.base))
    look(on_phone, "07-sandbox-card-phone")
    assert on_phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    p.get_by_label("The card is declined").check()
    p.get_by_role("button", name="Pay $35.00").click()
    p.get_by_text("Your card was declined.").wait_for(timeout=WAIT)
    look(page, "08-declined")
    p.get_by_label("The payment succeeds").check()
    p.get_by_role("button", name="Pay $35.00").click()
    p.wait_for_url(re.compile(r".*/o/oat_[A-Za-z0-9_-]+$"), timeout=WAIT)
    with httpx.Client(base_url=live_shop.base, timeout=30) as http:
        orders = ok(http.get("/v1/orders", headers=live_shop.merchant.headers))["data"]
    assert [(o["status"], o["total"]) for o in orders] == [("paid", 3500)]
