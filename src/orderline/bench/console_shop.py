"""The shop ``orderline bench console`` measures: the demo shop grown to a year of orders.

1. **Templates, through the services.** The demo shop (``orderline demo``'s: catalog,
   shipping, tax, a bank wire, its owner) gets a stocked bench product and a few hundred
   orders from its channels, each taken through the use cases a merchant's calls run: placed
   by hand or through a buyer's checkout (cart, checkout, confirm), then paid, shipped,
   delivered or cancelled; and carts whose checkout was left open. So every table an order
   touches (lines, history, payment intents and movements, checkouts, carts) holds what the
   services write.
2. **Copies, in SQL.** ``INSERT ... SELECT`` copies the templates' rows, generation after
   generation, until the business holds the orders asked for. Every id is remapped the same
   way in every table (``md5(id || generation)``), so a copy's lines, history and payments
   belong to the copied order; every timestamp moves back by the same span within one order
   (or one cart), so the copies spread over the past year, newest first. A copy older than a
   day that was still unpaid is cancelled for ``payment_timeout``, as the deadline sweeper
   would have done, and a checkout left open has expired.

The column lists come from the tables' metadata, so a new column is copied as it is.
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table

from orderline.bench.checkout import buy_in_process
from orderline.bench.checkout_paths import ADDRESS
from orderline.catalog import products as catalog
from orderline.checkout import carts, checkouts
from orderline.checkout.direct_orders import NewOrder, create_order
from orderline.core.db.tables import Base
from orderline.core.db.types import UTCDateTime
from orderline.core.runtime import Runtime
from orderline.demo.shop import load_demo
from orderline.orders import status as order_status
from orderline.orders.rules import CancelReason, OrderStatus, RequestedLine
from orderline.orders.service import Contact
from orderline.payments import service as payments
from orderline.shipping.rules import Address
from orderline.tenancy import service as tenancy
from orderline.tenancy.rules import Principal

SKUS = [f"BENCH-{n:02d}" for n in range(12)]
CHANNELS = ("whatsapp", "instagram", "web", "pos")
BUYERS = 120
YEAR_SECONDS = 365 * 86_400
ORDER_FAMILY = ("orders", "order_lines", "order_events", "payment_intents", "payment_movements")
CART_FAMILY = ("carts", "cart_lines", "checkouts")
# Which column of each table names the order (or cart) whose time span the row moves by.
_SPAN_KEY = {"orders": "id", "order_lines": "order_id", "order_events": "order_id",
             "payment_intents": "order_id", "payment_movements": "order_id",
             "carts": "id", "cart_lines": "cart_id", "checkouts": "cart_id"}
# Ids remapped in each table (its own id and those naming a copied row).
_REMAPPED = {"id", "order_id", "cart_id", "intent_id", "checkout_id"}


@dataclass(frozen=True, slots=True)
class ConsoleShop:
    business_id: uuid.UUID
    api_key: str
    owner_email: str
    owner_password: str
    orders: int  # in the business, templates and copies
    template_orders: int
    seconds: float


# --- templates -------------------------------------------------------------------------------

def _buyer(n: int) -> Contact:
    return Contact(name=f"Bench buyer {n:03d}", phone=f"+62 812 5550 {n:04d}")


async def _follow_up(runtime: Runtime, principal: Principal, order: dict[str, Any],
                     then: str, n: int) -> None:
    """Take a placed order as far as ``then``: paid, shipped, delivered or cancelled."""
    if then == "cancelled":
        await order_status.cancel_order(runtime, principal, order["id"],
                                        reason=CancelReason.BUYER, note="changed their mind")
        return
    if then == "unpaid":
        return
    await order_status.confirm_payment(runtime, principal, order["id"],
                                       reference=f"bench-{n}", amount=order["total"])
    if then in ("shipped", "delivered"):
        await payments.ship_order(runtime, principal, order["id"], carrier="J&T Express",
                                  tracking_number=f"JT{n:010d}", tracking_url=None)
    if then == "delivered":
        await order_status.change_status(runtime, principal, order["id"],
                                         status=OrderStatus.DELIVERED)


OUTCOMES = ("unpaid",) * 2 + ("paid",) * 4 + ("shipped",) * 3 + ("delivered",) * 3 + (
    "cancelled",) * 2


async def _templates(runtime: Runtime, principal: Principal, key: str, *, by_hand: int,
                     checkouts_done: int, left_open: int, say: Callable[[str], None]) -> None:
    rng = random.Random(7)
    for n in range(by_hand):
        lines = [RequestedLine(sku, rng.randint(1, 3))
                 for sku in rng.sample(SKUS, rng.choice((1, 1, 2, 3)))]
        order = await create_order(runtime, principal, NewOrder(
            customer=_buyer(n % BUYERS), channel=CHANNELS[n % len(CHANNELS)], lines=lines,
            payment_method="bank_wire" if n % 3 else "card"))
        await _follow_up(runtime, principal, order, OUTCOMES[n % len(OUTCOMES)], n)
        if n % 100 == 99:
            say(f"  {n + 1} of {by_hand} template orders placed by hand")
    for n in range(checkouts_done):
        answer = await buy_in_process(runtime, principal, key, SKUS[n % len(SKUS)],
                                      buyer=_buyer(n % BUYERS),
                                      client_ip=f"10.1.{n // 256}.{n % 256}")
        order = {"id": uuid.UUID(answer["id"]), "total": answer["total"]}  # the new order
        await _follow_up(runtime, principal, order, OUTCOMES[(n + 5) % len(OUTCOMES)],
                         by_hand + n)
    for n in range(left_open):
        cart = await carts.create_cart(runtime, principal, channel="web")
        caller = await carts.caller_for_token(runtime, cart["token"])
        await carts.add_line(runtime, caller, cart["id"], sku=SKUS[n % len(SKUS)], quantity=1)
        await checkouts.start_checkout(runtime, caller, checkouts.NewCheckout(
            cart_id=cart["id"], address=Address(**ADDRESS), shipping_method_id=None,
            payment_method="card", coupon_codes=[], customer=_buyer(n % BUYERS)))


# --- copies ----------------------------------------------------------------------------------

def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def _expression(table: Table, column: str, *, time_shift: str) -> str | None:
    """What a copy puts in ``column`` (None: leave it to the column's default)."""
    col = table.c[column]
    if col.primary_key and not _is_uuid(col.type):
        return None  # a sequence's number
    special = _SPECIAL.get((table.name, column))
    if special is not None:
        return special
    if column in _REMAPPED:
        return f"md5({column}::text || ':' || g)::uuid"
    if isinstance(col.type, UTCDateTime):
        return f"{column} - {time_shift}"
    return column


def _is_uuid(kind: Any) -> bool:
    return getattr(kind, "python_type", None) is uuid.UUID


_UNPAID_OLD = "(status = 'pending_payment' AND payment_deadline - shift < now())"
_SPECIAL: dict[tuple[str, str], str] = {
    ("orders", "number"): "'H' || lpad(g::text, 5, '0') || '-' || right(number, 6)",
    ("orders", "access_token_hash"): "NULL",
    ("orders", "status"): f"CASE WHEN {_UNPAID_OLD} THEN 'cancelled' ELSE status END",
    ("orders", "cancel_reason"):
        f"CASE WHEN {_UNPAID_OLD} THEN 'payment_timeout' ELSE cancel_reason END",
    ("orders", "cancelled_at"):
        f"CASE WHEN {_UNPAID_OLD} THEN payment_deadline ELSE cancelled_at END - shift",
    ("carts", "token_hash"): "md5(token_hash || ':' || g) || md5(token_hash)",
    ("checkouts", "status"): "CASE WHEN status = 'open' THEN 'expired' ELSE status END",
    ("payment_intents", "provider_ref"): "provider_ref || ':' || g",
}


def copy_statement(name: str, *, generations: int, first: int, templates: str,
                   origin: int = 1, base_seconds: int = 0, span_seconds: int) -> str:
    """``INSERT ... SELECT`` of the templates of table ``name`` (those of business $1 whose
    order or cart is in the table ``templates``) for generations ``first`` to
    ``first + generations - 1``. Generation g moves back by ``base_seconds`` and
    ``g - origin`` spans of ``span_seconds``, and each order (or cart) by its own offset
    within its span."""
    table = _table(name)
    key = _SPAN_KEY[name]
    shift = (f"make_interval(secs => {base_seconds} + (g - {origin}) * {span_seconds} + "
             f"(('x' || substr(md5({key}::text), 1, 8))::bit(32)::bigint % {span_seconds}))")
    columns, values = [], []
    for column in list(table.c.keys()):
        value = _expression(table, column, time_shift="shift")
        if value is not None:
            columns.append(f'"{column}"')
            values.append(value)
    return (f'INSERT INTO {name} ({", ".join(columns)}) '
            f"SELECT {', '.join(values)} FROM (SELECT t.*, s.g, {shift} AS shift "
            f"FROM {name} t CROSS JOIN generate_series({first}, {first + generations - 1}) "
            f"AS s(g) WHERE t.business_id = $1 "
            f"AND t.{key} IN (SELECT id FROM {templates})) AS c")


RECENT_DAYS = 14
FINAL = "('delivered', 'cancelled')"


@dataclass(frozen=True, slots=True)
class CopyPlan:
    """Generations 1 .. ``recent`` spread over the last ``RECENT_DAYS`` days and copy every
    template; older ones spread over the rest of the year and copy only the templates whose
    order is over (delivered or cancelled), as a shop's older orders are, with their carts."""

    generations: int
    recent: int
    every: int  # orders per recent generation
    final: int  # orders per older generation

    @property
    def recent_span(self) -> int:
        return max(1, RECENT_DAYS * 86_400 // max(self.recent, 1))

    @property
    def older_span(self) -> int:
        return max(1, (YEAR_SECONDS - RECENT_DAYS * 86_400)
                   // max(self.generations - self.recent, 1))

    @classmethod
    def reaching(cls, copies: int, *, every: int, final: int) -> CopyPlan:
        generations = 1
        while True:
            recent = min(generations, math.ceil(generations * RECENT_DAYS / 365))
            if recent * every + (generations - recent) * max(final, 1) >= copies:
                return cls(generations, recent, every, final)
            generations += 1

    def orders(self, done: int) -> int:
        recent = min(done, self.recent)
        return recent * self.every + (done - recent) * self.final


async def _copy(monitor: Any, business_id: uuid.UUID, *, copies: int,
                say: Callable[[str], None]) -> None:
    # The templates' orders and carts, named before the first copy is made; and those over.
    await monitor.execute("CREATE TEMPORARY TABLE bench_templates (id uuid PRIMARY KEY)")
    await monitor.execute("INSERT INTO bench_templates SELECT id FROM orders WHERE "
                          "business_id = $1 UNION SELECT id FROM carts WHERE business_id = $1",
                          business_id)
    await monitor.execute("CREATE TEMPORARY TABLE bench_final (id uuid PRIMARY KEY)")
    await monitor.execute(
        f"INSERT INTO bench_final SELECT id FROM orders WHERE business_id = $1 AND status IN "
        f"{FINAL} UNION SELECT c.id FROM carts c LEFT JOIN orders o ON o.id = c.order_id "
        f"WHERE c.business_id = $1 AND (o.id IS NULL OR o.status IN {FINAL})", business_id)
    count = "SELECT count(*) FROM orders WHERE id IN (SELECT id FROM {})"
    plan = CopyPlan.reaching(copies, every=int(await monitor.fetchval(
        count.format("bench_templates"))), final=int(await monitor.fetchval(
            count.format("bench_final"))))
    say(f"copying in SQL: {plan.generations} generations over the past year, the last "
        f"{RECENT_DAYS} days of every template, older ones of the {plan.final} finished")
    batch = max(1, 20_000 // max(plan.every, 1))
    done = 0
    while done < plan.generations:
        size = min(batch, plan.generations - done)
        recent = (done + 1, min(done + size, plan.recent))
        older = (max(done + 1, plan.recent + 1), done + size)
        async with monitor.transaction():
            for name in (*ORDER_FAMILY, *CART_FAMILY):
                if recent[0] <= recent[1]:
                    await monitor.execute(copy_statement(
                        name, generations=recent[1] - recent[0] + 1, first=recent[0],
                        templates="bench_templates", span_seconds=plan.recent_span),
                        business_id)
                if older[0] <= older[1]:
                    await monitor.execute(copy_statement(
                        name, generations=older[1] - older[0] + 1, first=older[0],
                        templates="bench_final", origin=plan.recent + 1,
                        base_seconds=RECENT_DAYS * 86_400, span_seconds=plan.older_span),
                        business_id)
        done += size
        say(f"  copied {done} of {plan.generations} generations ({plan.orders(done):,} orders)")
    await monitor.execute("ANALYZE")


# --- the whole shop --------------------------------------------------------------------------

async def open_console_shop(runtime: Runtime, monitor: Any, *, orders: int,
                            say: Callable[[str], None]) -> ConsoleShop:
    """The demo shop with ``orders`` orders over the past year (see the module's doc)."""
    started = time.perf_counter()
    demo = await load_demo(runtime)
    principal = await tenancy.authenticate(runtime, demo.api_key)
    await tenancy.update_settings(runtime, principal, confirms_per_minute=1000)
    await catalog.create_product(runtime, principal, name="Bench kopi", description="",
                                 variants=[catalog.NewVariant(sku=sku, name=f"Kopi {sku}",
                                                              price=45_000 + 500 * n,
                                                              low_stock_threshold=5,
                                                              initial_stock=10_000_000)
                                           for n, sku in enumerate(SKUS)])
    by_hand = min(240, max(20, orders // 4))
    done_checkouts = max(5, by_hand // 4)
    left_open = max(2, by_hand // 8)
    say(f"templates: {by_hand} orders by hand, {done_checkouts} through checkout, "
        f"{left_open} checkouts left open (through the services)")
    await _templates(runtime, principal, demo.api_key, by_hand=by_hand,
                     checkouts_done=done_checkouts, left_open=left_open, say=say)
    templates = int(await monitor.fetchval(
        "SELECT count(*) FROM orders WHERE business_id = $1", principal.business_id))
    if orders > templates:
        await _copy(monitor, principal.business_id, copies=orders - templates, say=say)
    total = int(await monitor.fetchval(
        "SELECT count(*) FROM orders WHERE business_id = $1", principal.business_id))
    return ConsoleShop(business_id=principal.business_id, api_key=demo.api_key,
                       owner_email=demo.owner_email, owner_password=demo.owner_password,
                       orders=total, template_orders=templates,
                       seconds=time.perf_counter() - started)
