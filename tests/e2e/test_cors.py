"""CORS for browser storefronts: none allowed by default; a business's allowed origin gets its
preflight answered and may read the answers to requests made with that business's credentials
(API key, cart token, order token), and never those made with another business's."""

from __future__ import annotations

import uuid

import httpx

from orderline.api.cors import ALLOWED_HEADERS
from tests.conftest import Merchant
from tests.e2e.conftest import error_of, ok
from tests.support.manual import buyer, manual_order

ACAO = "access-control-allow-origin"


def fresh_origin() -> str:
    """An origin no other test's business allows (they share the database)."""
    return f"https://{uuid.uuid4().hex[:12]}.example.com"


async def allow(client: httpx.AsyncClient, merchant: Merchant, *origins: str) -> None:
    business = ok(await client.patch("/v1/business", headers=merchant.headers,
                                     json={"allowed_origins": list(origins)}))
    assert business["allowed_origins"] == sorted(origins)


async def preflight(client: httpx.AsyncClient, origin: str, path: str = "/v1/orders",
                    method: str = "POST") -> httpx.Response:
    return await client.options(path, headers={
        "Origin": origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key"})


def varies_on_origin(response: httpx.Response) -> bool:
    return "origin" in response.headers.get("vary", "").lower()


async def test_no_origin_is_allowed_by_default(client: httpx.AsyncClient,
                                               merchant: Merchant) -> None:
    origin = fresh_origin()
    business = ok(await client.get("/v1/business", headers=merchant.headers))
    assert business["allowed_origins"] == []
    answered = await preflight(client, origin)
    assert ACAO not in answered.headers
    assert varies_on_origin(answered)
    read = await client.get("/v1/business", headers={**merchant.headers, "Origin": origin})
    assert read.status_code == 200
    assert ACAO not in read.headers
    assert varies_on_origin(read)


async def test_an_allowed_origin_gets_its_preflight_and_its_answers(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    origin = fresh_origin()
    await allow(client, merchant, origin)
    answered = await preflight(client, origin)
    assert answered.status_code == 204
    assert answered.headers[ACAO] == origin
    assert "POST" in answered.headers["access-control-allow-methods"]
    assert answered.headers["access-control-allow-headers"] == ALLOWED_HEADERS
    for header in ("Authorization", "Content-Type", "Idempotency-Key", "If-Match"):
        assert header in answered.headers["access-control-allow-headers"]
    assert int(answered.headers["access-control-max-age"]) > 0
    assert varies_on_origin(answered)

    read = await client.get("/v1/business", headers={**merchant.headers, "Origin": origin})
    assert read.headers[ACAO] == origin
    assert "ETag" in read.headers["access-control-expose-headers"]
    assert varies_on_origin(read)
    # An error answered to that business's key is readable too (the page can show it).
    refused = await client.post("/v1/channels", headers={**merchant.headers, "Origin": origin},
                                json={"code": "Not A Code"})
    error_of(refused, 422, "validation_error")
    assert refused.headers[ACAO] == origin

    await allow(client, merchant)  # the merchant takes it back: at once
    assert ACAO not in (await preflight(client, origin)).headers
    again = await client.get("/v1/business", headers={**merchant.headers, "Origin": origin})
    assert ACAO not in again.headers


async def test_another_business_origin_is_never_echoed(
        client: httpx.AsyncClient, merchant: Merchant, rival: Merchant) -> None:
    mine, theirs = fresh_origin(), fresh_origin()
    await allow(client, merchant, mine)
    await allow(client, rival, theirs)
    # Their page, my key: the browser may send it (their origin passes a preflight), but may
    # not read my answer.
    assert (await preflight(client, theirs)).headers[ACAO] == theirs
    read = await client.get("/v1/business", headers={**merchant.headers, "Origin": theirs})
    assert read.status_code == 200
    assert ACAO not in read.headers
    # No credential, or a wrong one: nothing names a business, so nothing is allowed.
    anonymous = await client.get("/v1/business", headers={"Origin": mine})
    error_of(anonymous, 401, "unauthorized")
    assert ACAO not in anonymous.headers
    forged = await client.get("/v1/business", headers={"Origin": mine,
                                                       "Authorization": "Bearer ol_forged"})
    assert ACAO not in forged.headers


async def test_a_buyer_cart_token_is_allowed_only_from_its_business_origin(
        client: httpx.AsyncClient, merchant: Merchant, rival: Merchant) -> None:
    mine, theirs = fresh_origin(), fresh_origin()
    await allow(client, merchant, mine)
    await allow(client, rival, theirs)
    cart = ok(await client.post("/v1/carts", headers=merchant.headers, json={"channel": "web"}),
              201)
    token = {"X-Cart-Token": cart["token"]}
    from_mine = await client.get(f"/v1/carts/{cart['id']}", headers={**token, "Origin": mine})
    assert from_mine.status_code == 200
    assert from_mine.headers[ACAO] == mine
    from_theirs = await client.get(f"/v1/carts/{cart['id']}",
                                   headers={**token, "Origin": theirs})
    assert ACAO not in from_theirs.headers


async def test_a_buyer_order_token_is_allowed_only_from_its_business_origin(
        http: httpx.AsyncClient, shop: Merchant) -> None:
    mine, elsewhere = fresh_origin(), fresh_origin()
    await allow(http, shop, mine)
    order = await manual_order(http, shop)
    seen = await http.get(f"/v1/orders/{order['id']}", headers={**buyer(order), "Origin": mine})
    assert seen.status_code == 200
    assert seen.headers[ACAO] == mine
    other = await http.get(f"/v1/orders/{order['id']}",
                           headers={**buyer(order), "Origin": elsewhere})
    assert ACAO not in other.headers


async def test_origins_a_browser_never_sends_are_refused(client: httpx.AsyncClient,
                                                         merchant: Merchant) -> None:
    for bad in (["*"], ["https://shop.example.com/checkout"], ["null"],
                [f"https://s{n}.example.com" for n in range(21)]):
        error_of(await client.patch("/v1/business", headers=merchant.headers,
                                    json={"allowed_origins": bad}), 422, "validation_error")
