"""Run ``orderline serve`` / ``orderline worker`` as real processes for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ORDERLINE = str(Path(sys.executable).with_name("orderline"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(database_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "ORDERLINE_DATABASE_URL": database_url, "ORDERLINE_LOG_LEVEL": "WARNING"}
    env.update(extra or {})
    return env


@contextmanager
def running_server(database_url: str, *, workers: int = 1,
                   extra_env: dict[str, str] | None = None) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([ORDERLINE, "serve", "--port", str(port), "--workers", str(workers)],
                            env=_env(database_url, extra_env), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(proc, base)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(proc: subprocess.Popen[bytes], base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise RuntimeError(f"orderline serve exited with {proc.returncode}:\n{out}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"orderline serve did not become ready at {base} in {timeout}s")


@contextmanager
def running_worker(database_url: str, *, interval: float = 0.2) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([ORDERLINE, "worker", "--interval", str(interval)],
                            env=_env(database_url), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
