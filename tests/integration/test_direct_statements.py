"""Statements sent straight to asyncpg (``core.db.direct``) behave as ``conn.execute`` does:
in the caller's transaction (BEGIN sent by the first of them, ROLLBACK undoing them), with
SQLAlchemy's Python defaults filled in, with the database's refusals raised as SQLAlchemy's
exceptions, and counted by the bench's statement counter. On SQLite they are
``conn.execute``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import bindparam, exc, insert, select

from orderline.bench.statements import counting
from orderline.core.db import direct
from orderline.core.db.engine import is_retryable
from orderline.core.db.insert import insert_ignoring_conflict
from orderline.core.runtime import Runtime
from orderline.orders.store import customers
from tests.conftest import new_merchant

_CUSTOMER = select(customers.c.name, customers.c.cod_trust_score).where(
    customers.c.id == bindparam("b_id"))
_INSERT_CUSTOMER = insert(customers)


class Rolled(Exception):
    pass


def _customer(business_id: uuid.UUID, name: str) -> dict[str, Any]:
    return {"id": uuid.uuid4(), "business_id": business_id, "name": name,
            "phone": f"+1 555 {uuid.uuid4().int % 10000:04d}", "email": None,
            "total_orders": 0, "total_spent": 0,
            "created_at": datetime.now(UTC)}


async def _found(runtime: Runtime, customer_id: uuid.UUID) -> dict[str, Any] | None:
    async with runtime.db.read() as conn:
        row = (await direct.execute(conn, _CUSTOMER, {"b_id": customer_id})).first()
    return None if row is None else dict(row)


async def test_a_direct_write_is_in_the_transaction_and_rolls_back_with_it(
        runtime: Runtime) -> None:
    merchant = await new_merchant(runtime)
    undone = _customer(merchant.principal.business_id, "Undone")
    with pytest.raises(Rolled):
        async with runtime.db.write() as conn:
            assert await insert_ignoring_conflict(conn, customers, undone)
            raise Rolled
    assert await _found(runtime, undone["id"]) is None
    kept = _customer(merchant.principal.business_id, "Kept")
    async with runtime.db.write() as conn:
        assert await insert_ignoring_conflict(conn, customers, kept)
        assert not await insert_ignoring_conflict(conn, customers, kept)  # a conflict
    # cod_trust_score was not given: its Python default (0) was written, as SQLAlchemy would.
    assert await _found(runtime, kept["id"]) == {"name": "Kept", "cod_trust_score": 0}


async def test_a_refusal_of_the_database_is_the_exception_sqlalchemy_raises(
        runtime: Runtime) -> None:
    merchant = await new_merchant(runtime)
    row = {**{c.name: None for c in customers.c},  # every column, as the INSERT names them
           **_customer(merchant.principal.business_id, "Twice"), "cod_trust_score": 0,
           "cod_delivered": 0}
    async with runtime.db.write() as conn:
        await direct.execute(conn, _INSERT_CUSTOMER, row)
    with pytest.raises(exc.IntegrityError) as raised:
        async with runtime.db.write() as conn:
            await direct.execute(conn, _INSERT_CUSTOMER, row)
    assert not is_retryable(raised.value)
    if runtime.db.dialect == "postgresql":
        assert raised.value.orig.sqlstate == "23505"  # type: ignore[union-attr]
    # The connection went back to the pool clean: the next transaction runs.
    assert await _found(runtime, row["id"]) == {"name": "Twice", "cod_trust_score": 0}


async def test_direct_statements_are_counted_as_any_other(runtime: Runtime) -> None:
    merchant = await new_merchant(runtime)
    row = _customer(merchant.principal.business_id, "Counted")
    with counting(runtime.db.engine) as counted:
        async with runtime.db.write() as conn:
            await insert_ignoring_conflict(conn, customers, row)
            await direct.execute(conn, _CUSTOMER, {"b_id": row["id"]})
    # (SQLite's BEGIN is a statement of its own there.)
    assert [s.split()[0] for s in counted.statements
            if not s.startswith("BEGIN")] == ["INSERT", "SELECT"]
    assert counted.begins == counted.commits == 1


async def test_a_lookup_sends_its_statement_alone(runtime: Runtime) -> None:
    merchant = await new_merchant(runtime)
    row = _customer(merchant.principal.business_id, "Looked up")
    async with runtime.db.write() as conn:
        await insert_ignoring_conflict(conn, customers, row)
    async with runtime.db.lookup() as conn:
        found = await direct.execute(conn, _CUSTOMER, {"b_id": row["id"]})
        assert found.scalar() == "Looked up" and found.scalars() == ["Looked up"]
        if runtime.db.dialect == "postgresql":  # autocommit: no BEGIN was sent
            assert conn.sync_connection.connection.dbapi_connection._transaction is None  # type: ignore[union-attr]


async def test_a_statement_of_lists_is_not_sent_direct(runtime: Runtime) -> None:
    listed = select(customers.c.id).where(
        customers.c.id.in_(bindparam("ids", expanding=True)))
    async with runtime.db.read() as conn:
        if runtime.db.dialect != "postgresql":
            assert len(await direct.execute(conn, listed, {"ids": [uuid.uuid4()]})) == 0
            return
        with pytest.raises(ValueError, match="fixed positional parameters"):
            await direct.execute(conn, listed, {"ids": [uuid.uuid4()]})
