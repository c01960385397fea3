"""The one place that wires adapters into the runtime the services use."""

from __future__ import annotations

from dataclasses import dataclass, field

from orderline.adapters.db.engine import Database
from orderline.config import Settings
from orderline.services.checkpoints import Checkpoints
from orderline.services.clock import Clock, SystemClock


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    checkpoints: Checkpoints = field(default_factory=Checkpoints)

    async def close(self) -> None:
        await self.db.dispose()


def build_runtime(settings: Settings | None = None, *, clock: Clock | None = None) -> Runtime:
    settings = settings or Settings()
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url(), pool_size=settings.db_pool_size)
    return Runtime(settings=settings, db=db, clock=clock or SystemClock())
