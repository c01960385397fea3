from orderline.catalog import inventory
from orderline.core.runtime import Runtime
from tests.conftest import Merchant
from tests.support.catalog import place, stock, stock_sku


async def test_an_order_holds_stock_until_it_is_paid(runtime: Runtime, merchant: Merchant) -> None:
    await stock_sku(runtime, merchant, "SKU-1", 3)
    order = await place(runtime, merchant, ("SKU-1", 2))
    assert order["status"] == "pending_payment"
    level = await stock(runtime, merchant, "SKU-1")
    assert (level["on_hand"], level["reserved"], level["available"]) == (3, 2, 1)
    assert await inventory.reconcile(runtime, merchant.principal.business_id) == []
