"""SQL for the manual payment methods a business offers (bank accounts, e-wallets, UPI ids)
and for each order's manual payment (reference, amount, proof deadline)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.db.tables import table_of
from orderline.manual_payments.tables import ManualPayment, ManualPaymentMethod
from orderline.tenancy.tables import Business

methods = table_of(ManualPaymentMethod)
manual_payments = table_of(ManualPayment)
businesses = table_of(Business)

PROOF_SETTINGS = (businesses.c.currency, businesses.c.proof_deadline_minutes,
                  businesses.c.proof_review_hours, businesses.c.proof_max_bytes,
                  businesses.c.proof_retention_days, businesses.c.proof_auto_approve_bp)


async def proof_settings(conn: AsyncConnection, business_id: uuid.UUID, *,
                         lock: bool = False) -> RowMapping:
    """``lock`` holds the business row for the transaction (a change reads its "before")."""
    stmt = select(*PROOF_SETTINGS).where(businesses.c.id == business_id)
    return (await conn.execute(stmt.with_for_update() if lock else stmt)).mappings().one()


async def write_proof_settings(conn: AsyncConnection, business_id: uuid.UUID,
                               values: dict[str, Any]) -> None:
    await conn.execute(update(businesses).where(businesses.c.id == business_id)
                       .values(**values))


# --- methods ----------------------------------------------------------------------------------

async def insert_method(conn: AsyncConnection, values: dict[str, Any]) -> RowMapping | None:
    """The new method, or None if the business already has one with that code."""
    try:
        async with conn.begin_nested():
            return (await conn.execute(insert(methods).values(**values).returning(*methods.c))
                    ).mappings().one()
    except IntegrityError:
        return None


async def list_methods(conn: AsyncConnection, business_id: uuid.UUID) -> list[RowMapping]:
    stmt = (select(methods).where(methods.c.business_id == business_id)
            .order_by(methods.c.position, methods.c.created_at))
    return list((await conn.execute(stmt)).mappings())


async def load_method(conn: AsyncConnection, business_id: uuid.UUID,
                      method_id: uuid.UUID, *, lock: bool = False) -> RowMapping | None:
    stmt = select(methods).where(methods.c.business_id == business_id,
                                 methods.c.id == method_id)
    return (await conn.execute(stmt.with_for_update() if lock else stmt)).mappings().first()


async def method_by_code(conn: AsyncConnection, business_id: uuid.UUID, code: str, *,
                         share_lock: bool = False) -> RowMapping | None:
    """``share_lock``: FOR SHARE on PostgreSQL (orders share it; a delete waits for them and
    then sees their manual payments)."""
    stmt = select(methods).where(methods.c.business_id == business_id, methods.c.code == code)
    if share_lock:
        stmt = stmt.with_for_update(read=True)
    return (await conn.execute(stmt)).mappings().first()


async def update_method(conn: AsyncConnection, method_id: uuid.UUID,
                        values: dict[str, Any]) -> RowMapping:
    stmt = (update(methods).where(methods.c.id == method_id).values(**values)
            .returning(*methods.c))
    return (await conn.execute(stmt)).mappings().one()


async def method_in_use(conn: AsyncConnection, method_id: uuid.UUID) -> bool:
    """Whether any order was shown this method (its manual payment keeps a reference)."""
    stmt = select(manual_payments.c.id).where(manual_payments.c.method_id == method_id).limit(1)
    return (await conn.execute(stmt)).first() is not None


async def delete_method(conn: AsyncConnection, method_id: uuid.UUID) -> None:
    await conn.execute(delete(methods).where(methods.c.id == method_id))


# --- an order's manual payment ---------------------------------------------------------------

async def insert_manual_payment(conn: AsyncConnection, values: dict[str, Any]) -> bool:
    """Insert it; False if its reference is taken in this business (the caller draws another).
    A savepoint keeps the transaction usable after the refused INSERT."""
    try:
        async with conn.begin_nested():
            await conn.execute(insert(manual_payments).values(**values))
    except IntegrityError:
        return False
    return True


async def manual_payment_of_order(conn: AsyncConnection, business_id: uuid.UUID,
                                  order_id: uuid.UUID) -> RowMapping | None:
    stmt = select(manual_payments).where(manual_payments.c.business_id == business_id,
                                         manual_payments.c.order_id == order_id)
    return (await conn.execute(stmt)).mappings().first()


async def write_manual_payment(conn: AsyncConnection, manual_payment_id: uuid.UUID,
                               values: dict[str, Any]) -> None:
    await conn.execute(update(manual_payments)
                       .where(manual_payments.c.id == manual_payment_id).values(**values))


async def count_submission(conn: AsyncConnection, manual_payment_id: uuid.UUID,
                           now: datetime) -> int:
    """One more proof sent: its version number (one statement, under the order's lock)."""
    stmt = (update(manual_payments).where(manual_payments.c.id == manual_payment_id)
            .values(proofs_submitted=manual_payments.c.proofs_submitted + 1,
                    status="in_review", updated_at=now)
            .returning(manual_payments.c.proofs_submitted))
    return int((await conn.execute(stmt)).scalar_one())


async def count_change_submission(conn: AsyncConnection, manual_payment_id: uuid.UUID,
                                  now: datetime) -> int:
    """One more proof sent for a change of the (paid) order: its version number, leaving the
    order's own payment status alone (one statement, under the order's lock)."""
    stmt = (update(manual_payments).where(manual_payments.c.id == manual_payment_id)
            .values(proofs_submitted=manual_payments.c.proofs_submitted + 1, updated_at=now)
            .returning(manual_payments.c.proofs_submitted))
    return int((await conn.execute(stmt)).scalar_one())
