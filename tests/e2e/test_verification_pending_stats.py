"""How many proofs were waiting at the end of each day, week and month, over HTTP on each
database, with proofs sent and decided at known times (a manual clock)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from orderline.core.clock import ManualClock
from tests.conftest import Merchant
from tests.e2e.conftest import ok
from tests.support.manual import manual_order, receipt_for, upload

# Wednesday 28 October 2026, 09:00 UTC.
OCTOBER_28 = datetime(2026, 10, 28, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(OCTOBER_28)


def set_time(clock: ManualClock, when: datetime) -> None:
    clock.advance((when - clock.now()).total_seconds())


async def send_proof(http: httpx.AsyncClient, shop: Merchant, n: int
                     ) -> tuple[dict[str, Any], dict[str, Any]]:
    order = await manual_order(http, shop, phone=f"+63 917 555 {n:04d}")
    return order, ok(await upload(http, order, receipt_for(order)), 201)


def pending_by_start(periods: list[dict[str, Any]]) -> dict[str, int]:
    return {p["start"][:10]: p["pending_at_end"] for p in periods}


async def test_pending_at_the_end_of_each_period_follows_uploads_and_decisions(
        http: httpx.AsyncClient, shop: Merchant, clock: ManualClock) -> None:
    _, approved_next_day = await send_proof(http, shop, 1)  # 28 Oct 09:00
    set_time(clock, datetime(2026, 10, 28, 12, 0, tzinfo=UTC))
    _, rejected_same_day = await send_proof(http, shop, 2)
    set_time(clock, datetime(2026, 10, 28, 13, 0, tzinfo=UTC))
    ok(await http.post(f"/v1/verifications/{rejected_same_day['id']}/reject",
                       headers=shop.headers, json={"reason": "blurry"}))
    set_time(clock, datetime(2026, 10, 28, 20, 0, tzinfo=UTC))
    cancelled_order, _ = await send_proof(http, shop, 3)
    set_time(clock, datetime(2026, 10, 29, 10, 0, tzinfo=UTC))
    ok(await http.post(f"/v1/verifications/{approved_next_day['id']}/approve",
                       headers=shop.headers))
    set_time(clock, datetime(2026, 10, 29, 15, 0, tzinfo=UTC))
    await send_proof(http, shop, 4)  # still waiting at the end
    set_time(clock, datetime(2026, 10, 30, 8, 0, tzinfo=UTC))
    ok(await http.delete(f"/v1/orders/{cancelled_order['id']}", headers=shop.headers))
    set_time(clock, datetime(2026, 10, 30, 12, 0, tzinfo=UTC))

    daily = ok(await http.get("/v1/verifications/stats", headers=shop.headers,
                              params={"period": "day", "days": 3}))
    # End of the 28th: the one approved next day and the one whose order was cancelled later;
    # end of the 29th: that one and the newest; now: the newest alone, as "pending" says.
    assert pending_by_start(daily["periods"]) == {
        "2026-10-27": 0, "2026-10-28": 2, "2026-10-29": 2, "2026-10-30": 1}
    assert daily["pending"] == 1
    assert [p["decided"] for p in daily["periods"]] == [0, 1, 1, 0]

    weekly = ok(await http.get("/v1/verifications/stats", headers=shop.headers,
                               params={"period": "week", "days": 14}))
    assert pending_by_start(weekly["periods"]) == {
        "2026-10-12": 0, "2026-10-19": 0, "2026-10-26": 1}
    monthly = ok(await http.get("/v1/verifications/stats", headers=shop.headers,
                                params={"period": "month", "days": 60}))
    assert pending_by_start(monthly["periods"]) == {
        "2026-08-01": 0, "2026-09-01": 0, "2026-10-01": 1}
