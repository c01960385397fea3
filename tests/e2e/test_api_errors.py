"""Every refusal has one shape, ``{"error": {"code", "message", "details"}}``, and changes nothing.

Each test checks the state after the refusal through the API: stock levels, the order list,
the order itself, the API keys. Tests whose every request must be refused share one ``shop``,
built once per database for this module; any test that let a change through would show up
as changed stock or orders in that very test.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from typing import Any

import httpx
import pytest

from orderline.core.runtime import Runtime
from tests.conftest import Merchant, new_merchant
from tests.e2e.conftest import (
    add_product,
    all_orders,
    api_client,
    balanced,
    error_of,
    levels,
    ok,
    order_body,
    pay,
    place_order,
    ship,
)


@pytest.fixture(scope="module")
async def shop(module_runtime: Runtime) -> Merchant:
    """A business with 5 MUG and 9 CAP and no orders, for tests that must change nothing."""
    merchant = await new_merchant(module_runtime, name="Refusing shop")
    async with api_client(module_runtime) as client:
        await add_product(client, merchant, "MUG", 5)
        await add_product(client, merchant, "CAP", 9)
    return merchant


async def _unchanged(client: httpx.AsyncClient, merchant: Merchant, *,
                     stock: tuple[int, int, int] = (5, 0, 5), orders: int = 0) -> None:
    mug, listed, books = await asyncio.gather(levels(client, merchant, "MUG"),
                                              all_orders(client, merchant),
                                              balanced(client, merchant))
    assert (mug, len(listed), books) == (stock, orders, True)


def _line(**fields: Any) -> dict[str, Any]:
    body = order_body(("MUG", 1))
    body["lines"][0].update(fields)
    return body


BAD_ORDERS: dict[str, tuple[Any, int, str]] = {
    "quantity_zero": (_line(quantity=0), 422, "validation_error"),
    "quantity_negative": (_line(quantity=-1), 422, "validation_error"),
    "quantity_over_the_cap": (_line(quantity=10_001), 422, "validation_error"),
    "quantity_fractional": (_line(quantity=1.5), 422, "validation_error"),
    "quantity_as_string": (_line(quantity="2"), 422, "validation_error"),
    "quantity_missing": ({**order_body(("MUG", 1)), "lines": [{"sku": "MUG"}]}, 422,
                         "validation_error"),
    "no_lines": ({**order_body(("MUG", 1)), "lines": []}, 422, "validation_error"),
    "unknown_sku": (order_body(("MUG", 1), ("NOPE", 1)), 422, "unknown_sku"),
    "duplicate_sku": (order_body(("MUG", 1), ("MUG", 2)), 422, "validation_error"),
    "unknown_field": ({**order_body(("MUG", 1)), "discount": 50}, 422, "validation_error"),
    "unknown_line_field": (_line(price=1), 422, "validation_error"),
    "unknown_channel": (order_body(("MUG", 1), channel="telegram"), 422, "unknown_channel"),
    "no_contact": (order_body(("MUG", 1), phone=None), 422, "validation_error"),
    "bad_email": (order_body(("MUG", 1), email="not-an-email"), 422, "validation_error"),
    "bad_payment_method": ({**order_body(("MUG", 1)), "payment_method": "Credit Card!"}, 422,
                           "validation_error"),
    "body_is_a_list": ([order_body(("MUG", 1))], 422, "validation_error"),
}


@pytest.mark.parametrize("case", list(BAD_ORDERS))
async def test_a_bad_order_is_refused_in_the_one_error_shape_and_reserves_nothing(
        client: httpx.AsyncClient, shop: Merchant, case: str) -> None:
    body, status, code = BAD_ORDERS[case]
    details = error_of(await client.post("/v1/orders", headers=shop.headers, json=body),
                       status, code)
    if code == "unknown_sku":
        assert details == {"unknown_skus": ["NOPE"]}
    if case == "duplicate_sku":
        assert details == {"duplicate_skus": ["MUG"]}
    if case == "unknown_channel":
        assert details == {"channel": "telegram"}
    if code == "validation_error" and "errors" in details:
        assert details["errors"] and all("field" in e for e in details["errors"])
    await _unchanged(client, shop)


async def test_malformed_json_is_refused_with_400_and_changes_nothing(
        client: httpx.AsyncClient, shop: Merchant) -> None:
    response = await client.post("/v1/orders", content=b'{"customer": {"name": "Ada",',
                                 headers={**shop.headers, "Content-Type": "application/json"})
    error_of(response, 400, "malformed_json")
    await _unchanged(client, shop)


async def test_a_body_over_one_mebibyte_is_refused_with_413_and_changes_nothing(
        client: httpx.AsyncClient, shop: Merchant) -> None:
    body = order_body(("MUG", 1))
    body["note"] = "x" * (1024 * 1024 + 1)
    details = error_of(await client.post("/v1/orders", headers=shop.headers, json=body),
                       413, "payload_too_large")
    assert details == {"max_bytes": 1_048_576}
    await _unchanged(client, shop)


async def test_a_streamed_body_over_one_mebibyte_is_refused_with_413_too(
        client: httpx.AsyncClient, shop: Merchant) -> None:
    """Without Content-Length the limit is enforced while the body is read."""
    body = order_body(("MUG", 1))
    body["note"] = "x" * (1024 * 1024 + 1)
    raw = json.dumps(body).encode()

    async def chunks() -> Any:
        for start in range(0, len(raw), 64 * 1024):
            yield raw[start:start + 64 * 1024]

    response = await client.post("/v1/orders", content=chunks(),
                                 headers={**shop.headers, "Content-Type": "application/json"})
    assert "content-length" not in response.request.headers
    error_of(response, 413, "payload_too_large")
    await _unchanged(client, shop)


async def test_ordering_more_than_is_available_is_refused_naming_the_short_line(
        client: httpx.AsyncClient, shop: Merchant) -> None:
    details = error_of(await client.post("/v1/orders", headers=shop.headers,
                                         json=order_body(("CAP", 2), ("MUG", 6))),
                       409, "out_of_stock")
    assert details == {"lines": [{"sku": "MUG", "requested": 6, "available": 5}]}
    await _unchanged(client, shop)
    assert await levels(client, shop, "CAP") == (9, 0, 9)  # the line that fit is not held


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer ol_not-a-real-key"},
    {"Authorization": "Bearer "},
    {"Authorization": "Basic dXNlcjpwYXNz"},
], ids=["no_key", "unknown_key", "empty_key", "basic_scheme"])
async def test_a_call_without_a_valid_key_is_unauthorized_and_changes_nothing(
        client: httpx.AsyncClient, shop: Merchant, headers: dict[str, str]) -> None:
    response = await client.post("/v1/orders", headers=headers, json=order_body(("MUG", 1)))
    error_of(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    error_of(await client.get("/v1/orders", headers=headers), 401, "unauthorized")
    await _unchanged(client, shop)


async def test_a_revoked_key_is_unauthorized_from_the_next_call(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    issued = ok(await client.post("/v1/api-keys", headers=merchant.headers,
                                  json={"name": "till", "scopes": ["read", "write"]}), 201)
    till = {"Authorization": f"Bearer {issued['key']}"}
    ok(await client.get("/v1/orders", headers=till))
    ok(await client.delete(f"/v1/api-keys/{issued['id']}", headers=merchant.headers))
    error_of(await client.post("/v1/orders", headers=till, json=order_body(("MUG", 1))),
             401, "unauthorized")
    error_of(await client.get("/v1/orders", headers=till), 401, "unauthorized")
    await _unchanged(client, merchant)


async def test_a_read_only_key_cannot_write_anything(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    issued = ok(await client.post("/v1/api-keys", headers=merchant.headers,
                                  json={"name": "report", "scopes": ["read"]}), 201)
    reader = {"Authorization": f"Bearer {issued['key']}"}
    assert ok(await client.get("/v1/orders", headers=reader))["data"] == []
    details = error_of(await client.post("/v1/orders", headers=reader,
                                         json=order_body(("MUG", 1))), 403, "forbidden")
    assert details == {"required_scope": "write", "key_scopes": ["read"]}
    error_of(await client.post("/v1/inventory/adjustments", headers=reader,
                               json={"sku": "MUG", "delta": 5, "reason": "receipt"}),
             403, "forbidden")
    error_of(await client.patch("/v1/variants/MUG", headers=reader, json={"price": 1}),
             403, "forbidden")
    error_of(await client.post("/v1/products", headers=reader, json={
        "name": "Tee", "variants": [{"sku": "TEE", "name": "Tee", "price": 1}]}),
        403, "forbidden")
    await _unchanged(client, merchant)
    products = ok(await client.get("/v1/products", headers=merchant.headers))["data"]
    assert [(p["name"], p["variants"][0]["price_minor"]) for p in products] == [
        ("Product MUG", 1000)]


async def test_a_key_without_admin_cannot_create_keys_channels_or_locations(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    issued = ok(await client.post("/v1/api-keys", headers=merchant.headers,
                                  json={"name": "clerk", "scopes": ["read", "write"]}), 201)
    clerk = {"Authorization": f"Bearer {issued['key']}"}
    details = error_of(await client.post("/v1/api-keys", headers=clerk,
                                         json={"name": "escalate", "scopes": ["admin"]}),
                       403, "forbidden")
    assert details["required_scope"] == "admin"
    error_of(await client.get("/v1/api-keys", headers=clerk), 403, "forbidden")
    error_of(await client.delete(f"/v1/api-keys/{issued['id']}", headers=clerk),
             403, "forbidden")
    error_of(await client.post("/v1/channels", headers=clerk, json={"code": "tiktok"}),
             403, "forbidden")
    error_of(await client.post("/v1/locations", headers=clerk,
                               json={"code": "shop", "name": "Shop"}), 403, "forbidden")
    keys = ok(await client.get("/v1/api-keys", headers=merchant.headers))["data"]
    assert sorted(k["name"] for k in keys) == ["clerk", "owner"]
    assert all(k["revoked_at"] is None for k in keys)
    channels = ok(await client.get("/v1/channels", headers=merchant.headers))["data"]
    assert "tiktok" not in {c["code"] for c in channels}
    locations = ok(await client.get("/v1/locations", headers=merchant.headers))["data"]
    assert [loc["code"] for loc in locations] == ["main"]


async def test_an_illegal_transition_is_409_naming_current_and_requested_status(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    order = await place_order(client, merchant, ("MUG", 2))
    details = error_of(await client.patch(f"/v1/orders/{order['id']}/status",
                                          headers=merchant.headers,
                                          json={"status": "delivered"}),
                       409, "invalid_transition")
    assert details["current_status"] == "pending_payment"
    assert details["requested_status"] == "delivered"
    after = ok(await client.get(f"/v1/orders/{order['id']}", headers=merchant.headers))
    assert (after["status"], after["version"]) == ("pending_payment", 1)
    await _unchanged(client, merchant, stock=(5, 2, 3), orders=1)


async def test_a_stale_if_match_is_412_and_changes_nothing(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    order = await place_order(client, merchant, ("MUG", 2))
    edited = await client.put(f"/v1/orders/{order['id']}", json={"note": "gift wrap"},
                              headers={**merchant.headers, "If-Match": '"1"'})
    assert ok(edited)["version"] == 2
    assert edited.headers["ETag"] == '"2"'
    stale = {**merchant.headers, "If-Match": '"1"'}
    url = f"/v1/orders/{order['id']}"
    for method, path, body in [
        ("PUT", url, {"note": "ring the bell", "lines": [{"sku": "MUG", "quantity": 4}]}),
        ("PATCH", f"{url}/payment", {}),
        ("PATCH", f"{url}/shipping", {"carrier": "DHL", "tracking_number": "X1"}),
        ("PATCH", f"{url}/status", {"status": "cancelled"}),
        ("DELETE", url, None),
    ]:
        details = error_of(await client.request(method, path, headers=stale, json=body),
                           412, "version_conflict")
        assert (details["expected_version"], details["current_version"]) == (1, 2)
        assert details["latest_change"]["action"] == "updated"  # who and what: see
        assert details["latest_change"]["actor"] == merchant.principal.actor  # test_api_order_page
    after = ok(await client.get(f"/v1/orders/{order['id']}", headers=merchant.headers))
    assert (after["status"], after["version"], after["note"]) == ("pending_payment", 2,
                                                                  "gift wrap")
    assert [(line["sku"], line["quantity"]) for line in after["lines"]] == [("MUG", 2)]
    await _unchanged(client, merchant, stock=(5, 2, 3), orders=1)
    history = ok(await client.get(f"/v1/orders/{order['id']}/history",
                                  headers=merchant.headers))
    assert [h["action"] for h in history] == ["created", "updated"]


async def test_the_current_if_match_is_accepted_and_a_garbled_one_is_a_validation_error(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    order = await place_order(client, merchant, ("MUG", 1))
    error_of(await client.patch(f"/v1/orders/{order['id']}/payment", json={},
                                headers={**merchant.headers, "If-Match": "latest"}),
             422, "validation_error")
    assert await levels(client, merchant, "MUG") == (5, 1, 4)
    paid = await client.patch(f"/v1/orders/{order['id']}/payment", json={},
                              headers={**merchant.headers, "If-Match": 'W/"1"'})
    assert ok(paid)["status"] == "paid"
    assert paid.headers["ETag"] == '"2"'
    assert await levels(client, merchant, "MUG") == (4, 0, 4)


async def test_an_if_match_no_version_can_reach_is_412_on_orders_and_carts_alike(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    order = await place_order(client, merchant, ("MUG", 1))
    cart = ok(await client.post("/v1/carts", headers=merchant.headers, json={"channel": "web"}),
              201)
    for huge in ('"9223372036854775808"', '"9' * 1 + "9" * 39 + '"'):
        stale = {**merchant.headers, "If-Match": huge}
        error_of(await client.patch(f"/v1/orders/{order['id']}/payment", json={},
                                    headers=stale), 412, "version_conflict")
        error_of(await client.post(f"/v1/carts/{cart['id']}/lines", headers=stale,
                                   json={"sku": "MUG", "quantity": 1}),
                 412, "version_conflict")
    # A superscript two is a digit to str.isdigit() but not to int(); it goes as UTF-8 bytes.
    for garbled in ('"\u00b2"'.encode(), b'"1e3"', b'"' + b"9" * 41 + b'"', b'"-1"'):
        error_of(await client.post(f"/v1/carts/{cart['id']}/lines",
                                   headers={**merchant.headers, "If-Match": garbled},
                                   json={"sku": "MUG", "quantity": 1}),
                 422, "validation_error")
    again = ok(await client.get(f"/v1/carts/{cart['id']}", headers=merchant.headers))
    assert (again["version"], again["lines"]) == (cart["version"], [])
    assert ok(await client.get(f"/v1/orders/{order['id']}",
                               headers=merchant.headers))["status"] == "pending_payment"
    assert await levels(client, merchant, "MUG") == (5, 1, 4)


async def test_a_payment_for_the_wrong_amount_is_refused_and_stock_stays_held(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5, price=1250)
    order = await place_order(client, merchant, ("MUG", 2))
    details = error_of(await client.patch(f"/v1/orders/{order['id']}/payment",
                                          headers=merchant.headers, json={"amount": 2499}),
                       422, "amount_mismatch")
    assert details == {"amount": 2499, "total": 2500}
    after = ok(await client.get(f"/v1/orders/{order['id']}", headers=merchant.headers))
    assert (after["status"], after["paid_at"]) == ("pending_payment", None)
    await _unchanged(client, merchant, stock=(5, 2, 3), orders=1)


@pytest.mark.parametrize("path", [
    "/v1/orders/00000000-0000-0000-0000-000000000000",
    "/v1/orders/not-a-uuid",
    "/v1/orders/00000000-0000-0000-0000-000000000000/history",
    "/v1/products/00000000-0000-0000-0000-000000000000",
    "/v1/customers/42",
    "/v1/inventory/NO-SUCH-SKU",
])
async def test_an_id_that_names_nothing_is_404_not_found(
        client: httpx.AsyncClient, shop: Merchant, path: str) -> None:
    details = error_of(await client.get(path, headers=shop.headers), 404, "not_found")
    assert set(details) == {"resource", "id"}


async def test_unknown_routes_and_methods_use_the_same_error_shape(
        client: httpx.AsyncClient, shop: Merchant) -> None:
    error_of(await client.get("/v1/nothing-here", headers=shop.headers), 404, "not_found")
    error_of(await client.put("/v1/products", headers=shop.headers, json={}),
             405, "method_not_allowed")


@pytest.mark.parametrize("params", [
    {"limit": 0}, {"limit": 201}, {"status": "lost"}, {"total_min": -1},
    {"cursor": "not-a-cursor"}, {"created_from": "yesterday"},
    {"created_to": "2026-01-01T00:00:00"},
], ids=["limit_zero", "limit_too_big", "unknown_status", "negative_total", "bad_cursor",
        "bad_date", "date_without_timezone"])
async def test_bad_query_parameters_are_a_validation_error(
        client: httpx.AsyncClient, shop: Merchant, params: dict[str, Any]) -> None:
    details = error_of(await client.get("/v1/orders", headers=shop.headers, params=params),
                       422, "validation_error")
    assert details


async def test_bad_variant_and_adjustment_bodies_change_no_price_and_no_stock(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5, price=900)
    for body in ({"price": -1}, {"price": 9.5}, {"price": "900"}, {"colour": "red"},
                 {"price": None}, {"name": None}, {"name": ""}):
        error_of(await client.patch("/v1/variants/MUG", headers=merchant.headers, json=body),
                 422, "validation_error")
    for body in ({"sku": "MUG", "reason": "receipt"},
                 {"sku": "MUG", "reason": "receipt", "delta": 1, "set_on_hand": 3},
                 {"sku": "MUG", "reason": "receipt", "delta": 0},
                 {"sku": "MUG", "reason": "sale", "delta": -1},
                 {"sku": "MUG", "reason": "theft", "delta": -1},
                 {"sku": "MUG", "reason": "correction", "set_on_hand": -1},
                 {"sku": "MUG", "reason": "receipt", "delta": "3"}):
        error_of(await client.post("/v1/inventory/adjustments", headers=merchant.headers,
                                   json=body), 422, "validation_error")
    error_of(await client.post("/v1/inventory/adjustments", headers=merchant.headers,
                               json={"sku": "MUG", "reason": "receipt", "delta": 1,
                                     "location": "nowhere"}), 404, "not_found")
    product = ok(await client.get("/v1/products", headers=merchant.headers))["data"][0]
    assert product["variants"][0]["price_minor"] == 900
    assert product["variants"][0]["name"] == "Variant MUG"
    await _unchanged(client, merchant)
    assert len(ok(await client.get("/v1/inventory/movements",
                                   headers=merchant.headers))["data"]) == 1


async def test_shipping_an_unpaid_order_is_refused_and_cancelling_a_shipped_one_too(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    order = await place_order(client, merchant, ("MUG", 1))
    details = error_of(await client.patch(f"/v1/orders/{order['id']}/shipping",
                                          headers=merchant.headers,
                                          json={"carrier": "DHL", "tracking_number": "X"}),
                       409, "invalid_transition")
    assert (details["current_status"], details["requested_status"]) == ("pending_payment",
                                                                        "shipped")
    after = ok(await client.get(f"/v1/orders/{order['id']}", headers=merchant.headers))
    assert after["shipping"] == {"carrier": None, "tracking_number": None, "tracking_url": None}
    await pay(client, merchant, order)
    await ship(client, merchant, order)
    details = error_of(await client.delete(f"/v1/orders/{order['id']}",
                                           headers=merchant.headers), 409, "invalid_transition")
    assert (details["current_status"], details["requested_status"]) == ("shipped", "cancelled")
    assert ok(await client.get(f"/v1/orders/{order['id']}",
                               headers=merchant.headers))["status"] == "shipped"
    await _unchanged(client, merchant, stock=(4, 0, 4), orders=1)


async def test_a_cursor_forged_without_a_timezone_is_a_validation_error(
        client: httpx.AsyncClient, shop: Merchant) -> None:
    raw = json.dumps({"t": "2026-01-01T00:00:00", "id": str(shop.principal.key_id)})
    forged = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    for path in ("/v1/orders", "/v1/products"):
        details = error_of(await client.get(path, headers=shop.headers,
                                            params={"cursor": forged}), 422, "validation_error")
        assert details == {"cursor": forged}


async def test_numbers_too_large_to_store_are_refused_as_validation_errors_not_crashes(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    huge = 10**19
    error_of(await client.get("/v1/orders", headers=merchant.headers,
                              params={"total_min": huge}), 422, "validation_error")
    error_of(await client.get("/v1/inventory/movements", headers=merchant.headers,
                              params={"before_id": huge}), 422, "validation_error")
    error_of(await client.patch("/v1/variants/MUG", headers=merchant.headers,
                                json={"low_stock_threshold": 2**31}), 422, "validation_error")
    ok(await client.post("/v1/products", headers=merchant.headers, json={
        "name": "Gold", "variants": [{"sku": "GOLD", "name": "Gold", "price": 10**15,
                                      "initial_stock": 10_000}]}), 201)
    details = error_of(await client.post("/v1/orders", headers=merchant.headers,
                                         json=order_body(("GOLD", 10_000))),
                       422, "validation_error")
    assert details == {"total": 10**19, "max": 10**15}
    order = await place_order(client, merchant, ("MUG", 1))
    error_of(await client.put(f"/v1/orders/{order['id']}", headers=merchant.headers,
                              json={"lines": [{"sku": "GOLD", "quantity": 10_000}]}),
             422, "validation_error")
    assert await levels(client, merchant, "GOLD") == (10_000, 0, 10_000)
    assert [line["sku"] for line in ok(await client.get(
        f"/v1/orders/{order['id']}", headers=merchant.headers))["lines"]] == ["MUG"]
    await _unchanged(client, merchant, stock=(5, 1, 4), orders=1)


async def test_health_and_readiness_answer_without_a_key(client: httpx.AsyncClient) -> None:
    assert ok(await client.get("/healthz")) == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ok(ready)["status"] == "ready"
    assert ready.json()["migration"] == ready.json()["expected_migration"] is not None
    assert ready.headers["X-Request-ID"]
    echoed = await client.get("/healthz", headers={"X-Request-ID": "trace-42"})
    assert echoed.headers["X-Request-ID"] == "trace-42"
    # How long the server took, for a browser's network panel and ``orderline bench console``.
    took = re.fullmatch(r"app;dur=([0-9]+\.[0-9])", ready.headers["Server-Timing"])
    assert took is not None and float(took[1]) >= 0
