"""What each API-key scope may do, seen through the API."""

from __future__ import annotations

import httpx

from tests.conftest import Merchant
from tests.e2e.conftest import add_product, error_of, levels, ok, order_body


async def key_with(client: httpx.AsyncClient, merchant: Merchant, *scopes: str) -> dict[str, str]:
    issued = ok(await client.post("/v1/api-keys", headers=merchant.headers,
                                  json={"name": "integration", "scopes": list(scopes)}), 201)
    return {"Authorization": f"Bearer {issued['key']}"}


async def test_a_write_only_key_places_an_order_and_gets_it_back(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "W-1", 3)
    writer = await key_with(client, merchant, "write")

    placed = ok(await client.post("/v1/orders", headers=writer, json=order_body(("W-1", 2))), 201)

    assert placed["status"] == "pending_payment"
    assert ok(await client.get(f"/v1/orders/{placed['id']}", headers=writer))["id"] == placed["id"]
    assert await levels(client, merchant, "W-1") == (3, 2, 1)
    error_of(await client.get("/v1/api-keys", headers=writer), 403, "forbidden")


async def test_a_read_only_key_is_refused_every_write_and_nothing_changes(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "R-1", 3)
    reader = await key_with(client, merchant, "read")

    details = error_of(await client.post("/v1/orders", headers=reader,
                                         json=order_body(("R-1", 1))), 403, "forbidden")
    assert details["required_scope"] == "write"
    error_of(await client.post("/v1/inventory/adjustments", headers=reader, json={
        "sku": "R-1", "delta": 5, "reason": "receipt"}), 403, "forbidden")
    assert await levels(client, merchant, "R-1") == (3, 0, 3)
    assert ok(await client.get("/v1/orders", headers=reader))["data"] == []
