"""Rate limits and "one at a time" guards shared by every server process.

With ``ORDERLINE_REDIS_URL`` set, counters and guards live in Redis, so several processes
(and machines) share them; the embedded default keeps them in this process's memory, which is
right for its single process. Counting uses a moving window: the ``limits`` library's on
Redis, ``MovingWindows`` in memory; the guard is Redis's own lock (``SET NX PX`` with a token,
released only by its holder).
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from limits import RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import ConnectionPool, Redis


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    retry_after_seconds: int = 0


class Guard(Protocol):
    """A held guard; ``release`` is safe to call once it has lapsed."""

    async def release(self) -> None: ...


class Limiter(Protocol):
    async def hit(self, key: str, *, limit: int, window_seconds: int) -> RateDecision:
        """Count one hit against ``limit`` per ``window_seconds``; refuse past it."""
        ...

    async def peek(self, key: str, *, limit: int, window_seconds: int) -> RateDecision:
        """Whether one more hit would be allowed now, without counting one (a lockout that
        counts only failures asks this before each attempt)."""
        ...

    async def guard(self, key: str, *, ttl_seconds: float) -> Guard | None:
        """Take the guard named ``key`` unless someone holds it; it lapses after the TTL
        (a crashed holder never blocks for longer)."""
        ...

    async def close(self) -> None: ...


def _retry_after(reset_time: float) -> int:
    return max(1, int(reset_time - time.time() + 0.999))


class _MemoryGuard:
    def __init__(self, held: dict[str, tuple[str, float]], key: str, token: str) -> None:
        self._held, self._key, self._token = held, key, token

    async def release(self) -> None:
        if self._held.get(self._key, ("", 0.0))[0] == self._token:
            del self._held[self._key]


class MovingWindows:
    """Moving windows kept in this process: per key, the times of its hits in the last
    window, oldest first. Every call runs whole on the event loop (no ``await``), so no two
    hits interleave. Keys whose hits all left their window are dropped every
    ``SWEEP_EVERY`` calls.

    The ``limits`` library's in-memory storages are not used here: the synchronous one
    expires its entries on a ``threading.Timer`` that it starts again on most hits, and
    ``Thread.start`` blocks the event loop until the new thread runs (5% of a checkout
    server's CPU samples under load, docs/benchmarks.md); the asyncio one expires them
    through ``asyncio.to_thread``, one call per key per sweep."""

    SWEEP_EVERY = 1000

    def __init__(self) -> None:
        self._hits: dict[str, tuple[float, deque[float]]] = {}
        self._calls = 0

    def hit(self, key: str, *, limit: int, window_seconds: float, now: float,
            take: bool = True) -> tuple[bool, float]:
        """Whether one more hit fits in the window (counted when it does and ``take``), and
        when the oldest hit leaves the window."""
        self._calls += 1
        if self._calls % self.SWEEP_EVERY == 0:
            self._sweep(now)
        kept = self._hits.get(key)
        hits = kept[1] if kept is not None else deque()
        cutoff = now - window_seconds
        while hits and hits[0] <= cutoff:
            hits.popleft()
        allowed = len(hits) < limit
        if allowed and take:
            hits.append(now)
            if kept is None:
                self._hits[key] = (window_seconds, hits)
        return allowed, (hits[0] if hits else now) + window_seconds

    def _sweep(self, now: float) -> None:
        for key in [k for k, (window, hits) in self._hits.items()
                    if not hits or hits[-1] <= now - window]:
            del self._hits[key]

    def __len__(self) -> int:
        return len(self._hits)


class MemoryLimiter:
    """One process's limits: the embedded default (``MovingWindows``)."""

    def __init__(self) -> None:
        self._windows = MovingWindows()
        self._held: dict[str, tuple[str, float]] = {}

    async def hit(self, key: str, *, limit: int, window_seconds: int) -> RateDecision:
        allowed, reset = self._windows.hit(key, limit=limit, window_seconds=window_seconds,
                                           now=time.time())
        return RateDecision(True) if allowed else RateDecision(False, _retry_after(reset))

    async def peek(self, key: str, *, limit: int, window_seconds: int) -> RateDecision:
        allowed, reset = self._windows.hit(key, limit=limit, window_seconds=window_seconds,
                                           now=time.time(), take=False)
        return RateDecision(True) if allowed else RateDecision(False, _retry_after(reset))

    async def guard(self, key: str, *, ttl_seconds: float) -> Guard | None:
        now = time.monotonic()
        holder = self._held.get(key)
        if holder is not None and holder[1] > now:
            return None
        token = secrets.token_hex(8)
        self._held[key] = (token, now + ttl_seconds)
        return _MemoryGuard(self._held, key, token)

    async def close(self) -> None:
        self._held.clear()


class _RedisGuard:
    # Delete the key only if it still holds our token (it may have lapsed and been retaken).
    _RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then " \
               "return redis.call('del', KEYS[1]) else return 0 end"

    def __init__(self, client: Redis, key: str, token: str) -> None:
        self._client, self._key, self._token = client, key, token

    async def release(self) -> None:
        await self._client.eval(self._RELEASE, 1, self._key, self._token)  # type: ignore[misc]


class RedisLimiter:
    """Limits shared by every process that uses the same Redis."""

    def __init__(self, url: str, *, prefix: str = "orderline") -> None:
        storage_url = url.replace("redis://", "async+redis://", 1) \
            if url.startswith("redis://") else url
        # One pool for the counters and the guards, closed with this limiter.
        self._pool = ConnectionPool.from_url(url)
        self._limiter = MovingWindowRateLimiter(RedisStorage(
            storage_url, implementation="redispy", key_prefix=prefix,
            connection_pool=self._pool))  # type: ignore[arg-type]  # its options are typed narrowly
        self._client: Redis = Redis(connection_pool=self._pool)
        self._prefix = prefix

    async def hit(self, key: str, *, limit: int, window_seconds: int) -> RateDecision:
        item = RateLimitItemPerSecond(limit, window_seconds)
        if await self._limiter.hit(item, "orderline", key):
            return RateDecision(True)
        stats = await self._limiter.get_window_stats(item, "orderline", key)
        return RateDecision(False, _retry_after(stats.reset_time))

    async def peek(self, key: str, *, limit: int, window_seconds: int) -> RateDecision:
        item = RateLimitItemPerSecond(limit, window_seconds)
        if await self._limiter.test(item, "orderline", key):
            return RateDecision(True)
        stats = await self._limiter.get_window_stats(item, "orderline", key)
        return RateDecision(False, _retry_after(stats.reset_time))

    async def guard(self, key: str, *, ttl_seconds: float) -> Guard | None:
        name = f"{self._prefix}:guard:{key}"
        token = secrets.token_hex(8)
        if not await self._client.set(name, token, nx=True, px=max(1, int(ttl_seconds * 1000))):
            return None
        return _RedisGuard(self._client, name, token)

    async def close(self) -> None:
        await self._client.aclose()
        await self._pool.disconnect()


def build_limiter(redis_url: str) -> Limiter:
    return RedisLimiter(redis_url) if redis_url else MemoryLimiter()
