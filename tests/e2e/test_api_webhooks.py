"""Webhooks over HTTP: registering endpoints (the secret shown once, unsafe URLs refused),
rotating the secret, scopes, isolation between businesses, the dead-letter list and replays,
on each database."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from orderline.core.clock import ManualClock
from orderline.core.runtime import Runtime
from orderline.webhooks import service as webhooks
from orderline.webhooks.service import deliver_due
from orderline.wiring import provide_parts
from orderline.worker.handlers import default_relay
from tests.conftest import Merchant, new_merchant
from tests.e2e.conftest import add_product, api_client, error_of, ok, place_order
from tests.support.webhook_receiver import Receiver, receiver, standard_webhooks_signature_ok

PUBLIC_URL = "https://93.184.215.14/hooks"  # an IP literal: no DNS, and never called here


@pytest.fixture
async def shop(runtime: Runtime) -> AsyncIterator[Merchant]:
    """A business whose endpoints are deleted afterwards (so no later sender finds them)."""
    merchant = await new_merchant(runtime, name="Webhook shop")
    yield merchant
    for endpoint in await webhooks.list_endpoints(runtime, merchant.principal):
        await webhooks.delete_endpoint(runtime, merchant.principal, endpoint["id"])


async def development_mode(client: httpx.AsyncClient, shop: Merchant, on: bool) -> None:
    business = ok(await client.patch("/v1/business", headers=shop.headers,
                                     json={"development_mode": on}))
    assert business["development_mode"] is on


async def register(client: httpx.AsyncClient, shop: Merchant, url: str,
                   event_types: list[str] | None = None) -> dict[str, Any]:
    created: dict[str, Any] = ok(await client.post("/v1/webhooks", headers=shop.headers, json={
        "url": url, "event_types": event_types or ["order.*"], "description": "ERP"}), 201)
    return created


async def key_with(client: httpx.AsyncClient, shop: Merchant, *scopes: str) -> dict[str, str]:
    issued = ok(await client.post("/v1/api-keys", headers=shop.headers,
                                  json={"name": "+".join(scopes), "scopes": list(scopes)}), 201)
    return {"Authorization": f"Bearer {issued['key']}"}


async def test_registering_a_webhook_shows_its_signing_secret_once(
        client: httpx.AsyncClient, shop: Merchant) -> None:
    created = await register(client, shop, PUBLIC_URL, ["order.paid", "stock.*"])
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
    assert {k: created[k] for k in ("url", "event_types", "description", "enabled",
                                    "consecutive_failures", "disabled_at")} == {
        "url": PUBLIC_URL, "event_types": ["order.paid", "stock.*"], "description": "ERP",
        "enabled": True, "consecutive_failures": 0, "disabled_at": None}

    listed = await client.get("/v1/webhooks", headers=shop.headers)
    one = await client.get(f"/v1/webhooks/{created['id']}", headers=shop.headers)
    assert [w["id"] for w in ok(listed)["data"]] == [created["id"]]
    assert ok(one)["url"] == PUBLIC_URL
    for answer in (listed, one):
        assert secret not in answer.text and "whsec_" not in answer.text
    for shown in (*ok(listed)["data"], ok(one)):
        assert "secret" not in shown and "previous_secret" not in shown
        assert shown["previous_secret_expires_at"] is None
    again = await register(client, shop, PUBLIC_URL)
    assert again["secret"] != secret  # every endpoint has its own


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/hooks", "http://localhost/hooks", "http://10.0.0.7/hooks",
    "http://192.168.1.20/hooks", "http://169.254.169.254/latest/meta-data",
    "http://[::1]:9000/", "http://0.0.0.0/", "http://224.0.0.1/", "http://[fe80::1]/",
    "http://[::ffff:10.0.0.1]/", "http://2130706433/"])  # the last is 127.0.0.1 as a number
async def test_internal_addresses_are_refused_unless_the_business_is_in_development_mode(
        client: httpx.AsyncClient, shop: Merchant, url: str) -> None:
    refused = await client.post("/v1/webhooks", headers=shop.headers,
                                json={"url": url, "event_types": ["*"]})
    details = error_of(refused, 422, "unsafe_webhook_url")
    assert details["refused_addresses"]
    assert "development_mode" in refused.json()["error"]["message"]
    assert ok(await client.get("/v1/webhooks", headers=shop.headers))["data"] == []

    await development_mode(client, shop, True)
    created = await register(client, shop, url)
    assert created["url"] == url


@pytest.mark.parametrize("url", ["ftp://example.com/hooks", "file:///etc/passwd",
                                 "gopher://127.0.0.1:70/", "example.com/hooks",
                                 "http://", "https://exa mple.com/"])
async def test_urls_that_are_not_http_with_a_host_are_refused_even_in_development_mode(
        client: httpx.AsyncClient, shop: Merchant, url: str) -> None:
    await development_mode(client, shop, True)
    error_of(await client.post("/v1/webhooks", headers=shop.headers,
                               json={"url": url, "event_types": ["*"]}),
             422, "invalid_webhook_url")


async def test_event_types_must_be_known_names_or_patterns(
        client: httpx.AsyncClient, shop: Merchant) -> None:
    details = error_of(await client.post("/v1/webhooks", headers=shop.headers, json={
        "url": PUBLIC_URL, "event_types": ["order.*", "order.teleported"]}),
        422, "validation_error")
    assert details == {"event_type": "order.teleported"}
    error_of(await client.post("/v1/webhooks", headers=shop.headers,
                               json={"url": PUBLIC_URL, "event_types": []}),
             422, "validation_error")
    error_of(await client.post("/v1/webhooks", headers=shop.headers,
                               json={"url": PUBLIC_URL, "event_types": ["*"], "secret": "x"}),
             422, "validation_error")  # a secret is never chosen by the caller


async def test_managing_webhooks_needs_admin_reading_needs_read_and_replay_needs_write(
        client: httpx.AsyncClient, shop: Merchant) -> None:
    webhook = await register(client, shop, PUBLIC_URL)
    reader = await key_with(client, shop, "read")
    writer = await key_with(client, shop, "write")
    missing_delivery = f"/v1/webhooks/{webhook['id']}/deliveries/{webhook['id']}/replay"
    for headers in (reader, writer):
        error_of(await client.post("/v1/webhooks", headers=headers,
                                   json={"url": PUBLIC_URL, "event_types": ["*"]}),
                 403, "forbidden")
        error_of(await client.delete(f"/v1/webhooks/{webhook['id']}", headers=headers),
                 403, "forbidden")
        error_of(await client.post(f"/v1/webhooks/{webhook['id']}/enable", headers=headers),
                 403, "forbidden")
        error_of(await client.post(f"/v1/webhooks/{webhook['id']}/rotate-secret",
                                   headers=headers, json={"overlap_seconds": 0}),
                 403, "forbidden")
        error_of(await client.patch("/v1/business", headers=headers,
                                    json={"development_mode": True}), 403, "forbidden")
        assert [w["id"] for w in ok(await client.get("/v1/webhooks", headers=headers))[
            "data"]] == [webhook["id"]]
        ok(await client.get(f"/v1/webhooks/{webhook['id']}/deliveries", headers=headers))
        ok(await client.get("/v1/webhook-deliveries", headers=headers))
    error_of(await client.post(missing_delivery, headers=reader), 403, "forbidden")
    error_of(await client.post(missing_delivery, headers=writer), 404, "not_found")
    assert ok(await client.get("/v1/business", headers=shop.headers))[
        "development_mode"] is False


async def test_another_business_webhook_ids_are_404_on_every_webhook_endpoint(
        runtime: Runtime, shop: Merchant) -> None:
    rival = await new_merchant(runtime, name="Webhook rival")
    rt, _ = _fast(runtime)
    async with api_client(rt) as client:
        with receiver() as hook:
            hook.fail_always()
            await development_mode(client, shop, True)
            webhook = await register(client, shop, hook.url, ["order.created"])
            await add_product(client, shop, "HOOK-ISO", 3)
            await place_order(client, shop, ("HOOK-ISO", 1))
            await default_relay(rt).relay_until_idle()
            await deliver_due(rt)
        mine = f"/v1/webhooks/{webhook['id']}"
        [delivery] = ok(await client.get(f"{mine}/deliveries", headers=shop.headers))["data"]
        before = ok(await client.get(mine, headers=shop.headers))
        attempts = [
            ("GET", mine), ("DELETE", mine), ("POST", f"{mine}/enable"),
            ("POST", f"{mine}/rotate-secret"),
            ("GET", f"{mine}/deliveries"), ("GET", f"{mine}/deliveries/{delivery['id']}"),
            ("POST", f"{mine}/deliveries/{delivery['id']}/replay")]
        for method, path in attempts:
            details = error_of(await client.request(method, path, headers=rival.headers),
                               404, "not_found")
            assert details["id"] == webhook["id"], (method, path)
        for path in ("/v1/webhooks", "/v1/webhook-deliveries"):
            theirs = await client.get(path, headers=rival.headers)
            assert ok(theirs)["data"] == []
            assert webhook["id"] not in theirs.text and delivery["id"] not in theirs.text
        assert ok(await client.get(mine, headers=shop.headers)) == before
        assert ok(await client.get(f"{mine}/deliveries/{delivery['id']}",
                                   headers=shop.headers))["status"] == "retrying"
        # A delivery id of this business under another of its webhooks names nothing either.
        other = await register(client, shop, PUBLIC_URL)
        error_of(await client.get(f"/v1/webhooks/{other['id']}/deliveries/{delivery['id']}",
                                  headers=shop.headers), 404, "not_found")


async def test_rotating_a_secret_shows_the_new_one_once_and_when_the_old_one_stops(
        runtime: Runtime, shop: Merchant) -> None:
    rt, clock = _fast(runtime)
    async with api_client(rt) as client:
        webhook = await register(client, shop, PUBLIC_URL)
        rotate = f"/v1/webhooks/{webhook['id']}/rotate-secret"
        rotated = ok(await client.post(rotate, headers=shop.headers,
                                       json={"overlap_seconds": 600}))
        assert rotated["secret"].startswith("whsec_") and rotated["secret"] != webhook["secret"]
        assert len(base64.b64decode(rotated["secret"].removeprefix("whsec_"))) >= 24
        assert datetime.fromisoformat(rotated["previous_secret_expires_at"]) == (
            clock.now() + timedelta(seconds=600))
        assert {k: rotated[k] for k in ("id", "url", "event_types", "enabled")} == {
            k: webhook[k] for k in ("id", "url", "event_types", "enabled")}
        assert "previous_secret" not in rotated

        listed = await client.get("/v1/webhooks", headers=shop.headers)
        one = await client.get(f"/v1/webhooks/{webhook['id']}", headers=shop.headers)
        for answer in (listed, one):
            assert "whsec_" not in answer.text
        assert ok(one)["previous_secret_expires_at"] == rotated["previous_secret_expires_at"]
        assert ok(listed)["data"][0]["previous_secret_expires_at"] == (
            rotated["previous_secret_expires_at"])

        clock.advance(1.0)
        by_default = ok(await client.post(rotate, headers=shop.headers))  # no body: a day
        assert datetime.fromisoformat(by_default["previous_secret_expires_at"]) == (
            clock.now() + timedelta(days=1))
        at_once = ok(await client.post(rotate, headers=shop.headers,
                                       json={"overlap_seconds": 0}))
        assert at_once["previous_secret_expires_at"] is None
        assert len({webhook["secret"], rotated["secret"], by_default["secret"],
                    at_once["secret"]}) == 4
        assert ok(await client.get(f"/v1/webhooks/{webhook['id']}", headers=shop.headers))[
            "previous_secret_expires_at"] is None


@pytest.mark.parametrize("body", [
    {"overlap_seconds": -1}, {"overlap_seconds": 604_801}, {"overlap_seconds": "3600"},
    {"overlap_seconds": 1.5}, {"overlap_seconds": None}, {"overlap": 60}, [600]])
async def test_a_rotation_overlap_outside_zero_to_a_week_is_refused_and_changes_nothing(
        client: httpx.AsyncClient, shop: Merchant, body: Any) -> None:
    webhook = await register(client, shop, PUBLIC_URL)
    before = ok(await client.get(f"/v1/webhooks/{webhook['id']}", headers=shop.headers))
    error_of(await client.post(f"/v1/webhooks/{webhook['id']}/rotate-secret",
                               headers=shop.headers, json=body), 422, "validation_error")
    assert ok(await client.get(f"/v1/webhooks/{webhook['id']}", headers=shop.headers)) == before


async def test_rotating_the_secret_of_an_unknown_webhook_is_404(
        client: httpx.AsyncClient, shop: Merchant) -> None:
    for unknown in ("0b7e3f6e-5c1a-4f3e-9a51-3f2b8c7d9e10", "not-an-id"):
        error_of(await client.post(f"/v1/webhooks/{unknown}/rotate-secret",
                                   headers=shop.headers), 404, "not_found")


def _fast(runtime: Runtime, **settings: Any) -> tuple[Runtime, ManualClock]:
    """A runtime with one-second retries (three of them) and a clock the test moves."""
    clock = ManualClock()
    values: dict[str, Any] = {"webhook_retry_delays": (1.0, 1.0, 1.0),
                              "webhook_timeout_seconds": 3.0, **settings}
    return provide_parts(Runtime(settings=runtime.settings.model_copy(update=values), db=runtime.db,
                   clock=clock)), clock


async def _until_dead(rt: Runtime, clock: ManualClock, hook: Receiver) -> None:
    for _ in range(5):
        await deliver_due(rt)
        clock.advance(2.0)
    assert [r.answered for r in hook.received] == [500] * 4


async def test_a_dead_delivery_is_in_the_dead_letter_list_and_a_replay_delivers_it(
        runtime: Runtime, shop: Merchant) -> None:
    rt, clock = _fast(runtime)
    async with api_client(rt) as client:
        with receiver() as hook:
            await development_mode(client, shop, True)
            webhook = await register(client, shop, hook.url, ["order.created"])
            hook.secret = webhook["secret"]
            hook.fail_always()
            await add_product(client, shop, "HOOK-DLQ", 3)
            order = await place_order(client, shop, ("HOOK-DLQ", 1))
            await default_relay(rt).relay_until_idle()
            await _until_dead(rt, clock, hook)

            letters = ok(await client.get("/v1/webhook-deliveries", headers=shop.headers,
                                          params={"status": "dead"}))["data"]
            [dead] = letters
            assert (dead["endpoint_id"], dead["event_type"], dead["status"]) == (
                webhook["id"], "order.created", "dead")
            assert [a["status_code"] for a in dead["attempts"]] == [500] * 4
            assert dead["dead_at"] is not None and dead["next_attempt_at"] is None
            per_endpoint = ok(await client.get(f"/v1/webhooks/{webhook['id']}/deliveries",
                                               headers=shop.headers,
                                               params={"status": "dead"}))["data"]
            assert [d["id"] for d in per_endpoint] == [dead["id"]]
            assert ok(await client.get("/v1/webhook-deliveries", headers=shop.headers,
                                       params={"status": "succeeded"}))["data"] == []

            replay = f"/v1/webhooks/{webhook['id']}/deliveries/{dead['id']}/replay"
            writer = await key_with(client, shop, "write")
            queued = ok(await client.post(replay, headers=writer))
            assert (queued["status"], queued["dead_at"]) == ("pending", None)
            assert queued["payload"]["data"]["order"]["id"] == order["id"]
            hook.recover()
            await deliver_due(rt)

            [delivered] = hook.succeeded()
            assert delivered.signature_ok
            assert standard_webhooks_signature_ok(webhook["secret"], delivered.headers,
                                                  delivered.body)
            assert json.loads(delivered.body) == queued["payload"]
            assert delivered.body == hook.received[0].body  # the very bytes of the first try
            after = ok(await client.get(f"/v1/webhooks/{webhook['id']}/deliveries/{dead['id']}",
                                        headers=shop.headers))
            assert after["status"] == "succeeded"
            assert [(a["attempt"], a["status_code"]) for a in after["attempts"]] == [
                (1, 500), (2, 500), (3, 500), (4, 500), (5, 200)]
            assert ok(await client.get("/v1/webhook-deliveries", headers=shop.headers,
                                       params={"status": "dead"}))["data"] == []
            error_of(await client.post(replay, headers=writer), 409,
                     "webhook_delivery_already_succeeded")
            await deliver_due(rt)
            assert len(hook.succeeded()) == 1


async def test_a_disabled_endpoint_refuses_replays_until_it_is_enabled_again(
        runtime: Runtime, shop: Merchant) -> None:
    rt, clock = _fast(runtime, webhook_disable_after_failures=2)
    async with api_client(rt) as client:
        with receiver() as hook:
            await development_mode(client, shop, True)
            webhook = await register(client, shop, hook.url, ["order.created"])
            hook.fail_always()
            await add_product(client, shop, "HOOK-OFF", 3)
            await place_order(client, shop, ("HOOK-OFF", 1))
            await default_relay(rt).relay_until_idle()
            for _ in range(3):
                await deliver_due(rt)
                clock.advance(2.0)
            assert len(hook.received) == 2  # disabled after the second failure

            endpoint = ok(await client.get(f"/v1/webhooks/{webhook['id']}",
                                           headers=shop.headers))
            assert (endpoint["enabled"], endpoint["consecutive_failures"]) == (False, 2)
            [delivery] = ok(await client.get(f"/v1/webhooks/{webhook['id']}/deliveries",
                                             headers=shop.headers))["data"]
            replay = f"/v1/webhooks/{webhook['id']}/deliveries/{delivery['id']}/replay"
            details = error_of(await client.post(replay, headers=shop.headers), 409,
                               "webhook_endpoint_disabled")
            assert "failed delivery attempts in a row" in details["disabled_reason"]

            hook.recover()
            enabled = ok(await client.post(f"/v1/webhooks/{webhook['id']}/enable",
                                           headers=shop.headers))
            assert (enabled["enabled"], enabled["consecutive_failures"]) == (True, 0)
            assert ok(await client.post(replay, headers=shop.headers))["status"] == "pending"
            await deliver_due(rt)
            assert [r.answered for r in hook.received] == [500, 500, 200]


async def test_deliveries_are_listed_newest_first_a_page_at_a_time(
        runtime: Runtime, shop: Merchant) -> None:
    rt, clock = _fast(runtime)
    async with api_client(rt) as client:
        await development_mode(client, shop, True)
        webhook = await register(client, shop, "http://127.0.0.1:9/never-sent",
                                 ["order.created"])
        await add_product(client, shop, "HOOK-PAGE", 9)
        for n in range(3):
            await place_order(client, shop, ("HOOK-PAGE", 1), phone=f"+1 555 03{n:02d}")
            await default_relay(rt).relay_until_idle()
            clock.advance(1.0)
        path = f"/v1/webhooks/{webhook['id']}/deliveries"
        first = ok(await client.get(path, headers=shop.headers, params={"limit": 2}))
        rest = ok(await client.get(path, headers=shop.headers,
                                   params={"limit": 2, "cursor": first["next_cursor"]}))
        assert len(first["data"]) == 2 and len(rest["data"]) == 1
        assert rest["next_cursor"] is None
        listed = first["data"] + rest["data"]
        created = [d["created_at"] for d in listed]
        assert created == sorted(created, reverse=True) and len(set(created)) == 3
        assert all(d["status"] == "pending" and d["attempts"] == [] for d in listed)
        error_of(await client.get(path, headers=shop.headers, params={"status": "lost"}),
                 422, "validation_error")


async def test_deleting_a_webhook_removes_it_with_its_deliveries(
        client: httpx.AsyncClient, shop: Merchant) -> None:
    webhook = await register(client, shop, PUBLIC_URL)
    deleted = ok(await client.delete(f"/v1/webhooks/{webhook['id']}", headers=shop.headers))
    assert deleted["id"] == webhook["id"] and "secret" not in deleted
    error_of(await client.get(f"/v1/webhooks/{webhook['id']}", headers=shop.headers),
             404, "not_found")
    error_of(await client.get(f"/v1/webhooks/{webhook['id']}/deliveries",
                              headers=shop.headers), 404, "not_found")
    error_of(await client.delete(f"/v1/webhooks/{webhook['id']}", headers=shop.headers),
             404, "not_found")
    assert ok(await client.get("/v1/webhooks", headers=shop.headers))["data"] == []


async def test_business_settings_hold_development_mode_and_the_alert_email(
        client: httpx.AsyncClient, shop: Merchant) -> None:
    before = ok(await client.get("/v1/business", headers=shop.headers))
    assert (before["development_mode"], before["alert_email"]) == (False, None)
    changed = ok(await client.patch("/v1/business", headers=shop.headers, json={
        "development_mode": True, "alert_email": "Ops@Shop.example"}))
    assert (changed["development_mode"], changed["alert_email"]) == (True, "ops@shop.example")
    assert ok(await client.get("/v1/business", headers=shop.headers))["alert_email"] == (
        "ops@shop.example")
    cleared = ok(await client.patch("/v1/business", headers=shop.headers,
                                    json={"alert_email": ""}))
    assert (cleared["development_mode"], cleared["alert_email"]) == (True, None)
    error_of(await client.patch("/v1/business", headers=shop.headers,
                                json={"alert_email": "not-an-email"}), 422, "validation_error")
    error_of(await client.patch("/v1/business", headers=shop.headers,
                                json={"development_mode": "yes"}), 422, "validation_error")
