"""An explicit ``null`` in a body that changes settings either clears what can be cleared, or
is a 422 that names the field and changes nothing (it used to be a 500 from the database, or
a silent "unchanged")."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Merchant
from tests.e2e.conftest import error_of, ok


def refused_field(response: httpx.Response) -> str:
    details = error_of(response, 422, "validation_error")
    fields = {problem["field"] for problem in details["errors"]}
    assert len(fields) == 1, details
    return fields.pop()


@pytest.mark.parametrize("field", ["enabled", "allow_discrepancy", "otp_first_order",
                                   "zone_ids", "max_open_orders", "min_trust_score"])
async def test_null_on_a_cod_setting_that_cannot_be_empty_is_422_naming_it(
        http: httpx.AsyncClient, shop: Merchant, field: str) -> None:
    before = ok(await http.get("/v1/business/cod", headers=shop.headers))
    assert refused_field(await http.patch("/v1/business/cod", headers=shop.headers,
                                          json={field: None})) == field
    assert ok(await http.get("/v1/business/cod", headers=shop.headers)) == before


async def test_null_clears_a_cod_limit(http: httpx.AsyncClient, shop: Merchant) -> None:
    set_ = ok(await http.patch("/v1/business/cod", headers=shop.headers,
                               json={"max_order_total": 500_000, "otp_above_total": 200_000}))
    assert (set_["max_order_total"], set_["otp_above_total"]) == (500_000, 200_000)
    cleared = ok(await http.patch("/v1/business/cod", headers=shop.headers,
                                  json={"max_order_total": None, "otp_above_total": None}))
    assert (cleared["max_order_total"], cleared["otp_above_total"]) == (None, None)


@pytest.mark.parametrize("field", ["proof_deadline_minutes", "proof_max_bytes",
                                   "proof_retention_days", "proof_review_hours"])
async def test_null_on_a_proof_setting_is_422_naming_it(
        http: httpx.AsyncClient, shop: Merchant, field: str) -> None:
    url = "/v1/business/manual-payments"
    before = ok(await http.get(url, headers=shop.headers))
    assert refused_field(await http.patch(url, headers=shop.headers, json={field: None})) == field
    assert ok(await http.get(url, headers=shop.headers)) == before


async def test_null_turns_auto_approval_off(http: httpx.AsyncClient, shop: Merchant) -> None:
    url = "/v1/business/manual-payments"
    on = ok(await http.patch(url, headers=shop.headers, json={"auto_approve_threshold": 0.9}))
    assert on["auto_approve_threshold"] == 0.9
    off = ok(await http.patch(url, headers=shop.headers, json={"auto_approve_threshold": None}))
    assert off["auto_approve_threshold"] is None


@pytest.mark.parametrize(("path", "field"), [
    ("/v1/business", "name"), ("/v1/business", "capture_mode"),
    ("/v1/business", "max_order_total"), ("/v1/business", "development_mode"),
])
async def test_null_on_a_business_setting_is_422_naming_it(
        http: httpx.AsyncClient, shop: Merchant, path: str, field: str) -> None:
    before = ok(await http.get(path, headers=shop.headers))
    assert refused_field(await http.patch(path, headers=shop.headers,
                                          json={field: None})) == field
    assert ok(await http.get(path, headers=shop.headers)) == before


async def test_a_payment_method_refuses_null_where_it_has_no_meaning_and_clears_the_bank(
        http: httpx.AsyncClient, shop: Merchant) -> None:
    method = ok(await http.get("/v1/payment-methods", headers=shop.headers))["data"][0]
    url = f"/v1/payment-methods/{method['id']}"
    ok(await http.patch(url, headers=shop.headers, json={"bank_name": "GCash Bank"}))
    for field in ("enabled", "position", "name", "account_number"):
        assert refused_field(await http.patch(url, headers=shop.headers,
                                              json={field: None})) == field
    still: dict[str, Any] = ok(await http.get("/v1/payment-methods", headers=shop.headers))
    assert [(m["enabled"], m["bank_name"]) for m in still["data"]
            if m["id"] == method["id"]] == [(True, "GCash Bank")]
    cleared = ok(await http.patch(url, headers=shop.headers, json={"bank_name": None}))
    assert cleared["bank_name"] is None and cleared["enabled"] is True
