"""When an API key was last used (``tenancy.key_use``), on each database: recorded on its
first use, at most once per five minutes however many processes use it (the conditional
UPDATE), and not even asked for by a process that recorded it lately (its memo)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.clock import ManualClock
from orderline.core.runtime import Runtime
from orderline.tenancy import service as tenancy
from orderline.tenancy.key_use import KEY_USE, RECORD_EVERY, KeyUseMemo
from orderline.tenancy.store import api_keys


async def _last_used(runtime: Runtime, key_id: object) -> datetime | None:
    async with runtime.db.read() as conn:
        value = (await conn.execute(select(api_keys.c.last_used_at)
                                    .where(api_keys.c.id == key_id))).scalar_one()
    return value if value is None or isinstance(value, datetime) else None


async def _forget_in_the_database(runtime: Runtime, key_id: object) -> None:
    async def work(conn: AsyncConnection) -> None:
        await conn.execute(update(api_keys).where(api_keys.c.id == key_id)
                           .values(last_used_at=None))
    await runtime.db.run(work)


async def test_a_key_s_use_is_recorded_at_most_once_per_five_minutes(runtime: Runtime) -> None:
    clock = ManualClock()
    runtime.clock = clock
    created = await tenancy.create_business(runtime, name="Key use shop", currency="USD")
    key_id = created.api_key.id
    assert await _last_used(runtime, key_id) is None

    await tenancy.authenticate(runtime, created.api_key.key)
    first = clock.now()
    assert await _last_used(runtime, key_id) == first

    # Another process (a memo of its own, that never saw the key) a minute later: the
    # UPDATE's condition refuses.
    clock.advance(60)
    mine = runtime.get(KEY_USE)
    runtime.put(KEY_USE, KeyUseMemo())
    await tenancy.authenticate(runtime, created.api_key.key)
    assert await _last_used(runtime, key_id) == first
    runtime.put(KEY_USE, mine)

    # This process does not even ask within the interval: cleared behind its back, the
    # column stays empty until the interval has passed.
    await _forget_in_the_database(runtime, key_id)
    await tenancy.authenticate(runtime, created.api_key.key)
    assert await _last_used(runtime, key_id) is None
    clock.advance(RECORD_EVERY.total_seconds())
    await tenancy.authenticate(runtime, created.api_key.key)
    assert await _last_used(runtime, key_id) == clock.now()


async def test_a_use_after_the_interval_moves_the_time_on_in_the_same_process(
        runtime: Runtime) -> None:
    clock = ManualClock()
    runtime.clock = clock
    created = await tenancy.create_business(runtime, name="Key use shop 2", currency="USD")
    await tenancy.authenticate(runtime, created.api_key.key)
    clock.advance(RECORD_EVERY.total_seconds() + 1)
    await tenancy.authenticate(runtime, created.api_key.key)
    assert await _last_used(runtime, created.api_key.id) == clock.now()
