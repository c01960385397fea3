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
            subprocess.run([*self.run_as, str(postgres_program("pg_ctl")), "-D",
                            str(self.cluster_dir / "data"),
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


def postgres_program(name: str) -> str | None:
    """A PostgreSQL server program (``initdb``, ``pg_ctl``, ``pg_basebackup``): on PATH, else
    in Debian's /usr/lib/postgresql/<version>/bin (the newest)."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                      key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                      else 0)
    return str(versions[-1]) if versions else None


def _cluster_user() -> list[str] | None:
    """The prefix that runs the server programs: none, or ``runuser -u postgres --`` as root
    (initdb refuses to run as root); None when root has no 'postgres' user to run them as."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"] if _has_user("postgres") else None


def _cluster_folder(run_as: list[str]) -> Path:
    base = Path(tempfile.mkdtemp(prefix="orderline-pg-"))
    if run_as:
        shutil.chown(base, "postgres")
    return base


def _pg_ctl_start(run_as: list[str], data: Path, log: Path, port: int, socket_dir: Path,
                  *options: str) -> None:
    subprocess.run([*run_as, str(postgres_program("pg_ctl")), "-D", str(data), "-l", str(log),
                    "-w", "-o", " ".join([f"-p {port} -k {socket_dir}",
                                          "-c listen_addresses=127.0.0.1", *options]),
                    "start"], check=True, capture_output=True)


def _start_cluster() -> PostgresServer | None:
    """initdb + pg_ctl into a temporary folder on a free port (as 'postgres' when root)."""
    if not (postgres_program("pg_ctl") and postgres_program("initdb")):
        return None
    run_as = _cluster_user()
    if run_as is None:
        return None
    base = _cluster_folder(run_as)
    data = base / "data"
    port = _free_port()
    subprocess.run([*run_as, str(postgres_program("initdb")), "-D", str(data), "-U", "postgres",
                    "--auth=trust", "-E", "UTF8"], check=True, capture_output=True)
    _pg_ctl_start(run_as, data, base / "log", port, base, "-c max_connections=300")
    return PostgresServer(f"postgresql://postgres@127.0.0.1:{port}/postgres", cluster_dir=base,
                          run_as=run_as)


@dataclass
class ReplicatedPair:
    """A throw-away primary and its streaming replica (``pg_basebackup -R``), each on its own
    free port, in one temporary folder; ``stop`` ends both and deletes the folder."""

    primary: PostgresServer
    replica_url: str  # the replica's maintenance database
    base: Path
    replica_port: int
    run_as: list[str]

    @property
    def _replica_data(self) -> Path:
        return self.base / "replica"

    def stop_replica(self) -> None:
        subprocess.run([*self.run_as, str(postgres_program("pg_ctl")), "-D",
                        str(self._replica_data), "-m", "fast", "-w", "stop"],
                       check=True, capture_output=True)

    def start_replica(self) -> None:
        _pg_ctl_start(self.run_as, self._replica_data, self.base / "replica.log",
                      self.replica_port, self.base, *_PAIR_OPTIONS)

    def stop(self) -> None:
        subprocess.run([*self.run_as, str(postgres_program("pg_ctl")), "-D",
                        str(self._replica_data), "-m", "immediate", "stop"],
                       capture_output=True, check=False)
        self.primary.stop()  # and deletes the folder


# Streaming replication's defaults (wal_level=replica, max_wal_senders, hot_standby) are
# named anyway; a replica needs max_connections at least the primary's.
_PAIR_OPTIONS = ("-c wal_level=replica", "-c max_wal_senders=4", "-c hot_standby=on",
                 "-c max_connections=100", "-c fsync=off")


def start_replicated_pair() -> ReplicatedPair | None:
    """initdb a primary, pg_basebackup -R a replica of it, start both (None without the
    programs, or as root without a 'postgres' user)."""
    programs = ("initdb", "pg_ctl", "pg_basebackup")
    if not all(postgres_program(name) for name in programs):
        return None
    run_as = _cluster_user()
    if run_as is None:
        return None
    base = _cluster_folder(run_as)
    primary_port, replica_port = _free_port(), _free_port()
    while replica_port == primary_port:
        replica_port = _free_port()
    primary = PostgresServer(f"postgresql://postgres@127.0.0.1:{primary_port}/postgres",
                             cluster_dir=base, run_as=run_as)
    pair = ReplicatedPair(primary=primary, base=base, replica_port=replica_port, run_as=run_as,
                          replica_url=f"postgresql://postgres@127.0.0.1:{replica_port}/postgres")
    try:
        # initdb --auth=trust also trusts replication connections from 127.0.0.1.
        subprocess.run([*run_as, str(postgres_program("initdb")), "-D", str(base / "data"),
                        "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
                       check=True, capture_output=True)
        _pg_ctl_start(run_as, base / "data", base / "log", primary_port, base, *_PAIR_OPTIONS)
        subprocess.run([*run_as, str(postgres_program("pg_basebackup")), "-h", "127.0.0.1",
                        "-p", str(primary_port), "-U", "postgres", "-D", str(base / "replica"),
                        "-R", "-X", "stream", "-c", "fast", "--no-sync"],
                       check=True, capture_output=True)
        pair.start_replica()
    except BaseException:
        pair.stop()
        raise
    return pair


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


def database_exists(admin_url: str, name: str) -> bool:
    """Whether the server at ``admin_url`` has a database ``name`` (a bench drops its own)."""
    async def look() -> bool:
        conn = await asyncpg.connect(driver_free_url(admin_url))
        try:
            return bool(await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name))
        finally:
            await conn.close()

    return asyncio.run(look())
