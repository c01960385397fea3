"""Which location an order placed without one takes its units from, on both databases, when
holds have lapsed (docs/guides/catalog-and-stock.md, "Which location an order takes from")."""

from __future__ import annotations

from orderline.catalog import inventory
from orderline.catalog import products as catalog
from orderline.catalog.rules import MovementReason
from orderline.core.clock import ManualClock
from orderline.core.runtime import Runtime
from orderline.orders import status as order_status
from tests.conftest import new_merchant
from tests.support.catalog import place, stock, stock_sku

TTL = 60


async def test_a_lapsed_hold_at_another_location_does_not_turn_the_next_order_away(
        runtime: Runtime) -> None:
    # Found by tests/integration/test_stock_properties.py: the allocation read the depot's
    # counters, which still count the lapsed hold, so no location seemed to have the units and
    # the order was refused at the (empty) default location as out of stock.
    runtime.clock = clock = ManualClock()
    merchant = await new_merchant(runtime, reservation_ttl_seconds=TTL)
    await catalog.create_location(runtime, merchant.principal, code="depot", name="Depot")
    await stock_sku(runtime, merchant, "MUG", 0)
    await inventory.adjust_stock(runtime, merchant.principal, sku="MUG", location="depot",
                                 reason=MovementReason.RECEIPT, note="", delta=3)
    first = await place(runtime, merchant, ("MUG", 3))
    clock.advance(TTL + 1)
    assert (await stock(runtime, merchant, "MUG"))["available"] == 3

    second = await place(runtime, merchant, ("MUG", 3))

    levels = {p["location"]: p for p in (await stock(runtime, merchant, "MUG"))["locations"]}
    assert (levels["depot"]["reserved"], levels["depot"]["available"]) == (3, 0)
    assert levels["main"]["on_hand"] == 0
    # The lapsed order can no longer be paid; the new one can, from the depot.
    paid = await order_status.confirm_payment(runtime, merchant.principal, second["id"])
    assert paid["status"] == "paid" and first["id"] != second["id"]
    levels = {p["location"]: p for p in (await stock(runtime, merchant, "MUG"))["locations"]}
    assert levels["depot"]["on_hand"] == 0
