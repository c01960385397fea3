"""SMS and WhatsApp for buyers, over HTTP, against stand-ins that speak Twilio's Messages API
and the WhatsApp Cloud API (``tests/support/messaging_providers.py``, real sockets on
127.0.0.1; no network): the order confirmation on ``order.created`` reaches the buyer's phone
in each provider's wire format, a provider that fails is retried, signed delivery reports move
the message forward only, unsigned or wrongly signed ones change nothing, each business sends
with its own account only, and a cash-on-delivery code reaches the phone.

The relay and the sender run as the worker runs them (``default_relay``, ``send_due``); a
manual clock moves time to the next retry. Each test gives its buyers fresh phone numbers and
looks only at what was sent to them: the database is shared with other tests.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from orderline.core.clock import ManualClock
from orderline.core.config import Settings
from orderline.core.db.tables import table_of
from orderline.core.runtime import Runtime
from orderline.notifications import store as notification_store
from orderline.notifications.service import send_due
from orderline.notifications.tables import MessagingSender
from orderline.wiring import provide_parts
from orderline.worker.handlers import default_relay
from tests.conftest import Merchant, new_merchant
from tests.e2e.conftest import add_product, api_client, error_of, ok, place_order
from tests.support.checkout import confirm, new_cart, open_shop, start_checkout
from tests.support.messaging_providers import CloudStandIn, TwilioStandIn
from tests.support.servers import serving_in_thread

PUBLIC = "http://test"
STATUS_URL = f"{PUBLIC}/v1/messaging/twilio/status"
KEYS = "msg1:" + base64.b64encode(b"messaging-test-master-key-32byte").decode()
FROM = "+14155550100"


@dataclass
class Providers:
    twilio: TwilioStandIn
    cloud: CloudStandIn
    twilio_url: str
    cloud_url: str


@pytest.fixture
def providers() -> Iterator[Providers]:
    twilio, cloud = TwilioStandIn(), CloudStandIn()
    with serving_in_thread(twilio.app) as twilio_port, serving_in_thread(cloud.app) as cloud_port:
        yield Providers(twilio, cloud, f"http://127.0.0.1:{twilio_port}",
                        f"http://127.0.0.1:{cloud_port}")


@pytest.fixture
def rt(runtime: Runtime, providers: Providers, clock: ManualClock) -> Runtime:
    """The test's runtime with the providers' base URLs pointed at the stand-ins."""
    settings = Settings(database_url=runtime.settings.database_url,
                        twilio_api_url=providers.twilio_url,
                        whatsapp_cloud_api_url=providers.cloud_url,
                        messaging_public_url=PUBLIC, proof_master_keys=KEYS)
    return provide_parts(Runtime(settings=settings, db=runtime.db, clock=clock))


@pytest.fixture
async def api(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(rt) as http:
        yield http


def new_phone() -> tuple[str, str]:
    """A fresh phone number as a buyer types it, and as providers want it."""
    digits = f"{secrets.randbelow(10**8):08d}"
    return f"+44 20 {digits[:4]} {digits[4:]}", f"+4420{digits}"


def twilio_settings(providers: Providers, provider: str = "twilio_sms",
                    **changes: Any) -> dict[str, Any]:
    return {"provider": provider, "twilio_account_sid": providers.twilio.account_sid,
            "twilio_auth_token": providers.twilio.auth_token, "twilio_from_number": FROM,
            **changes}


def cloud_settings(providers: Providers, **changes: Any) -> dict[str, Any]:
    return {"provider": "whatsapp_cloud",
            "whatsapp_phone_number_id": providers.cloud.phone_number_id,
            "whatsapp_access_token": providers.cloud.access_token,
            "whatsapp_app_secret": providers.cloud.app_secret,
            "whatsapp_verify_token": "verify-" + providers.cloud.app_secret,
            "whatsapp_language": "en",
            "whatsapp_templates": {"order.created": "order_confirmation",
                                   "cash_code": "cash_code"}, **changes}


async def shop_with_sender(api: httpx.AsyncClient, rt: Runtime,
                           settings: dict[str, Any]) -> Merchant:
    m = await new_merchant(rt)
    ok(await api.put("/v1/business/messaging", headers=m.headers, json=settings))
    await add_product(api, m, "TEA", 100)
    return m


async def deliver(rt: Runtime) -> None:
    """What the worker does: relay the events (queueing messages), then send what is due."""
    await default_relay(rt).relay_until_idle()
    while await send_due(rt):
        pass


async def messages_of(rt: Runtime, m: Merchant, order_id: Any) -> list[Any]:
    async with rt.db.read() as conn:
        return await notification_store.of_business(conn, m.principal.business_id,
                                                    order_id=uuid.UUID(str(order_id)))


async def confirmation_of(rt: Runtime, m: Merchant, order: dict[str, Any]) -> Any:
    [message] = [r for r in await messages_of(rt, m, order["id"])
                 if r["kind"] == "buyer:order.created"]
    return message


# --- sending -----------------------------------------------------------------------------------

@pytest.mark.parametrize("provider", ["twilio_sms", "twilio_whatsapp"])
async def test_a_phone_only_buyer_gets_the_order_confirmation_through_twilio(
        api: httpx.AsyncClient, rt: Runtime, providers: Providers, provider: str) -> None:
    m = await shop_with_sender(api, rt, twilio_settings(providers, provider))
    typed, number = new_phone()
    order = await place_order(api, m, ("TEA", 2), phone=typed, email=None)
    await deliver(rt)

    to = number if provider == "twilio_sms" else f"whatsapp:{number}"
    [sent] = [r for r in providers.twilio.received if r["To"] == to]
    assert sent["From"] == (FROM if provider == "twilio_sms" else f"whatsapp:{FROM}")
    assert order["number"] in sent["Body"] and "Thank you for your order" in sent["Body"]
    assert sent["StatusCallback"] == STATUS_URL
    message = await confirmation_of(rt, m, order)
    assert (message["channel"], message["provider"], message["status"]) == (
        "sms" if provider == "twilio_sms" else "whatsapp", provider, "sent")
    assert (message["recipient"], message["provider_message_id"]) == (number, sent["Sid"])


async def test_a_whatsapp_cloud_sender_sends_the_confirmation_as_its_approved_template(
        api: httpx.AsyncClient, rt: Runtime, providers: Providers) -> None:
    m = await shop_with_sender(api, rt, cloud_settings(providers))
    typed, number = new_phone()
    order = await place_order(api, m, ("TEA", 1), name="Ada Buyer", phone=typed)
    await deliver(rt)

    [sent] = [r for r in providers.cloud.received if r["to"] == number.lstrip("+")]
    assert sent["messaging_product"] == "whatsapp" and sent["type"] == "template"
    assert sent["template"]["name"] == "order_confirmation"
    assert sent["template"]["language"] == {"code": "en"}
    [body] = sent["template"]["components"]
    assert [p["text"] for p in body["parameters"]] == [
        "Ada Buyer", order["number"], f"{order['total'] / 100:,.2f} USD", "Test shop"]
    message = await confirmation_of(rt, m, order)
    assert (message["status"], message["template"], message["provider_message_id"]) == (
        "sent", "order_confirmation", sent["id"])


async def test_a_buyer_who_gave_only_an_email_still_hears_by_email(
        api: httpx.AsyncClient, rt: Runtime, providers: Providers) -> None:
    m = await shop_with_sender(api, rt, twilio_settings(providers))
    address = f"buyer-{uuid.uuid4().hex[:8]}@example.com"
    order = await place_order(api, m, ("TEA", 1), phone=None, email=address)
    await deliver(rt)

    message = await confirmation_of(rt, m, order)
    # This runtime's notifier is the log; with SMTP it would be the email channel.
    assert (message["recipient"], message["channel"], message["provider"]) == (
        address, "log", None)
    assert not [r for r in providers.twilio.received if r["To"] == address]


async def test_a_provider_that_fails_twice_gets_the_message_on_the_third_try(
        api: httpx.AsyncClient, rt: Runtime, providers: Providers, clock: ManualClock) -> None:
    m = await shop_with_sender(api, rt, twilio_settings(providers))
    typed, number = new_phone()
    order = await place_order(api, m, ("TEA", 1), phone=typed)
    providers.twilio.failing.remaining = 2

    await deliver(rt)
    first = await confirmation_of(rt, m, order)
    assert (first["status"], first["attempts"]) == ("queued", 1)
    assert "500" in first["last_error"]
    clock.advance(15)  # past the first retry delay (10 s, +-20 %)
    await deliver(rt)
    assert (await confirmation_of(rt, m, order))["attempts"] == 2
    clock.advance(75)  # past the second (60 s)
    await deliver(rt)

    last = await confirmation_of(rt, m, order)
    assert (last["status"], last["attempts"], last["last_error"]) == ("sent", 3, None)
    assert len([r for r in providers.twilio.received if r["To"] == number]) == 1
    assert providers.twilio.failing.refused == 2


async def test_each_business_sends_with_its_own_sender_and_no_other(
        api: httpx.AsyncClient, rt: Runtime, providers: Providers) -> None:
    ours = await shop_with_sender(api, rt, twilio_settings(providers))
    # The same account SID with another token: the stand-in refuses it, as Twilio would.
    theirs = await shop_with_sender(api, rt, twilio_settings(
        providers, twilio_auth_token="not-the-account-token"))
    plain = await new_merchant(rt, name="No sender")
    await add_product(api, plain, "TEA", 10)
    phones = [new_phone() for _ in range(3)]
    orders = [await place_order(api, merchant, ("TEA", 1), phone=typed)
              for merchant, (typed, _) in zip((ours, theirs, plain), phones, strict=True)]
    await deliver(rt)

    texted = {r["To"] for r in providers.twilio.received}
    assert phones[0][1] in texted
    assert phones[1][1] not in texted and phones[2][1] not in texted
    refused = await confirmation_of(rt, theirs, orders[1])
    assert refused["status"] == "failed" and "Twilio refused" in refused["last_error"]
    assert refused["attempts"] == 1  # a refusal is not retried
    unsent = await confirmation_of(rt, plain, orders[2])
    assert (unsent["channel"], unsent["provider"]) == ("log", None)


# --- delivery reports --------------------------------------------------------------------------

async def sent_by_twilio(api: httpx.AsyncClient, rt: Runtime,
                         providers: Providers) -> tuple[Merchant, dict[str, Any], str]:
    m = await shop_with_sender(api, rt, twilio_settings(providers))
    typed, _ = new_phone()
    order = await place_order(api, m, ("TEA", 1), phone=typed)
    await deliver(rt)
    return m, order, (await confirmation_of(rt, m, order))["provider_message_id"]


async def post_twilio(api: httpx.AsyncClient, headers: dict[str, str],
                      form: str) -> httpx.Response:
    return await api.post("/v1/messaging/twilio/status", headers=headers, content=form)


async def test_signed_twilio_status_callbacks_move_the_message_forward_only(
        api: httpx.AsyncClient, rt: Runtime, providers: Providers) -> None:
    m, order, sid = await sent_by_twilio(api, rt, providers)
    twilio = providers.twilio

    answer = ok(await post_twilio(api, *twilio.status_callback(sid, "delivered", url=STATUS_URL)))
    assert answer == {"outcome": "recorded"}
    late = ok(await post_twilio(api, *twilio.status_callback(sid, "sent", url=STATUS_URL)))
    assert late == {"outcome": "stale"}
    message = await confirmation_of(rt, m, order)
    assert message["status"] == "delivered" and message["delivered_at"] is not None
    assert ok(await post_twilio(api, *twilio.status_callback(sid, "sending", url=STATUS_URL))) \
        == {"outcome": "ignored"}
    ok(await post_twilio(api, *twilio.status_callback(sid, "read", url=STATUS_URL)))
    assert (await confirmation_of(rt, m, order))["status"] == "read"


async def test_reports_arriving_together_and_out_of_order_end_at_the_latest_status(
        api: httpx.AsyncClient, rt: Runtime, providers: Providers) -> None:
    m, order, sid = await sent_by_twilio(api, rt, providers)
    reports = [providers.twilio.status_callback(sid, status, url=STATUS_URL)
               for status in ("read", "sent", "delivered", "read", "delivered", "sent")]
    answers = await asyncio.gather(*(post_twilio(api, *report) for report in reports))

    outcomes = [ok(answer)["outcome"] for answer in answers]
    assert outcomes.count("recorded") in (1, 2)  # read alone, or delivered and then read
    message = await confirmation_of(rt, m, order)
    assert message["status"] == "read"
    assert message["read_at"] is not None and message["delivered_at"] is not None


async def test_a_twilio_callback_not_signed_by_the_senders_token_is_refused_and_changes_nothing(
        api: httpx.AsyncClient, rt: Runtime, providers: Providers) -> None:
    m, order, sid = await sent_by_twilio(api, rt, providers)
    twilio = providers.twilio
    wrong_token = twilio.status_callback(sid, "failed", url=STATUS_URL, token="a" * 32)
    wrong_url = twilio.status_callback(sid, "failed", url="http://elsewhere/status")
    headers, form = twilio.status_callback(sid, "delivered", url=STATUS_URL)
    tampered = (headers, form.replace("delivered", "undelivered"))
    unsigned = ({"Content-Type": headers["Content-Type"]}, form)
    unknown = twilio.status_callback(sid, "failed", url=STATUS_URL)
    unknown = (unknown[0], unknown[1].replace(sid, "SM" + "f" * 32))

    for attempt in (wrong_token, wrong_url, tampered, unsigned, unknown):
        error_of(await post_twilio(api, *attempt), 401, "messaging_signature_invalid")
    message = await confirmation_of(rt, m, order)
    assert (message["status"], message["last_error"], message["delivered_at"]) == (
        "sent", None, None)


async def test_signed_cloud_webhooks_record_delivery_and_unsigned_ones_change_nothing(
        api: httpx.AsyncClient, rt: Runtime, providers: Providers) -> None:
    m = await shop_with_sender(api, rt, cloud_settings(providers))
    # Another business names the same phone number id with its own app secret: its
    # signature opens nothing of ours.
    await shop_with_sender(api, rt, cloud_settings(providers,
                                                   whatsapp_app_secret="rival-app-secret"))
    typed, _ = new_phone()
    order = await place_order(api, m, ("TEA", 1), phone=typed)
    await deliver(rt)
    wamid = (await confirmation_of(rt, m, order))["provider_message_id"]
    cloud = providers.cloud
    path = "/v1/messaging/whatsapp/webhook"

    rival_signed = await api.post(path, **_request(
        cloud.status_webhook(wamid, "failed", secret="rival-app-secret")))
    assert ok(rival_signed) == {"outcome": "recorded 0"}  # the rival's own messages only
    error_of(await api.post(path, **_request(cloud.status_webhook(wamid, "failed", secret="x"))),
             401, "messaging_signature_invalid")
    unsigned = cloud.status_webhook(wamid, "failed")[1]
    error_of(await api.post(path, headers={"Content-Type": "application/json"},
                            content=unsigned), 401, "messaging_signature_invalid")
    assert (await confirmation_of(rt, m, order))["status"] == "sent"
    headers, body = cloud.status_webhook(wamid, "delivered")
    tampered = body.replace(b"delivered", b"read")
    error_of(await api.post(path, headers=headers, content=tampered), 401,
             "messaging_signature_invalid")
    assert ok(await api.post(path, headers=headers, content=body)) == {"outcome": "recorded 1"}
    assert (await confirmation_of(rt, m, order))["status"] == "delivered"
    assert ok(await api.post(path, **_request(cloud.status_webhook(wamid, "sent")))) == {
        "outcome": "recorded 0"}  # stale: delivered stays
    assert (await confirmation_of(rt, m, order))["status"] == "delivered"


def _request(signed: tuple[dict[str, str], bytes]) -> dict[str, Any]:
    return {"headers": signed[0], "content": signed[1]}


async def test_the_cloud_webhook_handshake_answers_only_a_known_verify_token(
        api: httpx.AsyncClient, rt: Runtime, providers: Providers) -> None:
    await shop_with_sender(api, rt, cloud_settings(providers))
    path = "/v1/messaging/whatsapp/webhook"
    query = {"hub.mode": "subscribe", "hub.verify_token": "verify-" + providers.cloud.app_secret,
             "hub.challenge": "1158201444"}
    answer = await api.get(path, params=query)
    assert (answer.status_code, answer.text) == (200, "1158201444")
    error_of(await api.get(path, params={**query, "hub.verify_token": "guess"}), 403,
             "messaging_verify_token_invalid")


# --- the cash code -----------------------------------------------------------------------------

@pytest.mark.parametrize("provider", ["twilio_sms", "whatsapp_cloud"])
async def test_the_cash_code_reaches_the_buyers_phone_through_the_business_sender(
        api: httpx.AsyncClient, rt: Runtime, providers: Providers, provider: str) -> None:
    m = await new_merchant(rt)
    settings = (twilio_settings(providers) if provider == "twilio_sms"
                else cloud_settings(providers))
    ok(await api.put("/v1/business/messaging", headers=m.headers, json=settings))
    shop = await open_shop(api, m, products={"RICE": (1000, 20)}, shipping=0, tax_rate=None)
    ok(await api.patch("/v1/business/cod", headers=m.headers,
                       json={"enabled": True, "zone_ids": [shop.zone_id]}))
    typed, number = new_phone()
    cart = await new_cart(api, m, ("RICE", 1))
    checkout = await start_checkout(api, cart, buyer={"name": "Cash Buyer", "phone": typed},
                                    payment_method="cod")
    error_of(await confirm(api, cart, checkout), 409, "otp_required")

    ok(await api.post(f"/v1/checkouts/{checkout['id']}/otp", headers=cart.headers))
    if provider == "twilio_sms":
        [sms] = [r for r in providers.twilio.received if r["To"] == number]
        found = re.search(r"\b(\d{6})\b", sms["Body"])
        assert found is not None
        code, provider_id = found.group(1), sms["Sid"]
    else:
        [sent] = [r for r in providers.cloud.received if r["to"] == number.lstrip("+")]
        assert sent["template"]["name"] == "cash_code"
        body, button = sent["template"]["components"]
        code, provider_id = body["parameters"][0]["text"], sent["id"]
        assert button["parameters"][0]["text"] == code and re.fullmatch(r"\d{6}", code)
    ok(await api.post(f"/v1/checkouts/{checkout['id']}/otp/verify", headers=cart.headers,
                      json={"code": code}))
    ok(await confirm(api, cart, checkout), 201)

    async with rt.db.read() as conn:
        rows = await notification_store.of_business(conn, m.principal.business_id)
    [recorded] = [r for r in rows if r["kind"] == "buyer:cash_code"]
    assert (recorded["status"], recorded["provider_message_id"]) == ("sent", provider_id)
    assert code not in recorded["body"]  # the code is not kept in clear
    assert number not in recorded["recipient"]  # nor the phone: no order holds this message


async def test_a_cash_code_the_provider_does_not_take_is_told_to_the_buyer(
        api: httpx.AsyncClient, rt: Runtime, providers: Providers) -> None:
    m = await new_merchant(rt)
    ok(await api.put("/v1/business/messaging", headers=m.headers,
                     json=twilio_settings(providers)))
    shop = await open_shop(api, m, products={"RICE": (1000, 20)}, shipping=0, tax_rate=None)
    ok(await api.patch("/v1/business/cod", headers=m.headers,
                       json={"enabled": True, "zone_ids": [shop.zone_id]}))
    typed, number = new_phone()
    cart = await new_cart(api, m, ("RICE", 1))
    checkout = await start_checkout(api, cart, buyer={"name": "Cash Buyer", "phone": typed},
                                    payment_method="cod")
    providers.twilio.failing.remaining = 1
    error_of(await api.post(f"/v1/checkouts/{checkout['id']}/otp", headers=cart.headers), 503,
             "message_not_sent")
    ok(await api.post(f"/v1/checkouts/{checkout['id']}/otp", headers=cart.headers))
    assert len([r for r in providers.twilio.received if r["To"] == number]) == 1


# --- settings ----------------------------------------------------------------------------------

async def test_messaging_settings_never_show_their_secrets_and_keep_them_sealed(
        api: httpx.AsyncClient, rt: Runtime, providers: Providers) -> None:
    m = await new_merchant(rt)
    settings = cloud_settings(providers)
    put = await api.put("/v1/business/messaging", headers=m.headers, json=settings)
    shown = ok(put)
    got = await api.get("/v1/business/messaging", headers=m.headers)
    for answer in (put, got):
        for secret in (settings["whatsapp_access_token"], settings["whatsapp_app_secret"],
                       settings["whatsapp_verify_token"]):
            assert secret not in answer.text
    assert shown["whatsapp_access_token_set"] and shown["whatsapp_app_secret_set"]
    assert shown["callback_urls"] == {
        "twilio_status_callback": STATUS_URL,
        "whatsapp_webhook": f"{PUBLIC}/v1/messaging/whatsapp/webhook"}
    async with rt.db.read() as conn:
        table = table_of(MessagingSender)
        row = (await conn.execute(select(table).where(
            table.c.business_id == m.principal.business_id))).mappings().one()
    stored = json.dumps({k: v.hex() if isinstance(v, bytes) else str(v)
                         for k, v in row.items()})
    for secret in (settings["whatsapp_access_token"], settings["whatsapp_app_secret"]):
        assert secret not in stored and secret.encode().hex() not in stored

    patched = ok(await api.patch("/v1/business/messaging", headers=m.headers,
                                 json={"whatsapp_templates": {"order.paid": "order_paid"}}))
    assert patched["whatsapp_templates"] == {"order.paid": "order_paid"}
    assert patched["whatsapp_access_token_set"] and patched["whatsapp_verify_token_set"]


async def test_messaging_settings_that_could_not_send_are_refused_naming_the_field(
        api: httpx.AsyncClient, rt: Runtime, providers: Providers) -> None:
    m = await new_merchant(rt)
    path = "/v1/business/messaging"
    missing_token = {k: v for k, v in twilio_settings(providers).items()
                     if k != "twilio_auth_token"}
    cases = [(missing_token, "twilio_auth_token"),
             (twilio_settings(providers, twilio_account_sid="AC123"), "twilio_account_sid"),
             (twilio_settings(providers, twilio_from_number="0917 555"), "twilio_from_number"),
             (cloud_settings(providers, whatsapp_templates={"order.lost": "x"}),
              "whatsapp_templates")]
    for body, field in cases:
        error = error_of(await api.put(path, headers=m.headers, json=body), 422,
                         "validation_error")
        assert error["field"] == field
    assert ok(await api.get(path, headers=m.headers))["configured"] is False
    error_of(await api.patch(path, headers=m.headers, json={"enabled": False}), 404, "not_found")
