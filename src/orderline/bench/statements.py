"""Count the SQL one service call sends, for ``orderline bench``.

Statements are counted with SQLAlchemy's ``before_cursor_execute`` event, grouped by pool
checkout (one checkout is one ``db.write()`` or ``db.read()`` block). BEGIN, COMMIT and
ROLLBACK are not cursor executes, so they are counted apart through the ``begin``, ``commit``
and ``rollback`` events; so are the checkouts, because the engine pings the server on each
(``pool_pre_ping``), which costs round trips no statement event shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass
class StatementCount:
    """What the engine was asked to do while counting."""

    per_checkout: list[list[str]] = field(default_factory=list)
    # Each statement as sent, with its parameters (for replaying it, e.g. with pgbench).
    executed: list[tuple[str, Any]] = field(default_factory=list)
    begins: int = 0
    commits: int = 0
    rollbacks: int = 0

    @property
    def statements(self) -> list[str]:
        return [s for group in self.per_checkout for s in group]

    @property
    def checkouts(self) -> int:
        return len(self.per_checkout)

    def holding(self, table: str) -> int | None:
        """How many statements were sent while a row of ``table`` was locked: from the first
        UPDATE of it (alone, or in a CTE) to the end of its pool checkout, whose COMMIT
        follows; None if nothing updated it. For a hot row (a flash sale's stock level),
        every buyer waits for those statements and the COMMIT."""
        for group in self.per_checkout:
            for i, sql in enumerate(group):
                if sql.startswith(f"UPDATE {table} ") or f"AS (UPDATE {table} " in sql:
                    return len(group) - i
        return None

    def as_dict(self) -> dict[str, object]:
        return {"statements": len(self.statements),
                "holding_stock_row": self.holding("stock_levels"),
                "per_checkout": [len(g) for g in self.per_checkout],
                "pool_checkouts": self.checkouts, "begins": self.begins,
                "commits": self.commits, "rollbacks": self.rollbacks,
                "sql": self.statements}


def one_line(sql: str) -> str:
    return " ".join(sql.split())


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[StatementCount]:
    """Count what ``engine`` executes inside the ``with`` block (one caller at a time)."""
    count = StatementCount()
    sync_engine = engine.sync_engine

    def on_checkout(*_: Any) -> None:
        count.per_checkout.append([])

    def on_cursor_execute(_conn: Any, _cursor: Any, statement: str, parameters: Any,
                          *_: Any) -> None:
        if not count.per_checkout:  # a connection checked out before counting began
            count.per_checkout.append([])
        count.per_checkout[-1].append(one_line(statement))
        count.executed.append((statement, parameters))

    def on_begin(_conn: Any) -> None:
        count.begins += 1

    def on_commit(_conn: Any) -> None:
        count.commits += 1

    def on_rollback(_conn: Any) -> None:
        count.rollbacks += 1

    listeners: list[tuple[Any, str, Any]] = [
        (sync_engine.pool, "checkout", on_checkout),
        (sync_engine, "before_cursor_execute", on_cursor_execute),
        (sync_engine, "begin", on_begin),
        (sync_engine, "commit", on_commit),
        (sync_engine, "rollback", on_rollback)]
    for target, name, fn in listeners:
        event.listen(target, name, fn)
    try:
        yield count
    finally:
        for target, name, fn in listeners:
            event.remove(target, name, fn)
