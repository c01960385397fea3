"""A NUL (or any control character but tab, line feed and carriage return) is refused at the
edge, the same way on both databases: 422 in a body or a query, 404 in a path id. It used to
be a 500 on PostgreSQL, and stored as sent on SQLite."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Merchant
from tests.e2e.conftest import add_product, all_orders, error_of, levels, ok, order_body

NUL = "\u0000"


def named(details: dict[str, Any]) -> str:
    return " ".join(p["problem"] + " " + p["field"] for p in details["errors"])


async def test_control_characters_in_bodies_are_422_and_nothing_is_stored(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    business = ok(await client.get("/v1/business", headers=merchant.headers))
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("PATCH", "/v1/business", {"name": f"Shop{NUL}"}, "name"),
        ("PATCH", "/v1/business", {"alert_email": f"a{NUL}@b.co"}, "alert_email"),
        ("POST", "/v1/orders", order_body(("MUG", 1), name=f"Ada{NUL}"), "customer.name"),
        ("POST", "/v1/orders", order_body((f"MUG{NUL}", 1)), "lines.0.sku"),
        ("POST", "/v1/orders", {**order_body(("MUG", 1)), "note": "ring\x07"}, "note"),
        ("POST", "/v1/carts", {"channel": f"web{NUL}"}, "channel"),
        ("POST", "/v1/inventory/adjustments",
         {"sku": "MUG", "delta": 1, "reason": "correction", "note": f"x{NUL}"}, "note"),
        ("POST", "/v1/payment-methods", {"code": "bank", "kind": "bank_transfer",
                                         "name": "Bank", "account_name": f"A{NUL}",
                                         "account_number": "1"}, "account_name"),
    ]
    for method, path, body, field in cases:
        details = error_of(await client.request(method, path, headers=merchant.headers,
                                                json=body), 422, "validation_error")
        assert field in named(details) and "U+" in named(details), (path, details)
    assert ok(await client.get("/v1/business", headers=merchant.headers)) == business
    assert await all_orders(client, merchant) == []
    assert await levels(client, merchant, "MUG") == (5, 0, 5)


async def test_a_tab_and_new_lines_are_still_text(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    placed = ok(await client.post("/v1/orders", headers=merchant.headers, json={
        **order_body(("MUG", 1)), "note": "leave at the gate\r\n\tthanks"}), 201)
    assert placed["note"] == "leave at the gate\r\n\tthanks"


@pytest.mark.parametrize("path", [
    "/v1/inventory/%00", "/v1/inventory/MUG%00", "/v1/orders/%00",
    "/v1/products/%01", "/v1/payment-methods/%00",
])
async def test_a_control_character_in_a_path_names_nothing(
        client: httpx.AsyncClient, merchant: Merchant, path: str) -> None:
    error_of(await client.get(path, headers=merchant.headers), 404, "not_found")


@pytest.mark.parametrize("query", [
    "/v1/orders?number=%00", "/v1/orders?customer=%00", "/v1/customers?phone=%00",
    "/v1/verifications?method=%00", "/v1/inventory?after_sku=%00", "/v1/orders?q%00=1",
])
async def test_a_control_character_in_a_query_is_422(
        client: httpx.AsyncClient, merchant: Merchant, query: str) -> None:
    details = error_of(await client.get(query, headers=merchant.headers), 422,
                       "validation_error")
    assert details["errors"][0]["type"] == "control_character"
