"""Where the sandbox provider keeps its side of the money: its intents, and what each
idempotency key gave the first time.

A real provider is one system however many of our processes call it, and it remembers across
their restarts. So the sandbox keeps its state in the database (``DatabaseBook``, its own
tables, which Orderline's books never read): a refund or a saga's void that lands on another
server process, or on the worker, finds the intent the first process created. ``MemoryBook``
keeps it in one process's memory, for unit tests without a database and for the bench's
stand-in gateway.

Each call of the gateway is one transaction of its book: the intent it acts on is locked first
(``SELECT ... FOR UPDATE``), then its idempotency key is claimed (an insert that waits for a
concurrent one with the same key and then finds its answer), so two processes sending the
same call at once get one outcome, as they would from Stripe.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.db.engine import Database
from orderline.core.db.insert import insert_ignoring_conflict
from orderline.core.db.tables import table_of
from orderline.payments.providers.base import (
    ProviderError,
    ProviderIntent,
    ProviderRefund,
    ProviderStatus,
)
from orderline.payments.tables import SandboxIdempotencyKey, SandboxIntentRecord
from orderline.tenancy.rules import CaptureMode

intents = table_of(SandboxIntentRecord)
keys = table_of(SandboxIdempotencyKey)


@dataclass(slots=True)
class SandboxIntent:
    """The sandbox's own record of a payment intent (changed in place by a call, and kept
    only when the call's transaction ends without an error)."""

    reference: str
    amount: int
    currency: str
    capture_mode: CaptureMode
    metadata: dict[str, str]
    payment_method: str | None
    client_secret: str
    status: ProviderStatus = ProviderStatus.REQUIRES_ACTION
    amount_authorized: int = 0
    amount_captured: int = 0
    amount_refunded: int = 0
    next_action: dict[str, Any] | None = None
    failure_code: str | None = None
    failure_message: str | None = None

    def snapshot(self) -> ProviderIntent:
        return ProviderIntent(
            reference=self.reference, status=self.status, amount=self.amount,
            currency=self.currency, amount_authorized=self.amount_authorized,
            amount_captured=self.amount_captured, client_secret=self.client_secret,
            next_action=dict(self.next_action) if self.next_action else None,
            failure_code=self.failure_code, failure_message=self.failure_message)

    def wire(self) -> dict[str, Any]:
        """The intent as a webhook carries it (no client secret: webhooks are not for buyers)."""
        return {"object": "payment_intent", "id": self.reference, "status": self.status.value,
                "amount": self.amount, "currency": self.currency,
                "amount_authorized": self.amount_authorized,
                "amount_captured": self.amount_captured,
                "amount_refunded": self.amount_refunded,
                "capture_mode": self.capture_mode.value, "next_action": self.next_action,
                "failure_code": self.failure_code, "failure_message": self.failure_message,
                "metadata": dict(self.metadata)}


@dataclass(frozen=True, slots=True)
class Saved:
    """What an idempotency key gave the first time, and the arguments it was given
    (``fingerprint``, canonical JSON)."""

    fingerprint: str
    result: ProviderIntent | ProviderRefund | None = None
    error: ProviderError | None = None


def fingerprint_of(arguments: tuple[object, ...]) -> str:
    """A call's arguments as canonical JSON (enums by value, tuples as lists)."""
    return json.dumps(arguments, separators=(",", ":"), sort_keys=True, default=str)


class SandboxTransaction(Protocol):
    async def intent(self, reference: str) -> SandboxIntent | None:
        """The intent, locked until the transaction ends; None if there is no such intent."""
        ...

    async def claim(self, key: str, fingerprint: str) -> Saved | None:
        """None when the key is new (it is now this call's); else what it gave before."""
        ...

    async def keep(self, key: str, saved: Saved) -> None:
        """Record the answer of a key this transaction claimed."""
        ...

    async def put(self, intent: SandboxIntent, *, new: bool) -> None: ...


class SandboxBook(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[SandboxTransaction]: ...


# --- in one process's memory ----------------------------------------------------------------


class MemoryBook:
    """The sandbox's state in this process only: calls run one at a time, and a call that
    raises changes nothing."""

    def __init__(self) -> None:
        self._intents: dict[str, SandboxIntent] = {}
        self._saved: dict[str, Saved] = {}
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SandboxTransaction]:
        async with self._lock:
            tx = _MemoryTransaction(self._intents, self._saved)
            yield tx
            self._intents.update(tx.intents)
            self._saved.update(tx.saved)


class _MemoryTransaction:
    def __init__(self, intents: dict[str, SandboxIntent], saved: dict[str, Saved]) -> None:
        self._committed_intents = intents
        self._committed_saved = saved
        self.intents: dict[str, SandboxIntent] = {}
        self.saved: dict[str, Saved] = {}

    async def intent(self, reference: str) -> SandboxIntent | None:
        found = self.intents.get(reference) or self._committed_intents.get(reference)
        return copy.deepcopy(found)

    async def claim(self, key: str, fingerprint: str) -> Saved | None:
        return self.saved.get(key) or self._committed_saved.get(key)

    async def keep(self, key: str, saved: Saved) -> None:
        self.saved[key] = saved

    async def put(self, intent: SandboxIntent, *, new: bool) -> None:
        self.intents[intent.reference] = copy.deepcopy(intent)


# --- in the database ------------------------------------------------------------------------


class DatabaseBook:
    """The sandbox's state in its own tables, shared by every process on the database.

    On SQLite, a call made inside this task's write transaction (the payment saga calls the
    provider from inside the relay's) runs in a savepoint of it (``Database.write_or_join``):
    SQLite has one writer."""

    def __init__(self, db: Database, *, clock: Callable[[], float]) -> None:
        self.db = db
        self._clock = clock

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SandboxTransaction]:
        async with self.db.write_or_join() as conn:
            yield _DatabaseTransaction(conn, datetime.fromtimestamp(self._clock(), UTC))


_INTENT_FIELDS = tuple(f.name for f in fields(SandboxIntent))


class _DatabaseTransaction:
    def __init__(self, conn: AsyncConnection, now: datetime) -> None:
        self._conn = conn
        self._now = now

    async def intent(self, reference: str) -> SandboxIntent | None:
        stmt = select(intents).where(intents.c.reference == reference).with_for_update()
        row = (await self._conn.execute(stmt)).mappings().first()
        if row is None:
            return None
        values = {name: row[name] for name in _INTENT_FIELDS if name != "metadata"}
        values.update(metadata=dict(row["intent_metadata"]),
                      capture_mode=CaptureMode(row["capture_mode"]),
                      status=ProviderStatus(row["status"]))
        return SandboxIntent(**values)

    async def claim(self, key: str, fingerprint: str) -> Saved | None:
        if await insert_ignoring_conflict(self._conn, keys, {
                "key": key, "fingerprint": fingerprint, "outcome": None,
                "created_at": self._now}):
            return None
        # The insert waited for a transaction holding the same key to end: its answer is in.
        row = (await self._conn.execute(
            select(keys.c.fingerprint, keys.c.outcome).where(keys.c.key == key))).one()
        return _saved_from(row.fingerprint, row.outcome)

    async def keep(self, key: str, saved: Saved) -> None:
        await self._conn.execute(update(keys).where(keys.c.key == key).values(
            outcome=_outcome_of(saved)))

    async def put(self, intent: SandboxIntent, *, new: bool) -> None:
        values = {name: getattr(intent, name) for name in _INTENT_FIELDS if name != "metadata"}
        values.update(intent_metadata=dict(intent.metadata),
                      capture_mode=intent.capture_mode.value, status=intent.status.value,
                      updated_at=self._now)
        if new:
            await self._conn.execute(insert(intents).values(**values, created_at=self._now))
        else:
            await self._conn.execute(update(intents).where(
                intents.c.reference == intent.reference).values(**values))


def _outcome_of(saved: Saved) -> dict[str, Any]:
    if saved.error is not None:
        return {"error": {"message": str(saved.error), "code": saved.error.code,
                          "retryable": saved.error.retryable}}
    if isinstance(saved.result, ProviderRefund):
        return {"refund": asdict(saved.result)}
    assert saved.result is not None
    return {"intent": {**asdict(saved.result), "status": saved.result.status.value}}


def _saved_from(fingerprint: str, outcome: dict[str, Any] | None) -> Saved:
    assert outcome is not None, "a claimed key is answered in the transaction that claimed it"
    if "error" in outcome:
        error = outcome["error"]
        return Saved(fingerprint, error=ProviderError(error["message"], code=error["code"],
                                                      retryable=error["retryable"]))
    if "refund" in outcome:
        return Saved(fingerprint, result=ProviderRefund(**outcome["refund"]))
    answer = outcome["intent"]
    return Saved(fingerprint, result=ProviderIntent(
        **{**answer, "status": ProviderStatus(answer["status"])}))
