"""The runtime every use case receives: settings, the database, the clock and the shared
adapters, plus the parts capabilities own.

This module imports no capability. A capability that needs an adapter of its own kept for the
life of the process (the payment providers, the sealed proof storage, the OCR reader, the
event publisher) declares a ``Part`` next to its adapter, with a factory that builds it from
the runtime when first asked; ``orderline.wiring`` builds a runtime for a process and may
provide other factories, and tests put their own values in.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from orderline.core.checkpoints import Checkpoints
from orderline.core.clock import Clock, SystemClock
from orderline.core.config import Settings
from orderline.core.db.engine import Database
from orderline.core.event_hub import EventHub
from orderline.core.notifier import LogNotifier, Notifier
from orderline.core.ratelimit import Limiter, MemoryLimiter

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class Part(Generic[T]):
    """An adapter a capability keeps in the runtime, built by ``build`` on first use and
    released by ``close`` when the runtime closes. Without ``build`` the part needs code the
    capability cannot import, so ``orderline.wiring.provide_parts`` must provide it. Compared
    by identity: one declaration, one slot."""

    name: str
    build: Callable[[Runtime], T] | None = None
    close: Callable[[T], Awaitable[None]] | None = None


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    checkpoints: Checkpoints = field(default_factory=Checkpoints)
    hub: EventHub = field(default_factory=EventHub)
    notifier: Notifier = field(default_factory=LogNotifier)
    limiter: Limiter = field(default_factory=MemoryLimiter)
    _parts: dict[Part[Any], Any] = field(default_factory=dict, repr=False)
    _factories: dict[Part[Any], Callable[[Runtime], Any]] = field(default_factory=dict,
                                                                  repr=False)

    def __post_init__(self) -> None:
        self.db.on_events_committed = self.hub.announce

    def get(self, part: Part[T]) -> T:
        """The part's value, built on first use (by a factory provided to this runtime, else
        by the part's own)."""
        if part not in self._parts:
            build = self._factories.get(part, part.build)
            if build is None:  # refused loudly rather than, say, cancelling without a refund
                raise LookupError(f"This runtime has no {part.name}: build it with "
                                  "orderline.wiring.build_runtime, or call "
                                  "orderline.wiring.provide_parts.")
            self._parts[part] = build(self)
        value: T = self._parts[part]
        return value

    def put(self, part: Part[T], value: T) -> None:
        """Use this value for the part (tests, benchmarks, a process that built it itself)."""
        self._parts[part] = value

    def provide(self, part: Part[T], build: Callable[[Runtime], T]) -> None:
        """Build the part with this factory instead of its own, when first asked."""
        self._factories[part] = build

    async def close(self) -> None:
        await self.limiter.close()
        for part, value in list(self._parts.items()):
            if part.close is not None:
                closing = part.close(value)
                if inspect.isawaitable(closing):
                    await closing
        self._parts.clear()
        await self.db.dispose()
