"""One ``Idempotency-Key`` sent by many requests at once, through real server processes.

SQLite: one ``orderline serve`` process (the embedded mode). PostgreSQL: ``--workers 4``, so the
requests land in four processes with their own connection pools, and only the key's claim
(its own short transaction on a unique row) keeps them to one effect.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from orderline.core.runtime import Runtime
from tests.conftest import new_merchant
from tests.support.catalog import stock, stock_sku
from tests.support.servers import running_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(database_url: str, shared_db: Any) -> Iterator[str]:
    workers = 1 if database_url.startswith("sqlite") else 4
    with running_server(database_url, workers=workers) as base:
        yield base


async def test_ten_identical_orders_at_once_with_one_key_place_one_order_and_take_stock_once(
        runtime: Runtime, server: str) -> None:
    merchant = await new_merchant(runtime)
    await stock_sku(runtime, merchant, "KEYED", 50)
    key = str(uuid.uuid4())
    body = {"customer": {"name": "Ada", "phone": "+1 555 0101"}, "channel": "web",
            "lines": [{"sku": "KEYED", "quantity": 3}], "payment_method": "card"}
    headers = {**merchant.headers, "Idempotency-Key": key}
    limits = httpx.Limits(max_connections=10, max_keepalive_connections=10)
    async with httpx.AsyncClient(base_url=server, headers=headers, limits=limits,
                                 timeout=60) as client:
        answers = list(await asyncio.gather(*(client.post("/v1/orders", json=body)
                                              for _ in range(10))))

        statuses = Counter(a.status_code for a in answers)
        assert set(statuses) <= {201, 409}, [a.text for a in answers]
        placed = [a for a in answers if a.status_code == 201]
        assert sum(a.headers["Idempotent-Replayed"] == "false" for a in placed) == 1
        assert len({a.json()["id"] for a in placed}) == 1  # replays are the same order
        assert {a.json()["error"]["code"] for a in answers
                if a.status_code == 409} <= {"request_in_progress"}

        # Once the first has finished, every retry is its answer.
        again = await client.post("/v1/orders", json=body)
        assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == placed[0].json()
        listed = (await client.get("/v1/orders")).json()["data"]
    assert [o["id"] for o in listed] == [placed[0].json()["id"]]
    level = await stock(runtime, merchant, "KEYED")
    assert (level["on_hand"], level["reserved"], level["available"]) == (50, 3, 47)
