"""Named pause points inside transactions, for deterministic interleaving tests.

Production code calls ``await runtime.checkpoints.reach("sweeper.order_chosen")`` at the places
where a competitor could slip in. Nothing is installed outside tests, so it costs one dict lookup.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

Hook = Callable[[], Awaitable[None]]


class Checkpoints:
    def __init__(self) -> None:
        self._hooks: dict[str, Hook] = {}

    async def reach(self, name: str) -> None:
        hook = self._hooks.get(name)
        if hook is not None:
            await hook()

    def install(self, name: str, hook: Hook) -> None:
        self._hooks[name] = hook

    def clear(self) -> None:
        self._hooks.clear()

    def pause_at(self, name: str) -> Gate:
        """Pause the first transaction that reaches ``name`` until ``gate.release()``."""
        gate = Gate()

        async def hook() -> None:
            self._hooks.pop(name, None)  # only the first arrival pauses
            gate.reached.set()
            await gate.released.wait()

        self.install(name, hook)
        return gate


class Gate:
    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self.released = asyncio.Event()

    def release(self) -> None:
        self.released.set()
