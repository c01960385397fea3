"""The per-process cache of API keys (``tenancy.key_cache``): what it keeps, for how long, and
when it refuses to answer."""

from __future__ import annotations

import asyncio
import uuid

from orderline.tenancy.key_cache import KeyCache
from orderline.tenancy.rules import Principal


class Ticking:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _principal(business_id: uuid.UUID | None = None) -> Principal:
    return Principal(business_id=business_id or uuid.uuid4(), key_id=uuid.uuid4(),
                     key_prefix="ol_x", scopes=frozenset({"orders:write"}), currency="USD",
                     reservation_ttl_seconds=900)


def test_a_kept_key_is_answered_until_its_time_runs_out() -> None:
    clock = Ticking()
    cache = KeyCache(ttl=30, always_trusted=True, now=clock)
    principal = _principal()
    assert cache.get("h") is None
    cache.keep("h", principal)
    assert cache.get("h") is principal
    clock.now += 29.9
    assert cache.get("h") is principal
    clock.now += 0.2
    assert cache.get("h") is None
    assert len(cache) == 0


def test_a_change_to_a_business_forgets_its_keys_only() -> None:
    cache = KeyCache(ttl=30, always_trusted=True)
    mine, other = _principal(), _principal()
    cache.keep("a", mine)
    cache.keep("b", _principal(mine.business_id))
    cache.keep("c", other)
    cache.notified(str(mine.business_id))
    assert cache.get("a") is None and cache.get("b") is None
    assert cache.get("c") is other
    cache.notified("not a business id")  # not ours to parse: everything goes
    assert cache.get("c") is None


def test_nothing_is_kept_or_answered_while_not_listening() -> None:
    listening = asyncio.Event()
    connections = [1]
    cache = KeyCache(ttl=30, always_trusted=False)
    principal = _principal()
    cache.keep("h", principal)  # no listener given at all: never trusted
    assert cache.get("h") is None and len(cache) == 0

    cache.trust_while(listening, lambda: connections[0])
    cache.keep("h", principal)
    assert len(cache) == 0
    listening.set()
    cache.keep("h", principal)
    assert cache.get("h") is principal
    listening.clear()  # the LISTEN connection dropped: a revocation may go unheard
    assert cache.get("h") is None
    listening.set()
    connections[0] += 1  # listening again, on a new connection: what was kept is stale
    assert cache.get("h") is None
    assert len(cache) == 0


def test_no_time_means_no_cache_and_the_size_is_bounded() -> None:
    off = KeyCache(ttl=0, always_trusted=True)
    off.keep("h", _principal())
    assert off.get("h") is None
    small = KeyCache(ttl=30, always_trusted=True, size=2)
    first = _principal()
    small.keep("a", first)
    small.keep("b", _principal())
    small.keep("c", _principal())
    assert len(small) == 2 and small.get("a") is None
