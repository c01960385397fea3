"""Keeping proof files no longer than needed, and moving them to a new master key.

Retention: a business's proof files go ``proof_retention_days`` after their order is final
(delivered, cancelled or returned). Deleting is two steps so a crash never loses track: one
transaction marks the proofs' files deleted (and audits it, with the hash, which stays); then
each file is deleted from storage and its key forgotten. A file marked but not yet deleted
(a crash in between) is deleted by the next round.

Rotation: after a new master key is put first in ``ORDERLINE_PROOF_MASTER_KEYS`` (the old one
kept after it), ``orderline proofs rotate-keys`` re-wraps every stored file's data key with
the new master key, without re-encrypting the content; then the old key can be removed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.db.tables import table_of
from orderline.core.runtime import Runtime
from orderline.manual_payments import proof_store
from orderline.manual_payments.files.configured import proof_storage
from orderline.manual_payments.files.encryption import SealedDataError
from orderline.manual_payments.proof_records import record
from orderline.tenancy.tables import Business

log = logging.getLogger("orderline.proofs")
BATCH = 200
RETENTION_ACTOR = "worker:retention"
businesses = table_of(Business)


async def delete_expired_files(runtime: Runtime, *,
                               business_id: uuid.UUID | None = None) -> int:
    """One round: mark and delete the files past retention (of every business, or one);
    returns how many were marked."""
    now = runtime.clock.now()
    query = select(businesses.c.id, businesses.c.proof_retention_days)
    if business_id is not None:
        query = query.where(businesses.c.id == business_id)
    async with runtime.db.read() as conn:
        terms = list((await conn.execute(query)).mappings())
    marked = 0
    for business in terms:
        cutoff = now - timedelta(days=business["proof_retention_days"])

        async def work(conn: AsyncConnection, business_id: uuid.UUID = business["id"],
                       cutoff_at: datetime = cutoff) -> int:
            due = await proof_store.files_past_retention(conn, business_id, cutoff_at,
                                                         limit=BATCH)
            done = await proof_store.mark_files_deleted(conn, [r["id"] for r in due],
                                                        reason="retention", now=now)
            for row in done:
                await record(conn, business_id=business_id, proof_id=row["id"],
                             order_id=row["order_id"], action="file_deleted",
                             actor=RETENTION_ACTOR, key_id=None,
                             before={**row, "file_deleted_at": None}, after=row, now=now)
            return len(done)

        marked += await runtime.db.run(work)
    await remove_marked_files(runtime)
    if marked:
        log.info("proof files past retention deleted", extra={"count": marked})
    return marked


async def remove_marked_files(runtime: Runtime) -> int:
    """Delete from storage every file whose deletion is decided; forget its key after."""
    removed = 0
    while True:
        async with runtime.db.read() as conn:
            rows = await proof_store.files_to_remove(conn, limit=BATCH)
        if not rows:
            return removed
        for row in rows:
            await proof_storage(runtime).delete(row["storage_key"])

            async def forget(conn: AsyncConnection, proof_id: uuid.UUID = row["id"]) -> None:
                await proof_store.forget_file(conn, proof_id)

            await runtime.db.run(forget)
            removed += 1


@dataclass
class Rotation:
    rewrapped: int = 0
    already_current: int = 0
    missing: int = 0
    unreadable: int = 0


async def rotate_master_keys(runtime: Runtime,
                             progress: Callable[[Rotation], None] | None = None, *,
                             business_id: uuid.UUID | None = None) -> Rotation:
    """Re-wrap every stored proof (of every business, or one) with the current master key
    (idempotent: a file already under it is left alone). ``progress`` is called after each
    batch."""
    storage = proof_storage(runtime)
    done = Rotation()
    after: uuid.UUID | None = None
    while True:
        async with runtime.db.read() as conn:
            rows = await proof_store.stored_files(conn, after, limit=BATCH,
                                                  business_id=business_id)
        if not rows:
            return done
        for row in rows:
            try:
                if await storage.rotate(row["storage_key"]):
                    done.rewrapped += 1
                else:
                    done.already_current += 1
            except KeyError:
                done.missing += 1
                log.error("proof file missing from storage", extra={"proof_id": str(row["id"])})
            except SealedDataError as exc:
                done.unreadable += 1
                log.error("proof file cannot be opened with the configured master keys",
                          extra={"proof_id": str(row["id"]), "problem": str(exc)})
        after = rows[-1]["id"]
        if progress is not None:
            progress(done)
