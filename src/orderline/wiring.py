"""Builds the runtime of one process: the database from the settings, and the adapters chosen
by configuration (email through SMTP or the log, a rate limiter in Redis or in memory).

It sits above every capability (like ``api`` and ``cli``), so it may import any of them; the
capabilities themselves only know ``orderline.core.runtime``.
"""

from __future__ import annotations

from orderline.checkout.cash_codes import CASH_CODE_SENDER
from orderline.checkout.checkout_store import funnel_by_channel
from orderline.checkout.hooks import CHECKOUT_HOOKS, CheckoutHooks
from orderline.core import metrics
from orderline.core.clock import Clock, SystemClock
from orderline.core.config import Settings
from orderline.core.db.engine import Database
from orderline.core.db.replica import ReadReplica, RedisWriteMarks, ReplicaPolicy, WriteMarks
from orderline.core.notifier import LogNotifier, Notifier
from orderline.core.ratelimit import build_limiter
from orderline.core.runtime import Runtime
from orderline.coupons import order_steps as coupon_order_steps
from orderline.drafts import links as draft_links
from orderline.events.event_types import EventType
from orderline.exchanges import order_steps as exchange_order_steps
from orderline.manual_payments import order_steps as manual_order_steps
from orderline.notifications.messaging import send_cash_code
from orderline.notifications.smtp_notifier import SmtpNotifier
from orderline.order_changes import service as order_changes
from orderline.order_splits import order_steps as split_order_steps
from orderline.orders.hooks import ORDER_HOOKS, OrderHooks
from orderline.orders.rules import CancelReason
from orderline.orders.service import CHECKOUT_FUNNEL
from orderline.payments import order_steps as payment_order_steps
from orderline.payments.providers.base import PaymentProvider
from orderline.payments.providers.configured import PROVIDERS, providers_of
from orderline.payments.providers.sandbox import SandboxGateway
from orderline.payments.providers.stripe_gateway import StripeGateway
from orderline.payments.service import receive_webhook
from orderline.tenancy.service import CARD_PROVIDERS


def build_runtime(settings: Settings | None = None, *, clock: Clock | None = None) -> Runtime:
    settings = settings or Settings()
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    replica, marks = read_replica(settings)
    db = Database(settings.resolved_database_url(), pool_size=settings.db_pool_size,
                  replica=replica, marks=marks)
    return provide_parts(Runtime(settings=settings, db=db, clock=clock or SystemClock(),
                                 notifier=build_notifier(settings),
                                 limiter=build_limiter(settings.redis_url)))


def read_replica(settings: Settings) -> tuple[ReadReplica | None, WriteMarks | None]:
    """The read replica and the write marks that fence it (``core/db/replica.py``), if
    ``database_read_url`` is set: marks in Redis when ``redis_url`` is set, else none (the
    strict fence: the primary's current WAL position)."""
    url = settings.resolved_read_url()
    if url is None:
        return None, None
    policy = ReplicaPolicy(wait_seconds=settings.replica_wait_seconds,
                           max_lag_seconds=settings.replica_max_lag_seconds,
                           rest_seconds=settings.replica_rest_seconds)
    marks = RedisWriteMarks(settings.redis_url) if settings.redis_url else None
    return ReadReplica(url, pool_size=settings.db_pool_size, policy=policy), marks


def provide_parts(runtime: Runtime) -> Runtime:
    """Hand each capability what it needs from one above it, which it cannot import: tenancy
    checks a business's card provider against the payment providers' names, the payment
    providers hand their webhooks to the payments service, and coupons, payments and manual
    payments act on paid and cancelled orders (``orders.hooks``; an order cancelled
    with a change waiting for payment cancels the change), the order stats read the
    checkout funnel, and cash codes go by the business's SMS or WhatsApp sender
    (``notifications.messaging``), and a confirmed checkout completes the draft order
    whose link opened it (``checkout.hooks``)."""
    runtime.provide(PROVIDERS, build_providers)
    runtime.provide(ORDER_HOOKS, lambda rt: OrderHooks(
        paid=(manual_order_steps.close_proofs_when_paid,),
        cancelling=(split_order_steps.settle_split_money_on_cancel,
                    exchange_order_steps.give_credit_back_on_cancel,
                    payment_order_steps.refuse_cancel_holding_money,
                    coupon_order_steps.give_back_on_cancel,
                    payment_order_steps.cancel_live_payments,
                    manual_order_steps.close_proofs_when_cancelled,
                    order_changes.close_when_order_cancelled),
        editing_lines=(manual_order_steps.refuse_line_edits,),
        buyer_payment=manual_order_steps.buyer_payment))
    runtime.provide(CHECKOUT_HOOKS, lambda rt: CheckoutHooks(
        converted=(draft_links.complete_for_cart,)))
    runtime.provide(CARD_PROVIDERS, lambda rt: lambda: sorted(providers_of(rt)))
    runtime.provide(CHECKOUT_FUNNEL, lambda rt: funnel_by_channel)
    runtime.provide(CASH_CODE_SENDER, lambda rt: send_cash_code)  # by the business's SMS
    return runtime


def build_notifier(settings: Settings) -> Notifier:
    """Email through SMTP when a host is configured, else the log."""
    if settings.smtp_host:
        return SmtpNotifier.from_settings(settings)
    return LogNotifier()


def start_metrics_at_zero() -> None:
    """Every cancel reason and event type has a series at zero in this process's metrics."""
    metrics.start_at_zero(cancel_reasons=[reason.value for reason in CancelReason],
                          event_types=[event_type.value for event_type in EventType])


def build_providers(runtime: Runtime) -> dict[str, PaymentProvider]:
    """The sandbox (its webhooks handed to this process's webhook handler, as a real gateway
    would POST them), and Stripe when an API key is configured.

    The sandbox keeps its payments in the database, so every process sees one provider. (The
    saga calls it from inside the relay's transaction, so the worker's pool must hold more
    connections than it relays aggregates at once: ``db_pool_size`` 10 gives 20 for 8.)"""
    settings = runtime.settings
    providers: dict[str, PaymentProvider] = {}
    if settings.sandbox_enabled:
        async def deliver(headers: dict[str, str], body: bytes) -> None:
            await receive_webhook(runtime, "sandbox", headers, body)

        providers["sandbox"] = SandboxGateway(
            secret=settings.sandbox_webhook_secret.get_secret_value(), deliver=deliver,
            db=runtime.db)
    if settings.stripe_api_key.get_secret_value():
        providers["stripe"] = StripeGateway(
            api_key=settings.stripe_api_key.get_secret_value(),
            webhook_secret=settings.stripe_webhook_secret.get_secret_value())
    return providers
