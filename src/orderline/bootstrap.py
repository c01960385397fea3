"""The one place that wires adapters into the runtime the services use."""

from __future__ import annotations

from dataclasses import dataclass, field

from orderline.adapters.broker import EventPublisher, NoPublisher
from orderline.adapters.db.engine import Database
from orderline.adapters.event_hub import EventHub
from orderline.adapters.nats_publisher import NatsPublisher
from orderline.adapters.notifier import LogNotifier, Notifier
from orderline.adapters.ratelimit import Limiter, MemoryLimiter, build_limiter
from orderline.adapters.smtp_notifier import SmtpNotifier
from orderline.config import Settings
from orderline.services.checkpoints import Checkpoints
from orderline.services.clock import Clock, SystemClock


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    checkpoints: Checkpoints = field(default_factory=Checkpoints)
    hub: EventHub = field(default_factory=EventHub)
    notifier: Notifier = field(default_factory=LogNotifier)
    publisher: EventPublisher = field(default_factory=NoPublisher)
    limiter: Limiter = field(default_factory=MemoryLimiter)

    def __post_init__(self) -> None:
        self.db.on_events_committed = self.hub.signal

    async def close(self) -> None:
        await self.publisher.close()
        await self.limiter.close()
        await self.db.dispose()


def build_runtime(settings: Settings | None = None, *, clock: Clock | None = None) -> Runtime:
    settings = settings or Settings()
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url(), pool_size=settings.db_pool_size)
    return Runtime(settings=settings, db=db, clock=clock or SystemClock(),
                   notifier=build_notifier(settings), publisher=build_publisher(settings),
                   limiter=build_limiter(settings.redis_url))


def build_notifier(settings: Settings) -> Notifier:
    """Email through SMTP when a host is configured, else the log."""
    if settings.smtp_host:
        return SmtpNotifier.from_settings(settings)
    return LogNotifier()


def build_publisher(settings: Settings) -> EventPublisher:
    """NATS JetStream when a URL is configured, else nothing is published."""
    if settings.nats_url:
        return NatsPublisher.from_settings(settings)
    return NoPublisher()
