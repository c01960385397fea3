"""Rate limits and one-at-a-time guards: in memory for the embedded mode, in a real Redis
(``ORDERLINE_TEST_REDIS_URL``, else 127.0.0.1:6379) when several processes share them.

Two ``RedisLimiter`` objects stand for two server processes: they share nothing but Redis.
Without a Redis server the Redis tests skip; with ``CI=true`` they fail instead.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from orderline.core.ratelimit import Limiter, MemoryLimiter, RedisLimiter
from tests.conftest import IN_CI

REDIS_URL = os.environ.get("ORDERLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


async def _redis_problem(url: str) -> str | None:
    client = Redis.from_url(url, socket_connect_timeout=2)
    try:
        await client.ping()
    except Exception as error:
        return f"no Redis server at {url}: {error!r}"
    finally:
        await client.aclose()
    return None


@pytest.fixture(params=["memory", "redis"])
async def limiters(request: pytest.FixtureRequest) -> AsyncIterator[Callable[[], Limiter]]:
    """A factory of limiters that share their state as processes would: one object in memory
    mode (one process), separate objects on one Redis."""
    made: list[Limiter] = []
    if request.param == "memory":
        shared = MemoryLimiter()
        made.append(shared)

        def memory() -> Limiter:
            return shared
        yield memory
    else:
        url = await _checked_redis_url()
        tag = uuid.uuid4().hex

        def redis() -> Limiter:
            limiter = RedisLimiter(url, prefix=f"orderline-test-{tag}")
            made.append(limiter)
            return limiter
        yield redis
    for limiter in made:
        await limiter.close()


async def _checked_redis_url() -> str:
    problem = await _redis_problem(REDIS_URL)
    if problem is not None:
        if IN_CI:
            pytest.fail(problem + " (CI=true: tests needing Redis must not be skipped)")
        pytest.skip(problem)
    return REDIS_URL


async def test_hits_past_the_limit_are_refused_whichever_process_counts_them(
        limiters: Callable[[], Limiter]) -> None:
    first, second = limiters(), limiters()
    decisions = [await (first if n % 2 else second).hit("buyer:1", limit=3, window_seconds=60)
                 for n in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert 1 <= decisions[-1].retry_after_seconds <= 60
    assert (await first.hit("buyer:2", limit=3, window_seconds=60)).allowed  # another buyer


async def test_concurrent_hits_never_exceed_the_limit(limiters: Callable[[], Limiter]) -> None:
    pool = [limiters() for _ in range(4)]
    decisions = await asyncio.gather(*(pool[n % 4].hit("burst", limit=10, window_seconds=60)
                                       for n in range(40)))
    assert sum(d.allowed for d in decisions) == 10


async def test_a_guard_is_held_by_one_caller_at_a_time_until_released(
        limiters: Callable[[], Limiter]) -> None:
    first, second = limiters(), limiters()
    held = await first.guard("confirm:buyer", ttl_seconds=30)
    assert held is not None
    assert await second.guard("confirm:buyer", ttl_seconds=30) is None
    assert await second.guard("confirm:other", ttl_seconds=30) is not None
    await held.release()
    again = await second.guard("confirm:buyer", ttl_seconds=30)
    assert again is not None
    await held.release()  # a stale holder's release does not free the new holder's guard
    assert await first.guard("confirm:buyer", ttl_seconds=30) is None


async def test_a_guard_whose_holder_died_lapses_after_its_ttl(
        limiters: Callable[[], Limiter]) -> None:
    first, second = limiters(), limiters()
    assert await first.guard("confirm:crashed", ttl_seconds=2) is not None
    assert await second.guard("confirm:crashed", ttl_seconds=2) is None
    # The holder never releases it; it lapses on its own (waited for, with a generous cap).
    deadline = time.monotonic() + 30
    taken = None
    while taken is None and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        taken = await second.guard("confirm:crashed", ttl_seconds=2)
    assert taken is not None
