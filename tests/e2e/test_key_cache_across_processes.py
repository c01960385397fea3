"""API keys a server process keeps (``tenancy.key_cache``), across real server processes on
PostgreSQL: a key revoked through one process is refused by another that had it cached, and a
new reservation time set through one is used by the other's next order. Each server keeps keys
for an hour here, so only the NOTIFY that the change sends can explain the other process
noticing; the test waits for that with a generous cap, never for a time.

SQLite is one process: there the same holds in-process (the last test, on both databases)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from orderline.core.runtime import Runtime
from orderline.tenancy import service as tenancy
from orderline.tenancy.key_cache import KEY_CACHE, KeyCache
from orderline.tenancy.store import api_keys
from tests.conftest import new_merchant
from tests.support.catalog import stock_sku
from tests.support.servers import running_server

NOTICED_WITHIN = 30.0  # seconds: a cap on waiting, not an expectation of how long it takes
KEEP_AN_HOUR = {"ORDERLINE_API_KEY_CACHE_SECONDS": "3600"}


@pytest.fixture
def two_servers(runtime: Runtime, database_url: str) -> Iterator[tuple[str, str]]:
    if runtime.db.is_sqlite:
        pytest.skip("several server processes share one database on PostgreSQL only")
    with running_server(database_url, extra_env=KEEP_AN_HOUR) as first, \
            running_server(database_url, extra_env=KEEP_AN_HOUR) as second:
        yield first, second


async def _until(check: Any) -> Any:
    deadline = time.monotonic() + NOTICED_WITHIN
    while True:
        outcome = await check()
        if outcome or time.monotonic() > deadline:
            return outcome
        await asyncio.sleep(0.05)


async def test_a_key_revoked_through_one_process_is_refused_by_another(
        runtime: Runtime, two_servers: tuple[str, str]) -> None:
    first, second = two_servers
    merchant = await new_merchant(runtime, "Revoked across processes")
    async with httpx.AsyncClient(timeout=30) as http:
        issued = (await http.post(f"{first}/v1/api-keys", headers=merchant.headers,
                                  json={"name": "till", "scopes": ["read"]})).json()
        till = {"Authorization": f"Bearer {issued['key']}"}
        # The second process looks the key up once and keeps it.
        assert (await http.get(f"{second}/v1/orders", headers=till)).status_code == 200
        # Revoked behind both processes' backs (no notification): the second still answers
        # from what it kept, which is what the cache is for.
        async with runtime.db.write() as conn:
            await conn.execute(update(api_keys).where(api_keys.c.id == issued["id"])
                               .values(revoked_at=datetime.now().astimezone()))
        assert (await http.get(f"{second}/v1/orders", headers=till)).status_code == 200
        # Revoked through the first process: the second hears of it and refuses.
        assert (await http.delete(f"{first}/v1/api-keys/{issued['id']}",
                                  headers=merchant.headers)).status_code == 200

        async def refused() -> bool:
            answer = await http.get(f"{second}/v1/orders", headers=till)
            return answer.status_code == 401
        assert await _until(refused), "the second process still accepts the revoked key"
        refusal = (await http.get(f"{second}/v1/orders", headers=till)).json()
        assert refusal["error"]["code"] == "unauthorized"


async def test_a_new_reservation_time_reaches_the_other_process_s_orders(
        runtime: Runtime, two_servers: tuple[str, str]) -> None:
    first, second = two_servers
    merchant = await new_merchant(runtime, "Reservation time across processes",
                                  reservation_ttl_seconds=900)
    await stock_sku(runtime, merchant, "MUG", 50)
    body = {"customer": {"name": "Ana", "phone": "+1 555 0100"}, "channel": "web",
            "payment_method": "card", "lines": [{"sku": "MUG", "quantity": 1}]}

    def payment_window(order: dict[str, Any]) -> timedelta:
        return (datetime.fromisoformat(order["payment_deadline"])
                - datetime.fromisoformat(order["created_at"]))

    async with httpx.AsyncClient(timeout=30) as http:
        placed = await http.post(f"{second}/v1/orders", headers=merchant.headers, json=body)
        assert placed.status_code == 201, placed.text
        assert payment_window(placed.json()) == timedelta(seconds=900)
        changed = await http.patch(f"{first}/v1/business", headers=merchant.headers,
                                   json={"reservation_ttl_seconds": 1800})
        assert changed.status_code == 200, changed.text

        async def thirty_minutes() -> bool:
            answer = await http.post(f"{second}/v1/orders", headers=merchant.headers,
                                     json=body)
            assert answer.status_code == 201, answer.text
            return payment_window(answer.json()) == timedelta(seconds=1800)
        assert await _until(thirty_minutes), "the second process kept the old reservation time"


async def test_in_one_process_a_revocation_is_refused_at_once(runtime: Runtime) -> None:
    """The process that revokes forgets at once (SQLite's only process, and any process on
    PostgreSQL), with the cache trusted as a listening server process trusts it."""
    runtime.put(KEY_CACHE, KeyCache(ttl=3600, always_trusted=True))
    merchant = await new_merchant(runtime, "Revoked in process")
    issued = await tenancy.create_api_key(runtime, merchant.principal, name="till",
                                          scopes=["read"])
    assert (await tenancy.authenticate(runtime, issued.key)).key_id == issued.id
    assert len(runtime.get(KEY_CACHE)) >= 1
    await tenancy.revoke_api_key(runtime, merchant.principal, issued.id)
    with pytest.raises(Exception) as refused:
        await tenancy.authenticate(runtime, issued.key)
    assert getattr(refused.value, "code", None) == "unauthorized"
