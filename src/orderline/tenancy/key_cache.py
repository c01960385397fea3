"""API keys a server process has already looked up, so a busy key costs no query per request.

Every merchant request starts by turning its bearer key into a ``Principal`` (the key's
business, scopes, currency and reservation time). That lookup is a pool checkout, a query and a
rollback: on ``POST /v1/orders`` about a fifth of the server's work. The answer changes only when
the key is revoked or the business's reservation time changes, so each process keeps the
principals it looked up, keyed by the key's hash (never the key), for at most ``ttl`` seconds.

It is forgotten at once when it may have changed:
- in this process, right after the revoking or updating transaction commits;
- in every other process, through PostgreSQL NOTIFY on ``KEYS_CHANNEL``, sent by those same
  statements (``tenancy.store``) and delivered when their transaction commits.

A notification can only be missed while a process's LISTEN connection is down. So on
PostgreSQL the cache is used only while this process listens (``trust_while``): when the
connection drops every lookup goes to the database again, and when it is back the cache starts
empty. A process that does not listen at all (a script, the worker) never uses it. SQLite is one
process, so its cache is always trusted. Unknown keys are never cached, so a stream of made-up
keys fills nothing.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from orderline.core.runtime import Part, Runtime
from orderline.tenancy.rules import Principal

KEYS_CHANNEL = "orderline_keys"
MAX_KEYS = 4096  # principals kept per process; a forgotten one costs one lookup


@dataclass(frozen=True, slots=True)
class _Kept:
    principal: Principal
    until: float  # time.monotonic() after which it is looked up again
    listen: int  # the LISTEN connection it was kept under (see ``trust_while``)


class KeyCache:
    def __init__(self, *, ttl: float, always_trusted: bool, size: int = MAX_KEYS,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.size = size
        self._now = now
        self._always_trusted = always_trusted
        self._listening: asyncio.Event | None = None
        self._connection: Callable[[], int] = lambda: 0
        self._kept: OrderedDict[str, _Kept] = OrderedDict()

    def __len__(self) -> int:
        return len(self._kept)

    @property
    def trusted(self) -> bool:
        if self.ttl <= 0:
            return False
        if self._always_trusted:
            return True
        return self._listening is not None and self._listening.is_set()

    def trust_while(self, listening: asyncio.Event, connection: Callable[[], int]) -> None:
        """Use the cache only while ``listening`` is set (this process's LISTEN is active),
        and only what was kept under the current LISTEN connection (``connection`` counts
        them): what was kept before a reconnection may have missed a notification."""
        self._listening = listening
        self._connection = connection

    def get(self, key_hash: str) -> Principal | None:
        if not self.trusted:
            return None
        kept = self._kept.get(key_hash)
        if kept is None:
            return None
        if kept.until <= self._now() or kept.listen != self._connection():
            del self._kept[key_hash]
            return None
        return kept.principal

    def keep(self, key_hash: str, principal: Principal) -> None:
        if not self.trusted:
            return
        self._kept[key_hash] = _Kept(principal, self._now() + self.ttl, self._connection())
        self._kept.move_to_end(key_hash)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)

    def forget_business(self, business_id: uuid.UUID) -> None:
        for key_hash in [h for h, k in self._kept.items()
                         if k.principal.business_id == business_id]:
            del self._kept[key_hash]

    def forget_all(self) -> None:
        self._kept.clear()

    def notified(self, payload: str) -> None:
        """A NOTIFY on ``KEYS_CHANNEL``: its payload names the business whose keys changed;
        anything else forgets every key (safe, and such a payload is not ours to parse)."""
        try:
            self.forget_business(uuid.UUID(payload))
        except ValueError:
            self.forget_all()


KEY_CACHE = Part[KeyCache]("the API keys' principal cache", build=lambda runtime: KeyCache(
    ttl=runtime.settings.api_key_cache_seconds, always_trusted=runtime.db.is_sqlite))


def forget_business_keys(runtime: Runtime, business_id: uuid.UUID) -> None:
    """After a committed change to the business's keys or settings, in this process (other
    processes hear of it through NOTIFY)."""
    runtime.get(KEY_CACHE).forget_business(business_id)
