"""``orderline worker`` processes for the benches: started, watched, and stopped afterwards.

Each worker writes its output to a log file of its own in a temporary folder (a pipe nobody reads
could block it); a worker that exits while the bench runs is reported with its log's tail. The
workers look for events they were not woken for every 0.2 s (``ORDERLINE_RELAY_INTERVAL_SECONDS``);
on PostgreSQL they are also woken at once by the outbox's NOTIFY.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from orderline.bench.http import orderline_command
from orderline.bench.orders import BenchRefused

RELAY_INTERVAL_SECONDS = "0.2"


class WorkerDied(BenchRefused):
    """A worker process exited during the bench; its log is in the message."""


class WorkerProcesses:
    """The running workers of one ``running_workers`` block."""

    def __init__(self, procs: list[subprocess.Popen[bytes]], logs: Path) -> None:
        self._procs = procs
        self._logs = logs

    @property
    def pids(self) -> list[int]:
        return [proc.pid for proc in self._procs]

    def check(self) -> None:
        """Raise ``WorkerDied`` if a worker has exited."""
        for n, proc in enumerate(self._procs):
            if proc.poll() is not None:
                tail = (self._logs / f"worker-{n}.log").read_text(errors="replace")[-3000:]
                raise WorkerDied(f"orderline worker exited with {proc.returncode}:\n{tail}")


@contextlib.contextmanager
def running_workers(database_url: str, count: int) -> Iterator[WorkerProcesses]:
    """Start ``count`` ``orderline worker`` processes on ``database_url``; stop them on the way
    out, whatever happens."""
    env = {**os.environ, "ORDERLINE_DATABASE_URL": database_url, "ORDERLINE_LOG_LEVEL": "ERROR",
           "ORDERLINE_RELAY_INTERVAL_SECONDS": RELAY_INTERVAL_SECONDS}
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as logs:
        try:
            for n in range(count):
                with Path(logs, f"worker-{n}.log").open("wb") as log:
                    procs.append(subprocess.Popen(
                        [*orderline_command(), "worker"], env=env, stdout=log,
                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
            yield WorkerProcesses(procs, Path(logs))
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
