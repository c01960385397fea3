"""The buyer path of ``orderline bench checkout``, driven two ways: over HTTP and as raw SQL.

One buyer path is four steps, each one request (or one transaction) of its own:

1. ``cart``: the merchant key creates a cart for a known customer;
2. ``line``: the buyer (``X-Cart-Token``) adds one unit of one SKU;
3. ``checkout``: the buyer starts the checkout (US address, the zone's flat method, 10% tax),
   which holds the unit;
4. ``confirm``: the buyer confirms at the checkout's totals with a new ``Idempotency-Key``.

Every path runs as one of the bench's customers, taken from a ``CustomerPool`` for the whole
path and handed back after it. The pool holds more customers than there are paths in flight,
so no customer ever has two confirms running at once: the confirm's per-buyer guard
(``confirm_in_flight``) never refuses a path, and its rate limit is spread over all of them.

``RawBuyer`` writes what the services write, in their order and with their shape, through
asyncpg (see ``bench_raw`` for the order bench's counterpart): the cart; the cart's version
bump and its line; the superseding of an earlier open checkout (none here, but the statement
always runs), the conditional stock hold, the checkout and its reservation; then the confirm's
idempotency claim (a transaction of its own, as in the service) and its conversion: the order's
number (its business's sequence), order, line, hand-over of the reservation to the order,
history entry, the two event streams and outbox events (``order.created``,
``checkout.converted``), the checkout and cart closed, the key completed with the answer. Ids,
the SKU's stock level, the customers and the JSON the service writes (quote, answer, event
payloads, taken from one confirm run in-process) are resolved before the clock starts, so the
reads each service step does are left out: the raw figure is what the path's writes cost the
database at the least.

asyncpg ships without type information, hence the ``type: ignore`` on its import.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import aiohttp
import httpx
from pydantic_core import to_json

from orderline.bench.load import percentile
from orderline.bench.raw import HOLD, INSERT_EVENT, NEXT_NUMBER, Buyer, Seller, SkuTarget
from orderline.catalog.rules import ReservationStatus
from orderline.checkout.carts import hash_cart_token, new_cart_token
from orderline.idempotency.rules import fingerprint
from orderline.orders.rules import OrderStatus, format_order_number
from orderline.orders.service import hash_access_token, new_order_access_token
from orderline.tenancy.rules import order_number_sequence_name

STEPS = ("cart", "line", "checkout", "confirm")
ADDRESS = {"name": "Bench Buyer", "line1": "1 Main St", "city": "Springfield", "region": "IL",
           "postal_code": "62701", "country": "US"}
CONFIRM_OPERATION = "checkout.confirm"  # services.confirm.OPERATION
T = TypeVar("T")

INSERT_CART = (
    "INSERT INTO carts (id, business_id, token_hash, customer_id, channel, currency, status, "
    "version, order_id, created_at, updated_at) VALUES "
    "($1, $2, $3, $4, $5, $6, 'open', 1, NULL, $7, $7)")
TOUCH_CART = (
    "UPDATE carts SET version = carts.version + 1, updated_at = $1 WHERE carts.id = $2 "
    "AND carts.business_id = $3 AND carts.status = 'open' RETURNING carts.version")
INSERT_CART_LINE = (
    "INSERT INTO cart_lines (id, business_id, cart_id, variant_id, sku, quantity, position, "
    "added_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7)")
# The new checkout written and the cart's open ones superseded, in one statement as the
# service sends it (the UPDATE does not see the row its WITH writes).
INSERT_CHECKOUT = (
    "WITH written AS (INSERT INTO checkouts (id, business_id, cart_id, cart_version, status, "
    "customer_name, customer_phone, customer_email, customer_id, address, zone_id, "
    "shipping_method_id, coupon_codes, payment_method, location_id, currency, quote, total, "
    "prices_validated_at, expires_at, order_id, version, created_at, updated_at, channel) "
    "VALUES ($1, $2, $3, $4, 'open', $5, $6, NULL, $7, $8::json, $9, $10, '[]'::json, $11, "
    "$12, $13, $14::json, $15, $16, $17, NULL, 1, $16, $16, 'web')) "
    "UPDATE checkouts SET status = 'superseded', version = checkouts.version + 1, "
    "updated_at = $16 WHERE checkouts.cart_id = $3 AND checkouts.status = 'open' "
    "RETURNING checkouts.id")
INSERT_CHECKOUT_RESERVATION = (
    "INSERT INTO reservations (id, business_id, order_id, checkout_id, stock_level_id, "
    "variant_id, quantity, status, expires_at, created_at, closed_at) VALUES "
    "($1, $2, NULL, $3, $4, $5, $6, $7, $8, $9, NULL)")
CLAIM_KEY = (
    "INSERT INTO idempotency_keys (id, business_id, operation, key, fingerprint, status, "
    "locked_until, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, 'in_progress', $6, $7, "
    "$8) ON CONFLICT DO NOTHING")
INSERT_ORDER = (
    "INSERT INTO orders (id, business_id, number, status, channel, customer_id, customer_name, "
    "customer_phone, customer_email, payment_method, note, currency, subtotal, total, "
    "location_id, version, payment_deadline, access_token_hash, discount_total, shipping_total, "
    "shipping_discount, tax_total, prices_include_tax, pricing, shipping_method, "
    "shipping_address, checkout_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, "
    "$8, NULL, $9, '', $10, $11, $12, $13, 1, $14, $15, $16, $17, $18, $19, $20, $21::json, "
    "$22::json, $23::json, $24, $25, $25)")
INSERT_ORDER_LINE = (
    "INSERT INTO order_lines (id, business_id, order_id, position, variant_id, sku, name, "
    "unit_price, quantity, line_total, discount, tax) VALUES "
    "($1, $2, $3, 0, $4, $5, $6, $7, $8, $9, $10, $11)")
HAND_OVER = (
    "UPDATE reservations SET order_id = $1 WHERE reservations.checkout_id = $2 "
    "AND reservations.status = 'active' AND reservations.expires_at > $3 "
    "RETURNING reservations.variant_id, reservations.quantity")
INSERT_STREAMS = "INSERT INTO event_streams (aggregate_id, last_sequence) VALUES ($1, 1)"
INSERT_FIRST_EVENTS = (
    "INSERT INTO outbox_events (event_id, business_id, type, aggregate_type, aggregate_id, "
    "sequence, payload, created_at, status, attempts) VALUES "
    "($1, $2, $3, $4, $5, 1, $6::json, $7, 'pending', 0)")
# The checkout converted and its cart closed, in one statement as the service sends it.
CONVERT_CHECKOUT = (
    "WITH converted AS (UPDATE checkouts SET status = 'converted', quote = $1::json, "
    "total = $2, prices_validated_at = $3, order_id = $4, version = checkouts.version + 1, "
    "updated_at = $3 WHERE checkouts.id = $5) "
    "UPDATE carts SET status = 'converted', version = carts.version + 1, order_id = $4, "
    "updated_at = $3 WHERE carts.id = $6 AND carts.status = 'open' RETURNING carts.id")
COMPLETE_KEY = (
    "UPDATE idempotency_keys SET status = 'completed', response_status = 201, "
    "response_body = $1::json WHERE idempotency_keys.id = $2")

# Per step, the statements of each transaction (the two event inserts send two rows each).
RAW_STEPS: dict[str, tuple[tuple[str, ...], ...]] = {
    "cart": ((INSERT_CART,),),
    "line": ((TOUCH_CART, INSERT_CART_LINE),),
    "checkout": ((INSERT_CHECKOUT, HOLD, INSERT_CHECKOUT_RESERVATION),),
    "confirm": ((CLAIM_KEY,),
                (NEXT_NUMBER, INSERT_ORDER, INSERT_ORDER_LINE, HAND_OVER, INSERT_EVENT,
                 INSERT_STREAMS, INSERT_FIRST_EVENTS, CONVERT_CHECKOUT,
                 COMPLETE_KEY)),
}


class CustomerPool:
    """The bench's customers, each lent to one path at a time, least recently used first."""

    def __init__(self, customers: Iterable[Buyer]) -> None:
        self._free = deque(customers)

    def __len__(self) -> int:
        return len(self._free)

    def take(self) -> Buyer:
        if not self._free:  # the pool is sized above the paths in flight: a bench bug
            raise RuntimeError("every bench customer is busy: more paths in flight than "
                               "customers")
        return self._free.popleft()

    def give_back(self, customer: Buyer) -> None:
        self._free.append(customer)


class StepRefused(Exception):
    """A step of a buyer path was refused; ``code`` says how (HTTP status and error code)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass
class StepTimes:
    """The latency of each step that succeeded, and the refusals by step and code."""

    ms: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STEPS})
    refusals: Counter[str] = field(default_factory=Counter)

    async def timed(self, step: str, call: Awaitable[T]) -> T:
        begun = time.perf_counter()
        try:
            result = await call
        except StepRefused as refused:
            self.refusals[f"{step} {refused.code}"] += 1
            raise
        except Exception as error:  # a dropped connection, a database error: counted too
            self.refusals[f"{step} {type(error).__name__}"] += 1
            raise
        self.ms[step].append((time.perf_counter() - begun) * 1000)
        return result

    def percentiles(self) -> dict[str, dict[str, float | None]]:
        return {step: {"p50_ms": percentile(ordered, 50), "p95_ms": percentile(ordered, 95)}
                for step, values in self.ms.items() if (ordered := sorted(values))}


@dataclass(frozen=True, slots=True)
class Sample:
    """One confirm's answer as the service wrote it: the template of the raw path's JSON."""

    answer: dict[str, Any]

    @property
    def quote(self) -> dict[str, Any]:
        quote: dict[str, Any] = self.answer["checkout"]["quote"]
        return quote

    def quote_for(self, sku: str) -> dict[str, Any]:
        quote = copy.deepcopy(self.quote)
        quote["lines"][0]["sku"] = sku
        return quote


# --- over HTTP -------------------------------------------------------------------------------

async def post_step(client: httpx.AsyncClient, times: StepTimes, step: str, url: str,
                    expected: int, *, headers: dict[str, str] | None = None,
                    body: dict[str, Any] | None = None, content: bytes | None = None) -> Any:
    """POST ``body`` as JSON (or ``content`` as it is), timed as ``step``; the answer's JSON
    when its status is ``expected``, else ``StepRefused`` with the status and error code."""
    async def post() -> Any:
        response = await client.post(url, json=body, content=content, headers=headers)
        return _answer(response.status_code, response.content, expected)

    return await times.timed(step, post())


def _answer(status: int, content: bytes, expected: int) -> Any:
    if status == expected:
        return json.loads(content)
    try:
        code = str(json.loads(content)["error"]["code"])
    except (ValueError, KeyError, TypeError):
        code = "(no error code)"
    raise StepRefused(f"{status} {code}", content[:200].decode(errors="replace"))


# POST a JSON body with these headers to a path; the answer's status and body.
Send = Callable[[str, dict[str, Any], dict[str, str]], Awaitable[tuple[int, bytes]]]


def httpx_sender(client: httpx.AsyncClient) -> Send:
    async def send(url: str, body: dict[str, Any], headers: dict[str, str]
                   ) -> tuple[int, bytes]:
        response = await client.post(url, json=body, headers=headers)
        return response.status_code, response.content

    return send


def aiohttp_sender(session: aiohttp.ClientSession) -> Send:
    """The bench's load generator: aiohttp spends far less CPU per request than httpx, and
    the load generator shares the machine's cores with the servers and PostgreSQL."""
    async def send(url: str, body: dict[str, Any], headers: dict[str, str]
                   ) -> tuple[int, bytes]:
        async with session.post(url, data=to_json(body),
                                headers={"Content-Type": "application/json", **headers}
                                ) as response:
            return response.status, await response.read()

    return send


class HttpBuyer:
    """The four requests of a path, as a storefront and its buyer send them."""

    def __init__(self, send: Send, api_key: str, customers: CustomerPool,
                 times: StepTimes) -> None:
        self.send = send
        self.merchant = {"Authorization": f"Bearer {api_key}"}
        self.customers = customers
        self.times = times

    async def _post(self, step: str, url: str, expected: int, body: dict[str, Any],
                    headers: dict[str, str]) -> Any:
        async def post() -> Any:
            return _answer(*await self.send(url, body, headers), expected)

        return await self.times.timed(step, post())

    async def buy(self, sku: str) -> None:
        customer = self.customers.take()
        try:
            cart = await self._post("cart", "/v1/carts", 201, {
                "channel": "web", "customer_id": str(customer.customer_id)}, self.merchant)
            buyer = {"X-Cart-Token": cart["token"]}
            await self._post("line", f"/v1/carts/{cart['id']}/lines", 200,
                             {"sku": sku, "quantity": 1}, buyer)
            checkout = await self._post("checkout", "/v1/checkouts", 201, {
                "cart_id": cart["id"], "address": ADDRESS,
                "customer": {"name": customer.name, "phone": customer.phone},
                "payment_method": "card", "coupon_codes": []}, buyer)
            await self._post("confirm", f"/v1/checkouts/{checkout['id']}/confirm", 201,
                             {"totals": checkout["totals"]},
                             {**buyer, "Idempotency-Key": str(uuid.uuid4())})
        finally:
            self.customers.give_back(customer)


# --- raw SQL ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RawShop:
    """What the services read before they write, resolved once."""

    seller: Seller
    zone_id: uuid.UUID
    method_id: uuid.UUID
    sample: Sample
    idempotency_lock: timedelta
    idempotency_keep: timedelta


class RawBuyer:
    """The path's writes through an asyncpg pool: one transaction per service transaction."""

    def __init__(self, pool: Any, shop: RawShop, customers: CustomerPool,
                 times: StepTimes) -> None:
        self.pool = pool
        self.shop = shop
        self.customers = customers
        self.times = times

    async def buy(self, target: SkuTarget) -> None:
        customer = self.customers.take()
        try:
            cart_id = await self.times.timed("cart", self._cart(customer))
            await self.times.timed("line", self._line(cart_id, target))
            checkout_id = uuid.uuid4()
            expires_at = await self.times.timed("checkout", self._checkout(
                cart_id, checkout_id, customer, target))
            await self.times.timed("confirm", self._confirm(
                cart_id, checkout_id, expires_at, customer, target))
        finally:
            self.customers.give_back(customer)

    async def _cart(self, customer: Buyer) -> uuid.UUID:
        s = self.shop.seller
        cart_id = uuid.uuid4()
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(INSERT_CART, cart_id, s.business_id,
                               hash_cart_token(new_cart_token()), customer.customer_id,
                               s.channel, s.currency, datetime.now(UTC))
        return cart_id

    async def _line(self, cart_id: uuid.UUID, target: SkuTarget) -> None:
        s, now = self.shop.seller, datetime.now(UTC)
        async with self.pool.acquire() as conn, conn.transaction():
            if await conn.fetchval(TOUCH_CART, now, cart_id, s.business_id) is None:
                raise StepRefused("cart_closed", f"cart {cart_id} is not open")
            await conn.execute(INSERT_CART_LINE, uuid.uuid4(), s.business_id, cart_id,
                               target.variant_id, target.sku, 1, now)

    async def _checkout(self, cart_id: uuid.UUID, checkout_id: uuid.UUID, customer: Buyer,
                        target: SkuTarget) -> datetime:
        shop, s, now = self.shop, self.shop.seller, datetime.now(UTC)
        expires_at = now + timedelta(seconds=s.reservation_ttl_seconds)
        quote = shop.sample.quote_for(target.sku)
        async with self.pool.acquire() as conn, conn.transaction():
            # Cart version 2: created at 1, moved on once by its line.
            await conn.fetch(INSERT_CHECKOUT, checkout_id, s.business_id, cart_id, 2,
                             customer.name, customer.phone, customer.customer_id,
                             json.dumps(ADDRESS),
                             shop.zone_id, shop.method_id, s.payment_method, s.location_id,
                             s.currency, json.dumps(quote), quote["total"], now, expires_at)
            if await conn.fetchval(HOLD, 1, now, target.stock_level_id) is None:
                raise StepRefused("out_of_stock", f"no free unit of {target.sku}")
            await conn.execute(INSERT_CHECKOUT_RESERVATION, uuid.uuid4(), s.business_id,
                               checkout_id, target.stock_level_id, target.variant_id, 1,
                               ReservationStatus.ACTIVE.value, expires_at, now)
        return expires_at

    async def _confirm(self, cart_id: uuid.UUID, checkout_id: uuid.UUID,
                       expires_at: datetime, customer: Buyer, target: SkuTarget) -> None:
        shop, s, now = self.shop, self.shop.seller, datetime.now(UTC)
        key_id, key = uuid.uuid4(), str(uuid.uuid4())
        quote = shop.sample.quote_for(target.sku)
        totals = shop.sample.answer["checkout"]["totals"]
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(CLAIM_KEY, key_id, s.business_id, CONFIRM_OPERATION, key,
                               fingerprint({"checkout_id": checkout_id, "totals": totals,
                                            "cart_token_for": cart_id}),
                               now + shop.idempotency_lock, now, now + shop.idempotency_keep)
        order_id, status = uuid.uuid4(), OrderStatus.PENDING_PAYMENT.value
        access_token = new_order_access_token()
        line = quote["lines"][0]
        async with self.pool.acquire() as conn, conn.transaction():
            number = format_order_number(int(await conn.fetchval(
                NEXT_NUMBER, order_number_sequence_name(s.business_id))))
            await conn.execute(
                INSERT_ORDER, order_id, s.business_id, number, status, s.channel,
                customer.customer_id, customer.name, customer.phone, s.payment_method,
                s.currency, quote["subtotal"], quote["total"], s.location_id, expires_at,
                hash_access_token(access_token), quote["discount_total"],
                quote["shipping"] - quote["shipping_discount"], quote["shipping_discount"],
                quote["tax_total"], quote["prices_include_tax"],
                json.dumps({"taxes": quote["taxes"], "coupons": quote["coupons"]}),
                json.dumps(quote["shipping_method"]), json.dumps(ADDRESS), checkout_id, now)
            await conn.execute(INSERT_ORDER_LINE, uuid.uuid4(), s.business_id, order_id,
                               target.variant_id, target.sku, target.name, line["unit_price"],
                               line["quantity"], line["subtotal"], line["discount"],
                               line["tax"])
            if not await conn.fetch(HAND_OVER, order_id, checkout_id, now):
                raise StepRefused("checkout_expired", f"checkout {checkout_id} holds no stock")
            changes = {"lines": [{"sku": target.sku, "quantity": 1}], "total": quote["total"],
                       "checkout_id": str(checkout_id)}
            await conn.fetchval(INSERT_EVENT, s.business_id, order_id, s.actor, "created", None,
                                status, json.dumps(changes), now)
            answer = self._answer(order_id, number, cart_id, checkout_id, customer, target,
                                  quote, access_token, now)
            shown = {k: v for k, v in answer.items() if k not in ("access_token", "checkout")}
            await conn.executemany(INSERT_STREAMS, [(order_id,), (checkout_id,)])
            await conn.executemany(INSERT_FIRST_EVENTS, [
                (uuid.uuid4(), s.business_id, "order.created", "order", order_id,
                 json.dumps({"order": shown, "previous_status": None, "action": "created",
                             "actor": s.actor, "changes": changes}), now),
                (uuid.uuid4(), s.business_id, "checkout.converted", "checkout", checkout_id,
                 json.dumps({"checkout_id": str(checkout_id), "cart_id": str(cart_id),
                             "order_id": str(order_id), "order_number": number,
                             "totals": totals}), now)])
            if await conn.fetchval(CONVERT_CHECKOUT, json.dumps(quote), quote["total"], now,
                                   order_id, checkout_id, cart_id) is None:
                raise StepRefused("cart_closed", f"cart {cart_id} was not open")
            await conn.execute(COMPLETE_KEY, json.dumps(answer), key_id)

    def _answer(self, order_id: uuid.UUID, number: str, cart_id: uuid.UUID,
                checkout_id: uuid.UUID, customer: Buyer, target: SkuTarget,
                quote: dict[str, Any], access_token: str, now: datetime) -> dict[str, Any]:
        """The confirm's answer for this path, on the sample's template."""
        sample, stamp = self.shop.sample.answer, now.isoformat()
        return {
            **sample, "id": str(order_id), "number": number,
            "customer_id": str(customer.customer_id), "checkout_id": str(checkout_id),
            "created_at": stamp, "updated_at": stamp,
            "customer": {"id": str(customer.customer_id), "name": customer.name,
                         "phone": customer.phone, "email": None},
            "lines": [{**sample["lines"][0], "sku": target.sku, "name": target.name}],
            "access_token": access_token,
            "checkout": {**sample["checkout"], "id": str(checkout_id), "cart_id": str(cart_id),
                         "order_id": str(order_id), "quote": quote, "updated_at": stamp,
                         "customer": {"name": customer.name, "phone": customer.phone,
                                      "email": None}}}
