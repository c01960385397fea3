"""Helpers to hold one transaction at a named checkpoint while a competitor runs."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text

from orderline.core.runtime import Runtime


async def is_blocked(runtime: Runtime) -> bool:
    """Is some transaction waiting for a lock held by another one?"""
    if runtime.db.is_sqlite:
        return runtime.db.writers_waiting > 0
    async with runtime.db.read() as conn:
        waiting = await conn.scalar(text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"))
    return bool(waiting)


async def until_blocked_or_done(runtime: Runtime, task: asyncio.Task[Any],
                                timeout: float = 15.0) -> str:
    """Wait until the competitor finished or is waiting on a lock; say which."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if task.done():
            return "done"
        if await is_blocked(runtime):
            return "blocked"
        await asyncio.sleep(0.01)
    raise AssertionError("the competitor neither finished nor waited on a lock")
