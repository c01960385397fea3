"""CPU time spent by other processes during a bench phase, read from Linux ``/proc``.

Orders per second alone do not say where the time goes; CPU per order of the server processes
and of the PostgreSQL backends does. Both are read from ``/proc/<pid>/stat`` (user + system
time), so they exist only on Linux and only for processes on this machine: elsewhere the figures
are None and the report prints a dash. A process that exits during the phase takes its CPU time
with it, so the figures are a floor.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

_PROC = Path("/proc")


def _ticks_per_second() -> int:
    try:
        return int(os.sysconf("SC_CLK_TCK"))
    except (ValueError, OSError, AttributeError):
        return 100


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces; the rest follows ')'.
    return raw[raw.rindex(")") + 2:].split()


def cpu_by_pid(pids: Iterable[int]) -> dict[int, float]:
    """User + system CPU seconds so far of each readable process among ``pids``."""
    ticks = _ticks_per_second()
    found: dict[int, float] = {}
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:  # utime and stime are fields 14 and 15 of stat
            found[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return found


def process_tree(root: int) -> list[int]:
    """``root`` and its descendants (uvicorn's supervisor and its worker processes)."""
    if not _PROC.is_dir():
        return []
    parent_of: dict[int, int] = {}
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                parent_of[int(entry.name)] = int(fields[1])
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parent_of.items() if parent in frontier]
        tree.extend(frontier)
    return tree


def is_postgres(pid: int) -> bool:
    """A pid PostgreSQL reported is only ours to read if it is a local postgres process."""
    try:
        return (_PROC / str(pid) / "comm").read_text().strip().startswith("postgres")
    except OSError:
        return False


def spent(before: dict[int, float], after: dict[int, float]) -> float | None:
    """CPU seconds spent between two readings; processes new in ``after`` count from zero."""
    if not after:
        return None
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())
