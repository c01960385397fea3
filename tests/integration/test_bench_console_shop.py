"""The shop ``orderline bench console`` measures: templates through the services, then copies
in SQL. The copies must look like what the services write, or the bench measures pages over
data no merchant has (orders without lines, payments of another order, unpaid orders a year
old). On a PostgreSQL database of its own: the demo shop it grows is found by its name."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from orderline.bench.console_shop import open_console_shop
from orderline.core.config import Settings
from orderline.core.runtime import Runtime
from tests.conftest import IN_CI
from tests.support import postgres

pytestmark = pytest.mark.slow


@pytest.fixture
def own_database_url() -> Iterator[str]:
    with postgres.own_database(in_ci=IN_CI) as url:
        yield url


@pytest.fixture
async def own_database(own_database_url: str
                       ) -> AsyncIterator[tuple[Runtime, asyncpg.Connection]]:
    async with postgres.migrated_runtime(Settings(database_url=own_database_url)) as opened:
        yield opened


async def test_the_copies_belong_to_their_orders_and_spread_over_a_year(
        own_database: tuple[Runtime, asyncpg.Connection]) -> None:
    runtime, monitor = own_database
    said: list[str] = []
    shop = await open_console_shop(runtime, monitor, orders=400, say=said.append)

    b = shop.business_id
    count = await monitor.fetchval("SELECT count(*) FROM orders WHERE business_id = $1", b)
    assert count == shop.orders >= 400 > shop.template_orders
    assert any("copied" in line for line in said)
    # Every order, copy or not, has its lines, its history and consistent totals.
    assert await monitor.fetchval(
        "SELECT count(*) FROM orders o WHERE business_id = $1 AND NOT EXISTS "
        "(SELECT 1 FROM order_lines l WHERE l.order_id = o.id)", b) == 0
    assert await monitor.fetchval(
        "SELECT count(*) FROM orders o WHERE business_id = $1 AND NOT EXISTS "
        "(SELECT 1 FROM order_events e WHERE e.order_id = o.id)", b) == 0
    assert await monitor.fetchval(
        "SELECT count(*) FROM orders o WHERE business_id = $1 AND subtotal <> "
        "(SELECT sum(line_total) FROM order_lines l WHERE l.order_id = o.id)", b) == 0
    # A copy's history and payments are of the copy, and never before it was placed.
    assert await monitor.fetchval(
        "SELECT count(*) FROM order_events e JOIN orders o ON o.id = e.order_id "
        "WHERE o.business_id = $1 AND e.created_at < o.created_at - interval '1 second'",
        b) == 0
    assert await monitor.fetchval(
        "SELECT count(*) FROM payment_movements m JOIN payment_intents i ON i.id = m.intent_id "
        "WHERE m.business_id = $1 AND m.order_id <> i.order_id", b) == 0
    # Copies spread over the past year; none is still unpaid long after its deadline.
    days = await monitor.fetchval(
        "SELECT count(DISTINCT date(created_at)) FROM orders WHERE business_id = $1", b)
    assert days > 120  # about 190 expected: ~270 copies over 365 days
    assert await monitor.fetchval(
        "SELECT count(*) FROM orders WHERE business_id = $1 AND status = 'pending_payment' "
        "AND payment_deadline < now()", b) == 0
    # Older orders are over, as a shop's are: delivered or cancelled.
    assert await monitor.fetchval(
        "SELECT count(*) FROM orders WHERE business_id = $1 AND created_at < now() - "
        "interval '15 days' AND status NOT IN ('delivered', 'cancelled')", b) == 0
    # Numbers stay unique (the constraint would refuse otherwise) and checkouts lead to their
    # own copy of the order.
    assert await monitor.fetchval(
        "SELECT count(*) FROM checkouts c JOIN orders o ON o.id = c.order_id "
        "WHERE c.business_id = $1 AND o.checkout_id <> c.id", b) == 0
    assert await monitor.fetchval(
        "SELECT count(*) FROM checkouts WHERE business_id = $1 AND status = 'converted'",
        b) > 25  # the templates' and some copies'
