"""Find a PostgreSQL server for the test run, or start a throw-away one.

Order: ``ORDERLINE_TEST_DATABASE_URL``; else 127.0.0.1:5432 (trust auth); else a cluster made
with the ``initdb``/``pg_ctl`` on PATH in a temporary folder. Each run then creates its own
fresh database on that server and drops it at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest

from orderline.core.config import Settings, driver_free_url
from orderline.core.runtime import Runtime
from orderline.schema.migrate import upgrade_to_head
from orderline.wiring import build_runtime


@dataclass
class PostgresServer:
    admin_url: str  # a URL of the server's maintenance database
    cluster_dir: Path | None = None
    run_as: list[str] = field(default_factory=list)

    def stop(self) -> None:
        if self.cluster_dir is not None:
            subprocess.run([*self.run_as, "pg_ctl", "-D", str(self.cluster_dir / "data"),
                            "-m", "immediate", "stop"], capture_output=True, check=False)
            shutil.rmtree(self.cluster_dir, ignore_errors=True)


async def _reachable(url: str) -> bool:
    try:
        conn = await asyncpg.connect(driver_free_url(url), timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_cluster() -> PostgresServer | None:
    """initdb + pg_ctl into a temporary folder on a free port (as 'postgres' when root)."""
    if not (shutil.which("pg_ctl") and shutil.which("initdb")):
        return None
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        if not _has_user("postgres"):
            return None
        run_as = ["runuser", "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="orderline-pg-"))
    if run_as:
        shutil.chown(base, "postgres")
    data = base / "data"
    port = _free_port()
    subprocess.run([*run_as, "initdb", "-D", str(data), "-U", "postgres", "--auth=trust",
                    "-E", "UTF8"], check=True, capture_output=True)
    subprocess.run([*run_as, "pg_ctl", "-D", str(data), "-l", str(base / "log"), "-w", "-o",
                    f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c max_connections=300",
                    "start"], check=True, capture_output=True)
    return PostgresServer(f"postgresql://postgres@127.0.0.1:{port}/postgres", cluster_dir=base,
                          run_as=run_as)


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def find_server() -> PostgresServer | None:
    given = os.environ.get("ORDERLINE_TEST_DATABASE_URL")
    if given:
        if not asyncio.run(_reachable(given)):
            raise RuntimeError(f"ORDERLINE_TEST_DATABASE_URL={given} does not answer.")
        return PostgresServer(given)
    local = "postgresql://postgres@127.0.0.1:5432/postgres"
    if asyncio.run(_reachable(local)):
        return PostgresServer(local)
    return _start_cluster()


def with_database(url: str, name: str) -> str:
    head, _, _ = driver_free_url(url).rpartition("/")
    return f"{head}/{name}"


async def _admin(server: PostgresServer, sql: str) -> None:
    conn = await asyncpg.connect(driver_free_url(server.admin_url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_database(server: PostgresServer) -> str:
    name = f"orderline_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    return with_database(server.admin_url, name)


def drop_database(server: PostgresServer, url: str) -> None:
    name = url.rpartition("/")[2]
    asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def server_or_skip(*, in_ci: bool) -> PostgresServer:
    """The server for this run; without one, skip the test (fail it when ``in_ci``)."""
    try:
        server = find_server()
    except Exception as error:  # report, then fail or skip below
        server = None
        reason = f"PostgreSQL unavailable: {error}"
    else:
        reason = "no PostgreSQL: set ORDERLINE_TEST_DATABASE_URL or put pg_ctl on PATH"
    if server is None:
        if in_ci:
            pytest.fail(reason + " (CI=true: tests needing PostgreSQL must not be skipped)")
        pytest.skip(reason)
    return server


@contextlib.contextmanager
def own_database(*, in_ci: bool) -> Iterator[str]:
    """The URL of a database of the caller's own on the run's server, dropped on the way out
    (and the server stopped, if this run started it)."""
    server = server_or_skip(in_ci=in_ci)
    url = create_database(server)
    try:
        yield url
    finally:
        drop_database(server, url)
        server.stop()


@contextlib.asynccontextmanager
async def migrated_runtime(settings: Settings) -> AsyncIterator[tuple[Runtime, asyncpg.Connection]]:
    """A runtime on ``settings``' PostgreSQL database (migrated to head here) and a plain
    asyncpg connection to the same database, as the benches use one to watch it; both are
    closed after."""
    runtime = build_runtime(settings)
    monitor: asyncpg.Connection | None = None
    try:
        await upgrade_to_head(runtime.db)
        monitor = await asyncpg.connect(driver_free_url(settings.database_url))
        yield runtime, monitor
    finally:
        if monitor is not None:
            await monitor.close()
        await runtime.close()
