"""The hottest statements sent straight to asyncpg, inside SQLAlchemy's transaction.

A statement run through ``AsyncConnection.execute`` costs about 0.1 ms of CPU in SQLAlchemy
before and after the round trip (execution context, parameter processing, a greenlet switch
each way, the cursor and result objects): more than asyncpg spends on the round trip itself
(docs/benchmarks.md, "Statements sent straight to asyncpg"). ``execute`` here compiles a Core
statement once per dialect, processes its parameters as SQLAlchemy would (its bind
processors: JSON text, UTC timestamps), and sends it with asyncpg's ``fetch`` on the
connection SQLAlchemy holds, in the transaction SQLAlchemy began: BEGIN is sent first if this
is the transaction's first statement, exactly as SQLAlchemy's adapter does, and COMMIT or
ROLLBACK stay SQLAlchemy's. A database error is raised as the SQLAlchemy exception
``conn.execute`` would raise (``IntegrityError``, ``DBAPIError`` with the SQLSTATE), so
retries and refusals read it alike. Listeners of ``before_cursor_execute`` (the bench's
statement counts) see the statement too.

Rows come back as ``Rows``: mappings by column name (asyncpg's records, or SQLAlchemy's row
mappings on SQLite, where ``execute`` is ``conn.execute``). Values are what SQLAlchemy gives on
the same connection: asyncpg decodes them in both cases, and the only result processing the
schema has (``UTCDateTime``) leaves asyncpg's UTC timestamps as they are.

Statements with expanding parameters (``IN`` lists) are not sent this way: they are compiled
anew for each length of list, so they go through ``conn.execute``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import exc
from sqlalchemy.engine import Dialect, RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

# A row by column name: asyncpg's Record on PostgreSQL, SQLAlchemy's RowMapping on SQLite;
# typed as the latter, whose reading by name both share.
Row = RowMapping


class Rows:
    """The rows a statement answered, by column name."""

    __slots__ = ("_rows",)

    def __init__(self, rows: Sequence[Row]) -> None:
        self._rows = rows

    def __iter__(self) -> Iterator[Row]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def first(self) -> Row | None:
        return self._rows[0] if self._rows else None

    def one(self) -> Row:
        if not self._rows:
            raise exc.NoResultFound("No row was found when one was required")
        if len(self._rows) > 1:
            raise exc.MultipleResultsFound("Multiple rows were found when one was required")
        return self._rows[0]

    def all(self) -> list[Row]:
        return list(self._rows)

    def scalar(self) -> Any:
        """The first column of the first row; None when there is no row."""
        if not self._rows:
            return None
        return next(iter(self._rows[0].values()))

    def scalars(self) -> list[Any]:
        return [next(iter(row.values())) for row in self._rows]


class _Compiled:
    """A statement as asyncpg takes it: its SQL with ``$n`` placeholders, and how to turn a
    parameter dict into its positional arguments."""

    __slots__ = ("compiled", "defaults", "names", "processors", "sql")

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        compiled = cast(ClauseElement, statement).compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        if compiled.positiontup is None or "POSTCOMPILE" in compiled.string:
            raise ValueError("only statements with fixed positional parameters go direct")
        self.compiled = compiled
        self.sql = compiled.string
        self.names = tuple(compiled.positiontup)
        placeholders = {int(n) for n in re.findall(r"\$(\d+)", self.sql)}
        if placeholders != set(range(1, len(self.names) + 1)):
            raise ValueError(f"placeholders {sorted(placeholders)} for {len(self.names)} "
                             "parameters")
        # Columns whose value SQLAlchemy works out in Python when none is given (a scalar or
        # callable default on INSERT, an ``onupdate`` on UPDATE): worked out here alike.
        self.defaults: tuple[tuple[str, Any], ...] = (
            *((c.key, c.default) for c in compiled.insert_prefetch),
            *((c.key, c.onupdate) for c in compiled.update_prefetch))
        bind = compiled._bind_processors
        self.processors = tuple(cast(Callable[[Any], Any] | None, bind.get(name))
                                for name in self.names)

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        values = self.compiled.construct_params(params, _check=True)
        for key, default in self.defaults:
            if key not in params:
                values[key] = default.arg if default.is_scalar else default.arg(None)
        out = []
        for name, process in zip(self.names, self.processors, strict=True):
            value = values[name]
            out.append(value if process is None or value is None else process(value))
        return out


_COMPILED: dict[int, tuple[Executable, _Compiled]] = {}


def _compiled(statement: Executable, dialect: Dialect) -> _Compiled:
    # By identity: the stores build each statement once, as a module constant (the statement
    # is kept beside its compiled form, so its id is never reused while cached).
    found = _COMPILED.get(id(statement))
    if found is None or found[0] is not statement:
        found = (statement, _Compiled(statement, dialect))
        _COMPILED[id(statement)] = found
    return found[1]


async def execute(conn: AsyncConnection, statement: Executable,
                  params: Mapping[str, Any]) -> Rows:
    """Run ``statement`` (built once, with bound parameters) in ``conn``'s transaction."""
    if conn.dialect.name != "postgresql":
        result = await conn.execute(statement, dict(params))
        return Rows(result.mappings().all() if result.returns_rows else [])
    compiled = _compiled(statement, conn.dialect)
    arguments = compiled.arguments(params)
    sync = conn.sync_connection
    assert sync is not None
    if sync._has_events or sync.engine._has_events:
        sync.dispatch.before_cursor_execute(sync, None, compiled.sql, arguments, None, False)
    adapted: Any = sync.connection.dbapi_connection  # SQLAlchemy's asyncpg adapter
    async with adapted._execute_mutex:
        try:
            if adapted._transaction is None:
                await adapted._start_transaction()  # BEGIN, unless in autocommit
            found = await adapted._connection.fetch(compiled.sql, *arguments)
            return Rows(cast(Sequence[Row], found))
        except exc.DBAPIError:
            raise
        except Exception as error:
            raise _translated(sync, adapted, error, compiled.sql, arguments) from error


def _translated(sync: Any, adapted: Any, error: Exception, sql: str,
                arguments: list[Any]) -> Exception:
    """The SQLAlchemy exception ``conn.execute`` raises for this asyncpg error; a connection
    that died is invalidated, as SQLAlchemy does, so the retry takes another."""
    try:
        adapted._handle_exception(error)  # raises the DB-API error it maps to
    except Exception as dbapi_error:
        dialect = sync.dialect
        if not isinstance(dbapi_error, dialect.loaded_dbapi.Error):
            return dbapi_error
        invalidated = bool(dialect.is_disconnect(dbapi_error, adapted, None))
        if invalidated:
            sync.invalidate(dbapi_error)
        return cast(Exception, exc.DBAPIError.instance(
            sql, arguments, dbapi_error, dialect.loaded_dbapi.Error,
            connection_invalidated=invalidated, dialect=dialect))
    return error  # not reached: _handle_exception always raises
