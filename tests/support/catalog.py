"""Build catalog data through the services, as a merchant would."""

from __future__ import annotations

from typing import Any

from orderline.catalog import inventory
from orderline.catalog import products as catalog
from orderline.catalog.products import NewVariant
from orderline.checkout import direct_orders
from orderline.checkout.direct_orders import NewOrder
from orderline.core.runtime import Runtime
from orderline.orders.rules import RequestedLine
from orderline.orders.service import Contact
from tests.conftest import Merchant


async def stock_sku(runtime: Runtime, merchant: Merchant, sku: str, on_hand: int, *,
                    price: int = 1000, threshold: int | None = None) -> None:
    await catalog.create_product(runtime, merchant.principal, name=f"Product {sku}",
                                 description="", variants=[NewVariant(
                                     sku=sku, name=f"Variant {sku}", price=price,
                                     low_stock_threshold=threshold, initial_stock=on_hand)])


async def place(runtime: Runtime, merchant: Merchant, *lines: tuple[str, int],
                phone: str = "+1 555 0100") -> dict[str, Any]:
    return await direct_orders.create_order(runtime, merchant.principal, NewOrder(
        customer=Contact(name="Buyer", phone=phone), channel="web",
        lines=[RequestedLine(sku, qty) for sku, qty in lines], payment_method="card"))


async def stock(runtime: Runtime, merchant: Merchant, sku: str) -> dict[str, Any]:
    return await inventory.stock_of(runtime, merchant.principal, sku)
