"""The HTTP side of ``orderline bench``: ``orderline serve`` processes and ``POST /v1/orders``.

The server runs as a child process on a free loopback port, with its output in a temporary log
file (a pipe nobody reads could block it); it is stopped, and the log removed, on the way out
whatever happens. The same pattern serves the end-to-end tests, which ``src`` must not import.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from pydantic_core import to_json

READY_TIMEOUT_SECONDS = 180.0  # 4 fresh interpreters on a busy 2-core machine


class ServerFailed(Exception):
    """``orderline serve`` exited or never became ready."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def orderline_command() -> list[str]:
    """The ``orderline`` script beside this interpreter, else the CLI run through it."""
    script = Path(sys.executable).with_name("orderline")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from orderline.cli.main import main; main()"]


class ApiServer:
    """``orderline serve --workers N`` on 127.0.0.1; start it, wait for /readyz, stop it."""

    def __init__(self, *, database_url: str, workers: int) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "ORDERLINE_DATABASE_URL": database_url,
               "ORDERLINE_LOG_LEVEL": "WARNING", "ORDERLINE_EMBEDDED_WORKER": "false"}
        with tempfile.NamedTemporaryFile(prefix="orderline-bench-", suffix=".log",
                                         delete=False) as log:
            self.log_path = Path(log.name)
            self.process = subprocess.Popen(
                [*orderline_command(), "serve", "--host", "127.0.0.1", "--port",
                 str(self.port), "--workers", str(workers)],
                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    async def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise ServerFailed(f"orderline serve exited with {self.process.returncode}:"
                                       f"\n{self._log_tail()}")
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise ServerFailed(f"orderline serve was not ready at {self.base_url} after "
                           f"{timeout:.0f}s:\n{self._log_tail()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_path.unlink(missing_ok=True)


class OrderRefused(Exception):
    """The API answered ``POST /v1/orders`` with something other than 201."""


@dataclass(frozen=True, slots=True)
class HttpOrder:
    sku: str
    buyer_name: str
    buyer_phone: str

    def body(self) -> dict[str, Any]:
        return {"customer": {"name": self.buyer_name, "phone": self.buyer_phone},
                "channel": "web", "payment_method": "card",
                "lines": [{"sku": self.sku, "quantity": 1}]}


def api_client(base_url: str, api_key: str | None, *, connections: int) -> httpx.AsyncClient:
    """One keep-alive HTTP connection per requester, so no request waits for a socket.
    Every request carries ``api_key``; with None, each request sends its own credentials."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    headers = {} if api_key is None else {"Authorization": f"Bearer {api_key}"}
    return httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60, headers=headers)


@contextlib.asynccontextmanager
async def light_api_client(base_url: str, api_key: str | None, *,
                           connections: int) -> AsyncIterator[aiohttp.ClientSession]:
    """``api_client`` on aiohttp, whose C parts spend far less of the load generator's CPU
    per request than httpx: the load generator shares the machine's cores with the servers
    and PostgreSQL, so what it spends is taken from them (the benches' HTTP phases)."""
    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=connections)
    headers = {"Content-Type": "application/json"}
    if api_key is not None:
        headers["Authorization"] = f"Bearer {api_key}"
    async with aiohttp.ClientSession(
            base_url=base_url, connector=connector, timeout=aiohttp.ClientTimeout(total=60),
            headers=headers) as session:
        yield session


class LightOrderPlacer:
    """``HttpOrderPlacer`` on a ``light_api_client``."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def place(self, order: HttpOrder) -> None:
        async with self.session.post("/v1/orders", data=to_json(order.body())) as response:
            answer = await response.read()
            if response.status != 201:
                raise OrderRefused(f"HTTP {response.status}: {answer[:200]!r}")


class HttpOrderPlacer:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def place(self, order: HttpOrder) -> None:
        response = await self.client.post("/v1/orders", json=order.body())
        if response.status_code != 201:
            raise OrderRefused(f"HTTP {response.status_code}: {response.text[:200]}")
