"""Orders paid by card through the sandbox provider, made over HTTP the way a merchant's
integration makes them: for the race tests, which talk to a running ``orderline serve``
(``racing_server``) through a client with the business's API key (``merchant_api``).

Each helper asserts its step went through, so a race test reads as its race alone.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Merchant

SANDBOX_CARD = {"provider": "sandbox", "payment_method": "pm_card_visa"}


def merchant_api(base: str, merchant: Merchant, *,
                 connections: int | None = None) -> httpx.AsyncClient:
    """A client of the server at ``base`` with the business's API key, patient with a loaded
    machine (60 s a request); ``connections``: that many requests in flight at once (httpx's
    default pool otherwise)."""
    options: dict[str, Any] = {}
    if connections is not None:
        options["limits"] = httpx.Limits(max_connections=connections,
                                         max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=base, headers=merchant.headers, timeout=60, **options)


async def place_card_order(api: httpx.AsyncClient, *lines: tuple[str, int],
                           phone: str = "+1 555 0100") -> dict[str, Any]:
    """A web order of ``(sku, quantity)`` lines to be paid by card, still unpaid."""
    placed = await api.post("/v1/orders", json={
        "customer": {"name": "Buyer", "phone": phone}, "channel": "web",
        "lines": [{"sku": sku, "quantity": quantity} for sku, quantity in lines],
        "payment_method": "card"})
    assert placed.status_code == 201, placed.text
    order: dict[str, Any] = placed.json()
    return order


async def pay_by_card(api: httpx.AsyncClient, order: dict[str, Any]) -> dict[str, Any]:
    """The order paid with the sandbox's test Visa card: the payment intent (captured, or
    only authorised when the business captures by hand)."""
    paid = await api.post(f"/v1/orders/{order['id']}/payments", json=SANDBOX_CARD)
    assert paid.status_code == 201, paid.text
    intent: dict[str, Any] = paid.json()
    return intent


async def ship_whole_order(api: httpx.AsyncClient, order: dict[str, Any]) -> None:
    """Every unit of the order sent in one parcel."""
    shipped = await api.patch(f"/v1/orders/{order['id']}/shipping",
                              json={"carrier": "DHL", "tracking_number": "T1"})
    assert shipped.status_code == 200, shipped.text


async def shipped_card_order(api: httpx.AsyncClient, sku: str, units: int) -> dict[str, Any]:
    """An order of ``units`` of ``sku`` paid by card and shipped whole (as placed)."""
    order = await place_card_order(api, (sku, units))
    await pay_by_card(api, order)
    await ship_whole_order(api, order)
    return order


async def assert_stock_balanced(api: httpx.AsyncClient) -> None:
    """The stock ledger sums to on hand for every SKU of the business."""
    report = (await api.get("/v1/inventory/reconciliation")).json()
    assert report["balanced"] and report["drift"] == [], report
