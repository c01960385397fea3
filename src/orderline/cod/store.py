"""SQL for cash on delivery: a buyer's cash record, one-time codes, trust scores."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.cod.tables import CodOtp
from orderline.core.db.rows import StoredRow
from orderline.core.db.tables import table_of
from orderline.orders.rules import OrderStatus
from orderline.orders.tables import Customer, Order

otps = table_of(CodOtp)
customers = table_of(Customer)
orders = table_of(Order)

COD = "cod"
OPEN_COD_STATUSES = (OrderStatus.CONFIRMED.value, OrderStatus.PROCESSING.value,
                     OrderStatus.PARTIALLY_SHIPPED.value, OrderStatus.SHIPPED.value)


@dataclass(frozen=True, slots=True)
class BuyerRecord:
    """A customer's cash record: trust score, delivered cash orders, and cash orders still
    open (not yet collected)."""

    cod_trust_score: int
    cod_delivered: int
    open_cod_orders: int

    @classmethod
    def from_row(cls, row: RowMapping) -> Self:
        # A count may come back as another integer type (PostgreSQL's bigint, a Decimal).
        return cls(cod_trust_score=row["cod_trust_score"], cod_delivered=row["cod_delivered"],
                   open_cod_orders=int(row["open_cod_orders"]))


@dataclass(frozen=True, slots=True)
class OtpRow(StoredRow):
    """A one-time code as stored: every column of ``cod_otps``, in table order."""

    id: uuid.UUID
    business_id: uuid.UUID
    checkout_id: uuid.UUID
    phone: str
    code_hash: str
    salt: bytes
    expires_at: datetime
    attempts: int
    max_attempts: int
    verified_at: datetime | None
    consumed_at: datetime | None
    created_at: datetime


OTP_COLUMNS = OtpRow.columns()


async def buyer_record(conn: AsyncConnection, business_id: uuid.UUID,
                       customer_id: uuid.UUID, *, lock: bool = False) -> BuyerRecord:
    """Trust score, delivered cash orders, and cash orders still open (not yet collected),
    in one statement; ``lock`` holds the customer's row to COMMIT, so two cash orders of one
    customer placed at once count each other."""
    open_orders = (select(func.count()).select_from(orders)
                   .where(orders.c.customer_id == customers.c.id,
                          orders.c.payment_method == COD, orders.c.paid_at.is_(None),
                          orders.c.status.in_(OPEN_COD_STATUSES))
                   .scalar_subquery())
    stmt = select(customers.c.cod_trust_score, customers.c.cod_delivered,
                  open_orders.label("open_cod_orders")).where(
        customers.c.id == customer_id, customers.c.business_id == business_id)
    if lock:
        stmt = stmt.with_for_update(of=customers)
    return BuyerRecord.from_row((await conn.execute(stmt)).mappings().one())


async def set_trust(conn: AsyncConnection, customer_id: uuid.UUID, score: int, *,
                    delivered: bool) -> None:
    values: dict[str, Any] = {"cod_trust_score": score}
    if delivered:
        values["cod_delivered"] = customers.c.cod_delivered + 1
    await conn.execute(update(customers).where(customers.c.id == customer_id).values(**values))


async def insert_otp(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(insert(otps).values(**values))


async def latest_otp(conn: AsyncConnection, checkout_id: uuid.UUID) -> OtpRow | None:
    stmt = (select(otps).where(otps.c.checkout_id == checkout_id)
            .order_by(otps.c.created_at.desc()).limit(1).with_for_update())
    row = (await conn.execute(stmt)).mappings().first()
    return OtpRow.from_optional(row)


async def codes_sent_since(conn: AsyncConnection, checkout_id: uuid.UUID,
                           since: datetime) -> int:
    """How many codes were sent for the checkout since ``since``."""
    stmt = (select(func.count()).select_from(otps)
            .where(otps.c.checkout_id == checkout_id, otps.c.created_at > since))
    return int((await conn.execute(stmt)).scalar_one())


async def read_latest_otp(conn: AsyncConnection, checkout_id: uuid.UUID) -> OtpRow | None:
    """The checkout's newest code, read without a lock (to show its state)."""
    stmt = (select(otps).where(otps.c.checkout_id == checkout_id)
            .order_by(otps.c.created_at.desc()).limit(1))
    return OtpRow.from_optional((await conn.execute(stmt)).mappings().first())


async def write_otp(conn: AsyncConnection, otp_id: uuid.UUID, values: dict[str, Any]) -> None:
    await conn.execute(update(otps).where(otps.c.id == otp_id).values(**values))


async def consume_verified_otp(conn: AsyncConnection, checkout_id: uuid.UUID,
                               now: datetime) -> bool:
    """Use up a verified, unused code of this checkout; one statement, so one confirm only."""
    stmt = (update(otps)
            .where(otps.c.checkout_id == checkout_id, otps.c.verified_at.is_not(None),
                   otps.c.consumed_at.is_(None))
            .values(consumed_at=now).returning(otps.c.id))
    return (await conn.execute(stmt)).first() is not None
