"""The one place that wires adapters into the runtime the services use."""

from __future__ import annotations

from dataclasses import dataclass, field

from orderline.adapters.broker import EventPublisher, NoPublisher
from orderline.adapters.db.engine import Database
from orderline.adapters.event_hub import EventHub
from orderline.adapters.gateways.base import PaymentProvider
from orderline.adapters.gateways.sandbox import SandboxGateway
from orderline.adapters.gateways.stripe_gateway import StripeGateway
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
    # Payment providers by name ("sandbox", "stripe", ...), chosen per business and method.
    providers: dict[str, PaymentProvider] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.db.on_events_committed = self.hub.signal

    async def close(self) -> None:
        await self.publisher.close()
        await self.limiter.close()
        for provider in self.providers.values():
            closing = getattr(provider, "aclose", None)
            if closing is not None:
                await closing()
        await self.db.dispose()


def build_runtime(settings: Settings | None = None, *, clock: Clock | None = None) -> Runtime:
    settings = settings or Settings()
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url(), pool_size=settings.db_pool_size)
    runtime = Runtime(settings=settings, db=db, clock=clock or SystemClock(),
                      notifier=build_notifier(settings), publisher=build_publisher(settings),
                      limiter=build_limiter(settings.redis_url))
    runtime.providers.update(build_providers(runtime))
    return runtime


def build_providers(runtime: Runtime) -> dict[str, PaymentProvider]:
    """The sandbox (its webhooks handed to this process's webhook handler, as a real gateway
    would POST them), and Stripe when an API key is configured."""
    settings = runtime.settings
    providers: dict[str, PaymentProvider] = {}
    if settings.sandbox_enabled:
        async def deliver(headers: dict[str, str], body: bytes) -> None:
            from orderline.services.payments import receive_webhook

            await receive_webhook(runtime, "sandbox", headers, body)

        providers["sandbox"] = SandboxGateway(
            secret=settings.sandbox_webhook_secret.get_secret_value(), deliver=deliver)
    if settings.stripe_api_key.get_secret_value():
        providers["stripe"] = StripeGateway(
            api_key=settings.stripe_api_key.get_secret_value(),
            webhook_secret=settings.stripe_webhook_secret.get_secret_value())
    return providers


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
