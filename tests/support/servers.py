"""Run ``orderline serve`` / ``orderline worker`` as real processes for end-to-end tests, or an
app under uvicorn in a thread of the test's process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

ORDERLINE = str(Path(sys.executable).with_name("orderline"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(database_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "ORDERLINE_DATABASE_URL": database_url,
           "ORDERLINE_LOG_LEVEL": "WARNING", "ORDERLINE_DB_POOL_SIZE": "5"}
    env.update(extra or {})
    return env


@contextmanager
def running_server(database_url: str, *, workers: int = 1,
                   extra_env: dict[str, str] | None = None) -> Iterator[str]:
    port = free_port()
    with _process([ORDERLINE, "serve", "--port", str(port), "--workers", str(workers)],
                  _env(database_url, extra_env)) as (proc, log):
        base = f"http://127.0.0.1:{port}"
        _wait_ready(proc, base, log)
        yield base


@contextmanager
def _process(argv: list[str],
             env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """Run a process with its output in a log file (a pipe nobody reads could block it)."""
    with tempfile.NamedTemporaryFile(prefix="orderline-", suffix=".log", delete=False) as log:
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield proc, Path(log.name)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        Path(log.name).unlink(missing_ok=True)


def _wait_ready(proc: subprocess.Popen[bytes], base: str, log: Path,
                timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = log.read_text(errors="replace")
            raise RuntimeError(f"orderline serve exited with {proc.returncode}:\n{out}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"orderline serve did not become ready at {base} in {timeout}s")


@contextmanager
def running_worker(database_url: str, *, interval: float = 0.2,
                   extra_env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    with _process([ORDERLINE, "worker", "--interval", str(interval)],
                  _env(database_url, extra_env)) as (proc, _log):
        yield proc


@contextmanager
def serving_in_thread(app: FastAPI, *, wait: float = 10.0) -> Iterator[int]:
    """The app under uvicorn in a thread of this process (a real socket, so a test can look at
    connections and at the app's state); yields the port."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, name="uvicorn-in-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + wait
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(wait)
