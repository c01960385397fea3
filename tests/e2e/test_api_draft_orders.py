"""Draft orders over HTTP: the merchant builds one through the API, sends its link, the buyer
opens the link (the hosted checkout's page) and confirms; on both databases."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from orderline.checkout.tables import Checkout
from orderline.core.clock import ManualClock
from orderline.core.db.tables import table_of
from orderline.core.runtime import Runtime
from orderline.events.tables import OutboxEvent
from tests.conftest import Merchant, new_merchant
from tests.e2e.conftest import error_of, levels, ok
from tests.support.checkout import ADDRESS, BUYER, Cart, confirm, open_shop

outbox = table_of(OutboxEvent)
checkouts = table_of(Checkout)
REVIEW = re.compile(r"^/c/(ct_[A-Za-z0-9_\-]+)/review/([0-9a-f\-]{36})$")


async def draft_events(runtime: Runtime, merchant: Merchant) -> list[tuple[str, str]]:
    async with runtime.db.read() as conn:
        rows = await conn.execute(select(outbox.c.type, outbox.c.payload).where(
            outbox.c.business_id == merchant.principal.business_id,
            outbox.c.type.like("draft_order.%")).order_by(outbox.c.sequence))
        return [(r.type, r.payload["change"]) for r in rows]


async def checkout_count(runtime: Runtime, merchant: Merchant) -> int:
    async with runtime.db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(checkouts).where(
            checkouts.c.business_id == merchant.principal.business_id))).scalar_one())


def draft_body(*lines: tuple[str, int], **more: Any) -> dict[str, Any]:
    return {"lines": [{"sku": s, "quantity": q} for s, q in lines], "customer": BUYER,
            "address": ADDRESS, "payment_method": "card", **more}


async def new_draft(client: httpx.AsyncClient, m: Merchant, *lines: tuple[str, int],
                    **more: Any) -> dict[str, Any]:
    return dict(ok(await client.post("/v1/draft-orders", headers=m.headers,
                                     json=draft_body(*lines, **more)), 201))


async def send(client: httpx.AsyncClient, m: Merchant, draft_id: str,
               **body: Any) -> dict[str, Any]:
    return dict(ok(await client.post(f"/v1/draft-orders/{draft_id}/send", headers=m.headers,
                                     json=body)))


async def open_link(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(f"/d/{token}/open")


async def test_a_draft_becomes_an_order_through_its_link_at_the_draft_s_price(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await open_shop(client, m, products={"MUG": (1000, 5), "CAP": (350, 5)}, shipping=500,
                    tax_rate="10")
    draft = await new_draft(client, m, ("MUG", 2))
    assert draft["status"] == "draft" and draft["pricing_problem"] is None
    # 2 x 1000; shipping 500; 10% tax on both.
    assert draft["totals"]["total"] == 2000 + 500 + 250
    assert await levels(client, m, "MUG") == (5, 0, 5)  # a draft holds nothing

    # Edits reprice through the pricing engine.
    draft = ok(await client.post(f"/v1/draft-orders/{draft['id']}/lines", headers=m.headers,
                                 json={"sku": "CAP", "quantity": 1}))
    assert draft["totals"] == {"subtotal": 2350, "discount_total": 0, "shipping": 500,
                               "shipping_discount": 0, "tax_total": 285, "total": 3135}
    draft = ok(await client.patch(f"/v1/draft-orders/{draft['id']}/lines/MUG",
                                  headers=m.headers, json={"quantity": 3}))
    assert draft["totals"]["subtotal"] == 3350
    draft = ok(await client.patch(f"/v1/draft-orders/{draft['id']}/lines/MUG",
                                  headers=m.headers, json={"quantity": 2}))
    assert draft["totals"]["total"] == 3135

    sent = await send(client, m, draft["id"])
    assert sent["status"] == "sent" and sent["link_token"].startswith("dl_")
    assert sent["link_url"].endswith(f"/d/{sent['link_token']}")
    assert sent["whatsapp_url"].startswith("https://wa.me/?text=")
    assert "link_token" not in ok(await client.get(f"/v1/draft-orders/{draft['id']}",
                                                   headers=m.headers))

    page = await client.get(f"/d/{sent['link_token']}")  # a link preview holds nothing
    assert page.status_code == 200 and "Continue to checkout" in page.text
    assert await levels(client, m, "MUG") == (5, 0, 5)

    first = await open_link(client, sent["link_token"])
    assert first.status_code == 303, first.text
    found = REVIEW.match(first.headers["location"])
    assert found is not None
    cart_token, checkout_id = found.groups()
    assert await levels(client, m, "MUG") == (5, 2, 3)  # held from the opening on
    again = await open_link(client, sent["link_token"])
    assert again.headers["location"] == first.headers["location"]
    assert await checkout_count(runtime, m) == 1
    assert await levels(client, m, "MUG") == (5, 2, 3)
    opened = ok(await client.get(f"/v1/draft-orders/{draft['id']}", headers=m.headers))
    assert opened["status"] == "open" and opened["checkout_id"] == checkout_id
    error_of(await client.post(f"/v1/draft-orders/{draft['id']}/lines", headers=m.headers,
                               json={"sku": "CAP", "quantity": 1}), 409, "draft_order_closed")

    cart = Cart(id=opened["cart_id"], token=cart_token)
    checkout = ok(await client.get(f"/v1/checkouts/{checkout_id}", headers=cart.headers))
    order = ok(await confirm(client, cart, checkout), 201)
    assert order["total"] == draft["totals"]["total"]
    assert [(line["sku"], line["quantity"], line["unit_price"]) for line in order["lines"]] == [
        ("MUG", 2, 1000), ("CAP", 1, 350)]
    assert order["customer"]["name"] == BUYER["name"]

    done = ok(await client.get(f"/v1/draft-orders/{draft['id']}", headers=m.headers))
    assert done["status"] == "completed" and done["order_id"] == order["id"]
    assert await draft_events(runtime, m) == [
        ("draft_order.created", "created"), ("draft_order.updated", "lines"),
        ("draft_order.updated", "lines"), ("draft_order.updated", "lines"),
        ("draft_order.updated", "sent"), ("draft_order.updated", "opened"),
        ("draft_order.completed", "completed")]
    replay = await open_link(client, sent["link_token"])  # the order is placed: no new hold
    assert replay.status_code == 303 and await checkout_count(runtime, m) == 1
    error_of(await client.post(f"/v1/draft-orders/{draft['id']}/cancel", headers=m.headers),
             409, "draft_order_closed")


async def test_details_edits_reprice_and_a_coupon_that_does_not_apply_is_said_not_hidden(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await open_shop(client, m, products={"MUG": (1000, 5)}, shipping=500, tax_rate=None)
    ok(await client.post("/v1/coupons", headers=m.headers, json={
        "code": "TENOFF", "kind": "percentage", "percent_off": "10"}), 201)
    draft = ok(await client.post("/v1/draft-orders", headers=m.headers, json={
        "lines": [{"sku": "MUG", "quantity": 1}]}), 201)
    assert draft["totals"]["total"] == 1000  # no address yet: no shipping
    draft = ok(await client.patch(f"/v1/draft-orders/{draft['id']}", headers=m.headers,
                                  json={"address": ADDRESS, "coupon_codes": ["tenoff"],
                                        "customer": BUYER}))
    assert draft["coupon_codes"] == ["TENOFF"]
    assert draft["totals"]["total"] == 1000 - 100 + 500
    assert draft["customer"]["name"] == BUYER["name"]
    draft = ok(await client.patch(f"/v1/draft-orders/{draft['id']}", headers=m.headers,
                                  json={"coupon_codes": ["NOPE"]}))
    assert draft["pricing_problem"]["code"] == "invalid_coupon"
    assert draft["totals"]["total"] == 1000
    stale = await client.patch(f"/v1/draft-orders/{draft['id']}", headers={
        **m.headers, "If-Match": '"1"'}, json={"note": "x"})
    error_of(stale, 412, "version_conflict")
    error_of(await client.post(f"/v1/draft-orders/{draft['id']}/lines", headers=m.headers,
                               json={"sku": "NOPE", "quantity": 1}), 422, "unknown_sku")


async def test_an_out_of_stock_draft_gets_the_checkout_s_refusal_page_not_an_error(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await open_shop(client, m, products={"MUG": (1000, 1)}, shipping=500)
    draft = await new_draft(client, m, ("MUG", 2))
    sent = await send(client, m, draft["id"])
    refused = await open_link(client, sent["link_token"])
    assert refused.status_code == 409
    assert "no longer in stock" in refused.text
    assert await levels(client, m, "MUG") == (1, 0, 1)
    assert await checkout_count(runtime, m) == 0


async def test_cancelling_an_opened_draft_gives_its_stock_back_and_kills_its_link(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await open_shop(client, m, products={"MUG": (1000, 5)}, shipping=500)
    draft = await new_draft(client, m, ("MUG", 2))
    sent = await send(client, m, draft["id"])
    assert (await open_link(client, sent["link_token"])).status_code == 303
    assert await levels(client, m, "MUG") == (5, 2, 3)
    cancelled = ok(await client.post(f"/v1/draft-orders/{draft['id']}/cancel",
                                     headers=m.headers))
    assert cancelled["status"] == "cancelled"
    assert await levels(client, m, "MUG") == (5, 0, 5)
    assert (await client.get(f"/d/{sent['link_token']}")).status_code == 404
    assert (await open_link(client, sent["link_token"])).status_code == 404
    listed = ok(await client.get("/v1/draft-orders", headers=m.headers,
                                 params={"status": "cancelled"}))
    assert [d["id"] for d in listed["data"]] == [draft["id"]]


async def test_a_sent_again_link_replaces_the_first_and_an_expired_link_opens_nothing(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    runtime.clock = clock = ManualClock()
    m = await new_merchant(runtime)
    await open_shop(client, m, products={"MUG": (1000, 5)}, shipping=500)
    draft = await new_draft(client, m, ("MUG", 1))
    first = await send(client, m, draft["id"])
    second = await send(client, m, draft["id"], expires_in_hours=2)
    assert (await client.get(f"/d/{first['link_token']}")).status_code == 404
    clock.advance(3 * 3600)
    expired = await open_link(client, second["link_token"])
    assert expired.status_code == 410 and "expired" in expired.text
    assert await levels(client, m, "MUG") == (5, 0, 5)


async def test_another_business_gets_404_on_every_route_and_a_read_key_cannot_write(
        client: httpx.AsyncClient, runtime: Runtime, rival: Merchant) -> None:
    m = await new_merchant(runtime)
    await open_shop(client, m, products={"MUG": (1000, 5)}, shipping=500)
    draft = await new_draft(client, m, ("MUG", 1))
    base = f"/v1/draft-orders/{draft['id']}"
    calls = [("GET", base, None), ("PATCH", base, {"note": "x"}),
             ("POST", base + "/lines", {"sku": "MUG", "quantity": 1}),
             ("PATCH", base + "/lines/MUG", {"quantity": 2}),
             ("DELETE", base + "/lines/MUG", None), ("POST", base + "/send", {}),
             ("POST", base + "/cancel", None)]
    for method, url, body in calls:
        error_of(await client.request(method, url, headers=rival.headers, json=body),
                 404, "not_found")
    assert ok(await client.get("/v1/draft-orders", headers=rival.headers))["data"] == []
    issued = ok(await client.post("/v1/api-keys", headers=m.headers,
                                  json={"name": "reader", "scopes": ["read"]}), 201)
    reader = {"Authorization": f"Bearer {issued['key']}"}
    for method, url, body in calls[1:]:
        error_of(await client.request(method, url, headers=reader, json=body),
                 403, "forbidden")
    error_of(await client.post("/v1/draft-orders", headers=reader, json=draft_body()),
             403, "forbidden")
    assert ok(await client.get(base, headers=reader))["version"] == draft["version"]
    error_of(await client.get(f"/v1/draft-orders/{uuid.uuid4()}"), 401, "unauthorized")
