"""Running a creating request once per ``Idempotency-Key``.

``run_once`` claims the key in a short transaction of its own, bound to the request's
operation (which endpoint) and fingerprint (its body, path and whatever else decides its
effect), then runs the work with the ``Claim``. The same key and fingerprint replay the first
answer (its status and body, as kept); another operation or fingerprint is
``idempotency_key_reused``; a claim still running is ``request_in_progress``. A refusal frees
the key, so the caller may fix the cause and retry with it.

A use case whose work is one transaction calls ``Claim.keep`` with its answer inside that
transaction, so the key says ``completed`` exactly when the work committed: a crash can
never leave an effect without its answer, and a retry after one never makes a second. Work of
several transactions (a payment provider is called between them) has its answer kept in a
transaction of its own once it is done. A crash before that leaves the key
``in_progress``; once its lock lapses a retry runs the work again, which is harmless where the
use case guards itself (a payment start finds its attempt and asks the provider again under
the same provider key); where it would not be (a refund), the work calls ``Claim.pin`` in its
first transaction and the key then stays busy until it expires.

A request without a key runs the work as it always did (``NO_KEY``).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from pydantic_core import to_jsonable_python
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.errors import RequestInProgress
from orderline.core.runtime import Runtime
from orderline.idempotency import store
from orderline.idempotency.rules import check_key, check_replay, fingerprint
from orderline.idempotency.store import IdempotencyKeyRow

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class KeyedRequest:
    """A creating request: its business, its endpoint (``operation``, at most 40 characters),
    the caller's ``Idempotency-Key`` (``None``: sent without one), what its fingerprint covers,
    and the status its success answers with."""

    business_id: uuid.UUID
    operation: str
    key: str | None
    request: dict[str, Any]
    status_code: int = 201


@dataclass(frozen=True, slots=True)
class Answer:
    """What to send: ``body`` is JSON-ready when a key was given (first answer or replay)."""

    status_code: int
    body: Any
    replayed: bool = False


class Claim:
    """The key this request holds (``id``), or none. ``keep`` stores the answer under it in the
    caller's transaction."""

    __slots__ = ("id", "kept", "status_code")

    def __init__(self, ident: uuid.UUID | None, status_code: int) -> None:
        self.id = ident
        self.status_code = status_code
        self.kept = False

    async def keep(self, conn: AsyncConnection, answer: T) -> T:
        """Keep ``answer`` as the key's answer, in the work's transaction; returns it."""
        if self.id is not None:
            await store.complete(conn, self.id, status_code=self.status_code,
                                 body=to_jsonable_python(answer))
            self.kept = True
        return answer


    async def pin(self, conn: AsyncConnection) -> None:
        """For work of several transactions whose retry would repeat its effect (a refund):
        called in the first transaction that takes effect, so the claim no longer lapses."""
        if self.id is not None:
            await store.pin(conn, self.id)


NO_KEY = Claim(None, 0)


async def claim_key(runtime: Runtime, *, business_id: uuid.UUID, operation: str, key: str,
                    print_: str) -> tuple[uuid.UUID | None, IdempotencyKeyRow | None]:
    """Claim ``key`` (see ``store.claim``), apart from the work: each of the claim's
    statements is atomic on its own (an insert that does nothing on conflict, then the
    take-over of a lapsed claim, then a read), so they run without a transaction around
    them."""
    settings = runtime.settings
    now = runtime.clock.now()
    return await runtime.db.run_statements(lambda conn: store.claim(
        conn, business_id=business_id, operation=operation, key=key, fingerprint=print_,
        now=now, lock_for=timedelta(seconds=settings.idempotency_lock_seconds),
        keep_for=timedelta(hours=settings.idempotency_ttl_hours)))


def replay(held: IdempotencyKeyRow, *, operation: str, print_: str) -> Answer:
    """The kept answer, if the key was taken by this same request and it is done."""
    check_replay(key=held.key, operation=operation, print_=print_,
                 held_operation=held.operation, held_fingerprint=held.fingerprint,
                 completed=held.status == store.COMPLETED)
    # A completed key holds its answer: ``complete`` writes both at once.
    assert held.response_status is not None and held.response_body is not None
    return Answer(held.response_status, held.response_body, replayed=True)


async def release(runtime: Runtime, claimed: uuid.UUID) -> None:
    """Free the key after a refusal (if this fails, the claim lapses on its own)."""
    with contextlib.suppress(Exception):
        await runtime.db.run(lambda conn: store.release(conn, claimed))


async def run_once(runtime: Runtime, request: KeyedRequest,
                   work: Callable[[Claim], Awaitable[Any]]) -> Answer:
    """Run ``work`` once for ``request``'s key, or answer as the first request did."""
    if request.key is None:
        return Answer(request.status_code, await work(NO_KEY))
    key = check_key(request.key)
    print_ = fingerprint({"operation": request.operation, "request": request.request})
    claimed, held = await claim_key(runtime, business_id=request.business_id,
                                    operation=request.operation, key=key, print_=print_)
    if held is not None:
        return replay(held, operation=request.operation, print_=print_)
    assert claimed is not None
    await runtime.checkpoints.reach(f"{request.operation}.claimed")
    claim = Claim(claimed, request.status_code)
    try:
        body = to_jsonable_python(await work(claim))
    except BaseException:
        await release(runtime, claimed)
        raise
    if not claim.kept:
        try:
            await runtime.db.run(lambda conn: store.complete(
                conn, claimed, status_code=request.status_code, body=body))
        except RequestInProgress:  # taken over meanwhile: the work is done, answer it
            log.warning("idempotency key of %s taken over before its answer was kept",
                        request.operation)
    return Answer(request.status_code, body)
