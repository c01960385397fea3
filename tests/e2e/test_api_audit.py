"""GET /v1/audit: every change of a merchant's settings and credentials writes exactly one
entry (who, with which key, when, the changed values before and after), secrets never appear,
and a business sees only its own entries."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from orderline.core.clock import ManualClock
from orderline.core.runtime import Runtime
from orderline.webhooks import service as webhooks
from tests.conftest import Merchant, new_merchant
from tests.e2e.conftest import api_client, error_of, ok
from tests.support.manual import manual_order

PUBLIC_URL = "https://93.184.215.14/hooks"  # an IP literal: no DNS, and never called here


@pytest.fixture
def audit_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def audit_client(runtime: Runtime, audit_clock: ManualClock
                       ) -> AsyncIterator[httpx.AsyncClient]:
    runtime.clock = audit_clock
    async with api_client(runtime) as client:
        yield client


@pytest.fixture
async def owner(runtime: Runtime) -> AsyncIterator[Merchant]:
    """A business whose webhook endpoints are deleted afterwards (no later sender finds them)."""
    merchant = await new_merchant(runtime, name="Audited shop")
    yield merchant
    for endpoint in await webhooks.list_endpoints(runtime, merchant.principal):
        await webhooks.delete_endpoint(runtime, merchant.principal, endpoint["id"])


async def entries(client: httpx.AsyncClient, who: Merchant | dict[str, str],
                  **query: Any) -> list[dict[str, Any]]:
    headers = who.headers if isinstance(who, Merchant) else who
    page: dict[str, Any] = ok(await client.get("/v1/audit", headers=headers, params=query))
    data: list[dict[str, Any]] = page["data"]
    return data


async def only_new_entry(client: httpx.AsyncClient, who: Merchant,
                         seen: list[dict[str, Any]]) -> dict[str, Any]:
    """The one entry written since ``seen`` (asserting there is exactly one)."""
    now = await entries(client, who, limit=200)
    new = [e for e in now if e["id"] not in {s["id"] for s in seen}]
    assert len(new) == 1, new
    seen[:] = now
    return new[0]


async def test_each_change_of_a_setting_or_credential_writes_one_entry_with_before_and_after(
        audit_client: httpx.AsyncClient, owner: Merchant) -> None:
    client, h = audit_client, owner.headers
    seen = await entries(client, owner)
    assert seen == []
    actor = {"actor_key_id": str(owner.principal.key_id),
             "actor_key_prefix": owner.principal.key_prefix, "actor_key_name": "owner"}

    ok(await client.patch("/v1/business", headers=h, json={
        "name": "Audited shop 2", "min_order_total": 500,
        "allowed_origins": ["https://shop.example.com"]}))
    entry = await only_new_entry(client, owner, seen)
    assert {k: entry[k] for k in actor} == actor
    assert (entry["entity_type"], entry["entity_id"], entry["action"]) == (
        "business", str(owner.principal.business_id), "updated")
    assert entry["before"] == {"name": "Audited shop", "min_order_total": 0,
                               "allowed_origins": []}
    assert entry["after"] == {"name": "Audited shop 2", "min_order_total": 500,
                              "allowed_origins": ["https://shop.example.com"]}

    ok(await client.patch("/v1/business/cod", headers=h, json={"max_open_orders": 5}))
    entry = await only_new_entry(client, owner, seen)
    assert (entry["entity_type"], entry["action"]) == ("cod_settings", "updated")
    assert (entry["before"], entry["after"]) == ({"max_open_orders": 2},
                                                 {"max_open_orders": 5})

    ok(await client.patch("/v1/business/manual-payments", headers=h,
                          json={"proof_deadline_minutes": 120}))
    entry = await only_new_entry(client, owner, seen)
    assert entry["entity_type"] == "manual_payment_settings"
    assert (entry["before"], entry["after"]) == ({"proof_deadline_minutes": 1440},
                                                 {"proof_deadline_minutes": 120})

    method = ok(await client.post("/v1/payment-methods", headers=h, json={
        "code": "bank", "name": "Bank", "kind": "bank_transfer", "account_name": "Audited",
        "account_number": "111-222", "bank_name": "First Bank"}), 201)
    entry = await only_new_entry(client, owner, seen)
    assert (entry["entity_type"], entry["entity_id"], entry["action"]) == (
        "payment_method", method["id"], "created")
    assert entry["before"] is None
    assert entry["after"]["account_number"] == "111-222"

    ok(await client.patch(f"/v1/payment-methods/{method['id']}", headers=h,
                          json={"account_number": "999-000"}))
    entry = await only_new_entry(client, owner, seen)
    assert (entry["action"], entry["before"], entry["after"]) == (
        "updated", {"account_number": "111-222"}, {"account_number": "999-000"})

    gone = ok(await client.delete(f"/v1/payment-methods/{method['id']}", headers=h))
    assert gone["account_number"] == "999-000"
    entry = await only_new_entry(client, owner, seen)
    assert (entry["action"], entry["after"]) == ("deleted", None)
    assert entry["before"]["account_number"] == "999-000"
    assert ok(await client.get("/v1/payment-methods", headers=h))["data"] == []

    issued = ok(await client.post("/v1/api-keys", headers=h,
                                  json={"name": "till", "scopes": ["read"]}), 201)
    entry = await only_new_entry(client, owner, seen)
    assert (entry["entity_type"], entry["entity_id"], entry["action"]) == (
        "api_key", issued["id"], "created")
    assert entry["after"]["name"] == "till" and entry["after"]["scopes"] == "read"
    assert "key_hash" not in entry["after"]

    ok(await client.delete(f"/v1/api-keys/{issued['id']}", headers=h))
    entry = await only_new_entry(client, owner, seen)
    assert entry["action"] == "revoked"
    assert entry["before"] == {"revoked_at": None}
    assert entry["after"]["revoked_at"] is not None

    hook = ok(await client.post("/v1/webhooks", headers=h, json={
        "url": PUBLIC_URL, "event_types": ["order.*"]}), 201)
    entry = await only_new_entry(client, owner, seen)
    assert (entry["entity_type"], entry["action"]) == ("webhook_endpoint", "created")
    assert entry["after"]["url"] == PUBLIC_URL
    assert entry["after"]["secret"] == "[redacted]"

    rotated = ok(await client.post(f"/v1/webhooks/{hook['id']}/rotate-secret", headers=h))
    entry = await only_new_entry(client, owner, seen)
    assert entry["action"] == "secret_rotated"
    assert entry["before"]["secret"] == entry["after"]["secret"] == "[redacted]"
    assert entry["after"]["previous_secret_expires_at"] is not None

    ok(await client.post(f"/v1/webhooks/{hook['id']}/enable", headers=h))
    assert len(await entries(client, owner, limit=200)) == len(seen)  # already on: no change

    ok(await client.delete(f"/v1/webhooks/{hook['id']}", headers=h))
    entry = await only_new_entry(client, owner, seen)
    assert (entry["action"], entry["after"]) == ("deleted", None)
    assert entry["before"]["url"] == PUBLIC_URL

    # No secret anywhere in the log: the signing secrets, the new key and its hash.
    log = json.dumps(await entries(client, owner, limit=200))
    for secret in (hook["secret"], rotated["secret"], issued["key"], owner.key):
        assert secret not in log
    assert "whsec_" not in log


async def test_a_change_that_is_refused_writes_no_entry(
        audit_client: httpx.AsyncClient, owner: Merchant) -> None:
    error_of(await audit_client.patch("/v1/business", headers=owner.headers, json={
        "min_order_total": 10**10 + 1}), 422, "validation_error")
    error_of(await audit_client.patch("/v1/business", headers=owner.headers, json={
        "allowed_origins": ["https://shop.example.com/path"]}), 422, "validation_error")
    error_of(await audit_client.patch("/v1/business/cod", headers=owner.headers, json={
        "max_open_orders": -1}), 422, "validation_error")
    assert await entries(audit_client, owner) == []


async def test_another_business_sees_none_of_the_entries(
        audit_client: httpx.AsyncClient, owner: Merchant, runtime: Runtime) -> None:
    rival = await new_merchant(runtime, name="Rival shop")
    ok(await audit_client.patch("/v1/business", headers=owner.headers, json={"name": "A2"}))
    assert len(await entries(audit_client, owner)) == 1
    assert await entries(audit_client, rival) == []
    assert await entries(audit_client, rival,
                         entity_id=str(owner.principal.business_id)) == []


async def test_reading_the_log_needs_the_admin_scope(
        audit_client: httpx.AsyncClient, owner: Merchant) -> None:
    issued = ok(await audit_client.post("/v1/api-keys", headers=owner.headers,
                                        json={"name": "clerk", "scopes": ["read", "write"]}), 201)
    error_of(await audit_client.get("/v1/audit", headers={
        "Authorization": f"Bearer {issued['key']}"}), 403, "forbidden")


async def test_filters_and_cursor_pages(audit_client: httpx.AsyncClient, owner: Merchant,
                                        audit_clock: ManualClock) -> None:
    client, h = audit_client, owner.headers
    start = audit_clock.now()
    for n in range(5):
        ok(await client.patch("/v1/business", headers=h, json={"max_line_quantity": 10 + n}))
        audit_clock.advance(60)
    other = ok(await client.post("/v1/api-keys", headers=h,
                                 json={"name": "ops", "scopes": ["admin", "read"]}), 201)
    ops = {"Authorization": f"Bearer {other['key']}"}
    audit_clock.advance(60)
    ok(await client.patch("/v1/business/cod", headers=ops, json={"min_trust_score": 3}))

    everything = await entries(client, owner, limit=200)
    assert len(everything) == 7
    assert [e["entity_type"] for e in everything[:2]] == ["cod_settings", "api_key"]

    pages: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3, "entity_type": "business"}
        if cursor:
            params["cursor"] = cursor
        page = ok(await client.get("/v1/audit", headers=h, params=params))
        pages.extend(page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [e["after"]["max_line_quantity"] for e in pages] == [14, 13, 12, 11, 10]

    by_ops = await entries(client, owner, actor_key_id=other["id"])
    assert [(e["entity_type"], e["actor_key_name"]) for e in by_ops] == [("cod_settings", "ops")]
    window = await entries(client, owner, **{
        "from": (start + timedelta(seconds=60)).isoformat(),
        "to": (start + timedelta(seconds=180)).isoformat()})
    assert [e["after"]["max_line_quantity"] for e in window] == [12, 11]
    assert len(await entries(client, owner, entity_id=other["id"])) == 1
    error_of(await client.get("/v1/audit", headers=h, params={"cursor": "nonsense"}), 422,
             "validation_error")


async def test_a_payment_method_an_order_was_shown_is_switched_off_not_deleted(
        http: httpx.AsyncClient, shop: Merchant) -> None:
    await manual_order(http, shop)
    method_id = ok(await http.get("/v1/payment-methods", headers=shop.headers))["data"][0]["id"]
    before = await entries(http, shop, entity_type="payment_method")
    error_of(await http.delete(f"/v1/payment-methods/{method_id}", headers=shop.headers),
             409, "conflict")
    assert await entries(http, shop, entity_type="payment_method") == before
    error_of(await http.delete(f"/v1/payment-methods/{uuid.uuid4()}", headers=shop.headers),
             404, "not_found")
