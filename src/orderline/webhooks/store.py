"""SQL of merchant webhooks: endpoints, the deliveries queue and its attempts.

The sender claims due deliveries with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (so several
workers never wait on each other, nor take the same row) and, in the same transaction,
pushes each claimed delivery's ``next_attempt_at`` past the attempt's time limit: that is its
lease. A worker that dies mid-send leaves the delivery to be tried again once the lease ends.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    case,
    delete,
    false,
    func,
    insert,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.db.insert import insert_ignoring_conflict
from orderline.core.db.tables import table_of
from orderline.tenancy.tables import Business
from orderline.webhooks.rules import DUE_STATUSES, REPLAYABLE_STATUSES, DeliveryStatus
from orderline.webhooks.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint

endpoints = table_of(WebhookEndpoint)
deliveries = table_of(WebhookDelivery)
attempts = table_of(WebhookAttempt)
businesses = table_of(Business)

# What callers see of an endpoint: everything but the signing secrets and the business.
ENDPOINT_VIEW = [c for c in endpoints.c
                 if c.name not in ("secret", "previous_secret", "business_id")]
DELIVERY_VIEW = [c for c in deliveries.c if c.name not in ("business_id", "body")]
ATTEMPT_VIEW = [attempts.c.delivery_id, attempts.c.attempt, attempts.c.started_at,
                attempts.c.status_code, attempts.c.latency_ms, attempts.c.error,
                attempts.c.succeeded]


async def insert_endpoint(conn: AsyncConnection, values: dict[str, Any]) -> RowMapping:
    stmt = insert(endpoints).values(**values).returning(*ENDPOINT_VIEW)
    return (await conn.execute(stmt)).mappings().one()


async def list_endpoints(conn: AsyncConnection, business_id: uuid.UUID) -> list[RowMapping]:
    stmt = (select(*ENDPOINT_VIEW).where(endpoints.c.business_id == business_id)
            .order_by(endpoints.c.created_at, endpoints.c.id))
    return list((await conn.execute(stmt)).mappings())


async def get_endpoint(conn: AsyncConnection, business_id: uuid.UUID,
                       endpoint_id: uuid.UUID) -> RowMapping | None:
    stmt = select(*ENDPOINT_VIEW).where(endpoints.c.business_id == business_id,
                                        endpoints.c.id == endpoint_id)
    return (await conn.execute(stmt)).mappings().first()


async def lock_endpoint(conn: AsyncConnection, business_id: uuid.UUID,
                        endpoint_id: uuid.UUID) -> RowMapping | None:
    """The endpoint held for this transaction, its current secret and expiry included (for
    the audit log, which redacts the secret: it only records that it changed)."""
    stmt = (select(*ENDPOINT_VIEW, endpoints.c.secret)
            .where(endpoints.c.business_id == business_id, endpoints.c.id == endpoint_id)
            .with_for_update())
    return (await conn.execute(stmt)).mappings().first()


async def delete_endpoint(conn: AsyncConnection, business_id: uuid.UUID,
                          endpoint_id: uuid.UUID) -> RowMapping | None:
    """Delete an endpoint with its deliveries and their attempts (ON DELETE CASCADE)."""
    stmt = (delete(endpoints)
            .where(endpoints.c.business_id == business_id, endpoints.c.id == endpoint_id)
            .returning(*ENDPOINT_VIEW))
    return (await conn.execute(stmt)).mappings().first()


async def enable_endpoint(conn: AsyncConnection, business_id: uuid.UUID,
                          endpoint_id: uuid.UUID, now: datetime) -> RowMapping | None:
    """Switch an endpoint on with a clean failure count; what waited for it is due at once."""
    stmt = (update(endpoints)
            .where(endpoints.c.business_id == business_id, endpoints.c.id == endpoint_id)
            .values(enabled=True, disabled_at=None, disabled_reason=None,
                    consecutive_failures=0, updated_at=now)
            .returning(*ENDPOINT_VIEW))
    row = (await conn.execute(stmt)).mappings().first()
    if row is not None:
        await conn.execute(update(deliveries)
                           .where(deliveries.c.endpoint_id == endpoint_id,
                                  deliveries.c.status.in_(DUE_STATUSES),
                                  deliveries.c.next_attempt_at > now)
                           .values(next_attempt_at=now, updated_at=now))
    return row


async def rotate_secret(conn: AsyncConnection, business_id: uuid.UUID, endpoint_id: uuid.UUID,
                        *, secret: str, previous_expires_at: datetime | None,
                        now: datetime) -> RowMapping | None:
    """Make ``secret`` the endpoint's signing secret, keeping the current one as the previous
    until ``previous_expires_at`` (None: dropped at once). One statement: its right-hand side
    reads the row as it was, so the current secret (never an older one) becomes the previous,
    and two rotations at once are serialised by the row lock."""
    previous = endpoints.c.secret if previous_expires_at is not None else None
    stmt = (update(endpoints)
            .where(endpoints.c.business_id == business_id, endpoints.c.id == endpoint_id)
            .values(secret=secret, previous_secret=previous,
                    previous_secret_expires_at=previous_expires_at, updated_at=now)
            .returning(*ENDPOINT_VIEW))
    return (await conn.execute(stmt)).mappings().first()


# Run for every event the relay handles: built once, executed with a parameter.
_ENABLED_ENDPOINTS = (select(endpoints.c.id, endpoints.c.event_types)
                      .where(endpoints.c.business_id == bindparam("business_id"),
                             endpoints.c.enabled == true()))


async def enabled_endpoints(conn: AsyncConnection, business_id: uuid.UUID) -> list[RowMapping]:
    """The endpoints an event of this business may go to (the fan-out filters by type)."""
    result = await conn.execute(_ENABLED_ENDPOINTS, {"business_id": business_id})
    return list(result.mappings())


async def queue_delivery(conn: AsyncConnection, values: dict[str, Any]) -> bool:
    """One delivery per (endpoint, event): a second fan-out of the same event adds nothing."""
    return await insert_ignoring_conflict(conn, deliveries, values)


def _due(columns: Sequence[Any], now: datetime) -> Select[Any]:
    """Deliveries whose time has come, of enabled endpoints (a disabled one's wait)."""
    return (select(*columns)
            .join(endpoints, endpoints.c.id == deliveries.c.endpoint_id)
            .where(deliveries.c.status.in_(DUE_STATUSES),
                   deliveries.c.next_attempt_at <= now,
                   endpoints.c.enabled == true()))


async def any_due(conn: AsyncConnection, now: datetime) -> bool:
    """A cheap read first, so an idle sender does not take SQLite's write lock each round."""
    stmt = _due([deliveries.c.id], now).limit(1)
    return (await conn.execute(stmt)).first() is not None


async def claim_due(conn: AsyncConnection, *, now: datetime, lease_until: datetime,
                    limit: int) -> list[RowMapping]:
    """Take up to ``limit`` due deliveries of enabled endpoints, leasing them until
    ``lease_until``; each row has what sending needs (URL, secrets, development mode)."""
    stmt = (_due([deliveries.c.id, deliveries.c.business_id, deliveries.c.endpoint_id,
                  deliveries.c.event_id, deliveries.c.body, deliveries.c.attempts,
                  endpoints.c.url, endpoints.c.secret, endpoints.c.previous_secret,
                  endpoints.c.previous_secret_expires_at, businesses.c.development_mode], now)
            .join(businesses, businesses.c.id == deliveries.c.business_id)
            .order_by(deliveries.c.next_attempt_at)
            .limit(limit))
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=deliveries)
    rows = list((await conn.execute(stmt)).mappings())
    if rows:
        await conn.execute(update(deliveries)
                           .where(deliveries.c.id.in_([r["id"] for r in rows]))
                           .values(next_attempt_at=lease_until))
    return rows


async def lock_delivery(conn: AsyncConnection, delivery_id: uuid.UUID) -> RowMapping | None:
    stmt = select(deliveries.c.id, deliveries.c.status, deliveries.c.attempts).where(
        deliveries.c.id == delivery_id)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return (await conn.execute(stmt)).mappings().first()


async def add_attempt(conn: AsyncConnection, values: dict[str, Any]) -> int:
    """Record one attempt; attempts are numbered 1, 2, 3... over the delivery's whole life
    (a replay goes on counting). Returns the attempt's number."""
    last = (await conn.execute(select(func.coalesce(func.max(attempts.c.attempt), 0))
                               .where(attempts.c.delivery_id == values["delivery_id"])))
    number = int(last.scalar_one()) + 1
    await conn.execute(insert(attempts).values(**values, attempt=number))
    return number


async def mark_succeeded(conn: AsyncConnection, delivery_id: uuid.UUID, *, status_code: int,
                         now: datetime) -> None:
    await conn.execute(update(deliveries)
                       .where(deliveries.c.id == delivery_id,
                              deliveries.c.status.in_(DUE_STATUSES))
                       .values(status=DeliveryStatus.SUCCEEDED.value,
                               attempts=deliveries.c.attempts + 1,
                               last_status_code=status_code, last_error=None,
                               succeeded_at=now, updated_at=now, next_attempt_at=now))


async def mark_failed(conn: AsyncConnection, delivery_id: uuid.UUID, *, claimed_attempts: int,
                      status: DeliveryStatus, next_attempt_at: datetime,
                      status_code: int | None, error: str | None, now: datetime) -> None:
    """Record a failed try, only if nobody replayed or re-took the delivery meanwhile."""
    await conn.execute(update(deliveries)
                       .where(deliveries.c.id == delivery_id,
                              deliveries.c.status.in_(DUE_STATUSES),
                              deliveries.c.attempts == claimed_attempts)
                       .values(status=status.value, attempts=claimed_attempts + 1,
                               next_attempt_at=next_attempt_at, last_status_code=status_code,
                               last_error=error, updated_at=now,
                               dead_at=now if status == DeliveryStatus.DEAD else None))


async def count_endpoint_failure(conn: AsyncConnection, endpoint_id: uuid.UUID,
                                 now: datetime) -> RowMapping | None:
    """One more failed attempt in a row; returns the new count and whether it is enabled."""
    stmt = (update(endpoints).where(endpoints.c.id == endpoint_id)
            .values(consecutive_failures=endpoints.c.consecutive_failures + 1, updated_at=now)
            .returning(endpoints.c.consecutive_failures, endpoints.c.enabled))
    return (await conn.execute(stmt)).mappings().first()


async def reset_endpoint_failures(conn: AsyncConnection, endpoint_id: uuid.UUID,
                                  now: datetime) -> None:
    await conn.execute(update(endpoints)
                       .where(endpoints.c.id == endpoint_id,
                              endpoints.c.consecutive_failures != 0)
                       .values(consecutive_failures=0, updated_at=now))


async def disable_endpoint(conn: AsyncConnection, endpoint_id: uuid.UUID, *, reason: str,
                           now: datetime) -> RowMapping | None:
    """Switch an enabled endpoint off; None when it already was (so only one worker
    announces it)."""
    stmt = (update(endpoints)
            .where(endpoints.c.id == endpoint_id, endpoints.c.enabled == true())
            .values(enabled=False, disabled_at=now, disabled_reason=reason[:300],
                    updated_at=now)
            .returning(endpoints.c.business_id, *ENDPOINT_VIEW))
    return (await conn.execute(stmt)).mappings().first()


async def replay(conn: AsyncConnection, business_id: uuid.UUID, endpoint_id: uuid.UUID,
                 delivery_id: uuid.UUID, now: datetime) -> bool:
    """Queue a dead or retrying delivery again at once, with a fresh set of attempts."""
    stmt = (update(deliveries)
            .where(deliveries.c.business_id == business_id,
                   deliveries.c.endpoint_id == endpoint_id, deliveries.c.id == delivery_id,
                   deliveries.c.status.in_(REPLAYABLE_STATUSES))
            .values(status=DeliveryStatus.PENDING.value, attempts=0, next_attempt_at=now,
                    dead_at=None, updated_at=now)
            .returning(deliveries.c.id))
    return (await conn.execute(stmt)).first() is not None


async def get_delivery(conn: AsyncConnection, business_id: uuid.UUID, endpoint_id: uuid.UUID,
                       delivery_id: uuid.UUID) -> RowMapping | None:
    stmt = select(*DELIVERY_VIEW, deliveries.c.body).where(
        deliveries.c.business_id == business_id, deliveries.c.endpoint_id == endpoint_id,
        deliveries.c.id == delivery_id)
    return (await conn.execute(stmt)).mappings().first()


async def list_deliveries(conn: AsyncConnection, business_id: uuid.UUID, *,
                          endpoint_id: uuid.UUID | None, status: str | None, limit: int,
                          before: tuple[datetime, uuid.UUID] | None) -> list[RowMapping]:
    """Newest first; ``before`` is the (created_at, id) of the last row of the page before."""
    stmt = select(*DELIVERY_VIEW).where(deliveries.c.business_id == business_id)
    if endpoint_id is not None:
        stmt = stmt.where(deliveries.c.endpoint_id == endpoint_id)
    if status is not None:
        stmt = stmt.where(deliveries.c.status == status)
    if before is not None:
        stmt = stmt.where(tuple_(deliveries.c.created_at, deliveries.c.id) < before)
    stmt = stmt.order_by(deliveries.c.created_at.desc(), deliveries.c.id.desc()).limit(limit)
    return list((await conn.execute(stmt)).mappings())


async def attempts_of(conn: AsyncConnection,
                      delivery_ids: Sequence[uuid.UUID]) -> list[RowMapping]:
    if not delivery_ids:
        return []
    stmt = (select(*ATTEMPT_VIEW).where(attempts.c.delivery_id.in_(delivery_ids))
            .order_by(attempts.c.delivery_id, attempts.c.id))
    return list((await conn.execute(stmt)).mappings())


async def prune_finished(conn: AsyncConnection, *, older_than: datetime,
                         limit: int = 5000) -> int:
    """Delete succeeded and dead deliveries created before ``older_than`` (their attempts go
    with them); a batch at a time."""
    victims = (select(deliveries.c.id)
               .where(deliveries.c.status.in_([DeliveryStatus.SUCCEEDED.value,
                                               DeliveryStatus.DEAD.value]),
                      deliveries.c.created_at < older_than)
               .limit(limit).scalar_subquery())
    result = await conn.execute(delete(deliveries).where(deliveries.c.id.in_(victims)))
    return int(result.rowcount)


@dataclass(frozen=True, slots=True)
class WebhookHealth:
    """The business's endpoints that fail (enabled, failing in a row now) or were disabled,
    and its deliveries that wait for another try or died."""

    endpoints: int
    endpoints_failing: int
    endpoints_disabled: int
    deliveries_retrying: int
    deliveries_dead: int


async def health(conn: AsyncConnection, business_id: uuid.UUID) -> WebhookHealth:
    """Two aggregate statements: the endpoints by state, and the deliveries retrying or dead
    by status (through ``ix_webhook_deliveries_due``, whose status comes first: those are
    few, and finished deliveries are pruned after their retention)."""
    failing = and_(endpoints.c.enabled == true(), endpoints.c.consecutive_failures > 0)
    ends = (await conn.execute(select(
        func.count().label("endpoints"),
        func.coalesce(func.sum(case((failing, 1), else_=0)), 0).label("failing"),
        func.coalesce(func.sum(case((endpoints.c.enabled == false(), 1), else_=0)), 0)
        .label("disabled"))
        .where(endpoints.c.business_id == business_id))).one()
    unfinished = (DeliveryStatus.RETRYING.value, DeliveryStatus.DEAD.value)
    by_status = {r.status: int(r.n) for r in await conn.execute(
        select(deliveries.c.status, func.count().label("n"))
        .where(deliveries.c.business_id == business_id, deliveries.c.status.in_(unfinished))
        .group_by(deliveries.c.status))}
    return WebhookHealth(endpoints=int(ends.endpoints), endpoints_failing=int(ends.failing),
                         endpoints_disabled=int(ends.disabled),
                         deliveries_retrying=by_status.get(DeliveryStatus.RETRYING.value, 0),
                         deliveries_dead=by_status.get(DeliveryStatus.DEAD.value, 0))
