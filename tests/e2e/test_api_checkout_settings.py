"""The business's checkout settings and the variants' weights over HTTP, on each database:
defaults, changes, bounds (each refusal a 422 that changes nothing), the minimum never above
the maximum, and only admin keys changing settings."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from orderline.core.limits import MAX_LINE_QUANTITY, MAX_ORDER_TOTAL
from tests.conftest import Merchant
from tests.e2e.conftest import error_of, ok

SETTINGS = ("prices_include_tax", "min_order_total", "max_order_total", "max_line_quantity",
            "allow_free_orders", "price_max_age_seconds", "return_coupon_on_cancel",
            "confirms_per_minute")
DEFAULTS = {"prices_include_tax": False, "min_order_total": 0, "max_order_total": 10**10,
            "max_line_quantity": 100, "allow_free_orders": False, "price_max_age_seconds": 600,
            "return_coupon_on_cancel": True, "confirms_per_minute": 10}


async def business(client: httpx.AsyncClient, merchant: Merchant) -> dict[str, Any]:
    shown: dict[str, Any] = ok(await client.get("/v1/business", headers=merchant.headers))
    return shown


def settings_of(shown: dict[str, Any]) -> dict[str, Any]:
    return {k: shown[k] for k in SETTINGS}


async def test_a_new_business_has_the_default_checkout_settings(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    assert settings_of(await business(client, merchant)) == DEFAULTS


async def test_every_checkout_setting_can_be_changed_and_read_back(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    wanted = {"prices_include_tax": True, "min_order_total": 1500, "max_order_total": 500_000,
              "max_line_quantity": 12, "allow_free_orders": True, "price_max_age_seconds": 120,
              "return_coupon_on_cancel": False, "confirms_per_minute": 3}
    changed = ok(await client.patch("/v1/business", headers=merchant.headers, json=wanted))
    assert settings_of(changed) == wanted
    assert settings_of(await business(client, merchant)) == wanted

    # Leaving a setting out keeps it; the rest of the business is untouched.
    again = ok(await client.patch("/v1/business", headers=merchant.headers,
                                  json={"confirms_per_minute": 1000, "name": "Renamed"}))
    assert settings_of(again) == {**wanted, "confirms_per_minute": 1000}
    assert again["name"] == "Renamed"


@pytest.mark.parametrize("body", [
    {"min_order_total": 0, "max_order_total": 1},
    {"max_order_total": MAX_ORDER_TOTAL},
    {"max_line_quantity": 1}, {"max_line_quantity": MAX_LINE_QUANTITY},
    {"price_max_age_seconds": 10}, {"price_max_age_seconds": 86_400},
    {"confirms_per_minute": 1},
])
async def test_settings_at_their_bounds_are_accepted(
        client: httpx.AsyncClient, merchant: Merchant, body: dict[str, Any]) -> None:
    changed = ok(await client.patch("/v1/business", headers=merchant.headers, json=body))
    assert {k: changed[k] for k in body} == body


@pytest.mark.parametrize("body", [
    {"min_order_total": -1}, {"min_order_total": 1.5}, {"min_order_total": "100"},
    {"max_order_total": 0}, {"max_order_total": MAX_ORDER_TOTAL + 1},
    {"max_line_quantity": 0}, {"max_line_quantity": MAX_LINE_QUANTITY + 1},
    {"price_max_age_seconds": 9}, {"price_max_age_seconds": 86_401},
    {"confirms_per_minute": 0}, {"confirms_per_minute": 1001},
    {"prices_include_tax": "yes"}, {"allow_free_orders": 1},
    {"return_coupon_on_cancel": "false"}, {"max_line_quantity": True},
    # the minimum may not exceed the maximum
    {"min_order_total": 10**10 + 1},
    {"min_order_total": 5000, "max_order_total": 4999},
    # with a valid setting in the same request: nothing of it is stored either
    {"allow_free_orders": True, "confirms_per_minute": 0},
    {"prices_include_tax": True, "min_order_total": 10**11},
])
async def test_out_of_range_settings_are_refused_and_nothing_changes(
        client: httpx.AsyncClient, merchant: Merchant, body: dict[str, Any]) -> None:
    before = await business(client, merchant)
    error_of(await client.patch("/v1/business", headers=merchant.headers, json=body),
             422, "validation_error")
    assert await business(client, merchant) == before


async def test_the_maximum_cannot_drop_below_the_minimum_already_set(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    ok(await client.patch("/v1/business", headers=merchant.headers,
                          json={"min_order_total": 2000}))
    details = error_of(await client.patch("/v1/business", headers=merchant.headers,
                                          json={"max_order_total": 1999}),
                       422, "validation_error")
    assert details == {"min_order_total": 2000, "max_order_total": 1999}
    shown = await business(client, merchant)
    assert (shown["min_order_total"], shown["max_order_total"]) == (2000, 10**10)

    equal = ok(await client.patch("/v1/business", headers=merchant.headers,
                                  json={"max_order_total": 2000}))
    assert (equal["min_order_total"], equal["max_order_total"]) == (2000, 2000)


@pytest.mark.parametrize("scopes", [["read"], ["read", "write"]])
async def test_only_an_admin_key_changes_checkout_settings(
        client: httpx.AsyncClient, merchant: Merchant, scopes: list[str]) -> None:
    issued = ok(await client.post("/v1/api-keys", headers=merchant.headers,
                                  json={"name": "limited", "scopes": scopes}), 201)
    headers = {"Authorization": f"Bearer {issued['key']}"}
    before = await business(client, merchant)
    assert settings_of(ok(await client.get("/v1/business", headers=headers))) == DEFAULTS
    error_of(await client.patch("/v1/business", headers=headers,
                                json={"allow_free_orders": True, "min_order_total": 1}),
             403, "forbidden")
    assert await business(client, merchant) == before


async def test_settings_of_one_business_leave_another_alone(
        client: httpx.AsyncClient, merchant: Merchant, rival: Merchant) -> None:
    ok(await client.patch("/v1/business", headers=rival.headers,
                          json={"prices_include_tax": True, "max_line_quantity": 2}))
    assert settings_of(await business(client, merchant)) == DEFAULTS


# --- variant weights -------------------------------------------------------------------------

async def test_variants_carry_a_weight_that_defaults_to_zero(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    product = ok(await client.post("/v1/products", headers=merchant.headers, json={
        "name": "Mug", "variants": [
            {"sku": "MUG-L", "name": "Large", "price": 1200, "weight_grams": 450},
            {"sku": "MUG-S", "name": "Small", "price": 900}]}), 201)
    assert {v["sku"]: v["weight_grams"] for v in product["variants"]} == {
        "MUG-L": 450, "MUG-S": 0}

    more = ok(await client.post(f"/v1/products/{product['id']}/variants",
                                headers=merchant.headers, json={"variants": [
                                    {"sku": "MUG-XL", "name": "XL", "price": 1500,
                                     "weight_grams": 700}]}), 201)
    assert {v["sku"]: v["weight_grams"] for v in more["variants"]} == {
        "MUG-L": 450, "MUG-S": 0, "MUG-XL": 700}

    changed = ok(await client.patch("/v1/variants/MUG-S", headers=merchant.headers,
                                    json={"weight_grams": 300}))
    assert (changed["weight_grams"], changed["price_minor"]) == (300, 900)
    shown = ok(await client.get(f"/v1/products/{product['id']}", headers=merchant.headers))
    assert {v["sku"]: v["weight_grams"] for v in shown["variants"]} == {
        "MUG-L": 450, "MUG-S": 300, "MUG-XL": 700}


@pytest.mark.parametrize("weight", [-1, 1.5, "450", None, True, 10**10])
async def test_an_invalid_weight_is_refused_and_nothing_changes(
        client: httpx.AsyncClient, merchant: Merchant, weight: Any) -> None:
    error_of(await client.post("/v1/products", headers=merchant.headers, json={
        "name": "Anvil", "variants": [{"sku": "ANVIL", "name": "Anvil", "price": 1,
                                       "weight_grams": weight}]}), 422, "validation_error")
    assert ok(await client.get("/v1/products", headers=merchant.headers))["data"] == []

    product = ok(await client.post("/v1/products", headers=merchant.headers, json={
        "name": "Mug", "variants": [{"sku": "MUG", "name": "Mug", "price": 900,
                                     "weight_grams": 400}]}), 201)
    error_of(await client.patch("/v1/variants/MUG", headers=merchant.headers,
                                json={"weight_grams": weight}), 422, "validation_error")
    shown = ok(await client.get(f"/v1/products/{product['id']}", headers=merchant.headers))
    assert shown["variants"][0]["weight_grams"] == 400
