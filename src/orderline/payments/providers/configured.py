"""The payment providers a runtime holds: the sandbox (its webhooks handed to this process's
webhook handler, as a real gateway would POST them), and Stripe when an API key is
configured."""

from __future__ import annotations

from orderline.core.runtime import Part, Runtime
from orderline.payments.providers.base import PaymentProvider
from orderline.payments.providers.sandbox import SandboxGateway
from orderline.payments.providers.stripe_gateway import StripeGateway


def build_providers(runtime: Runtime) -> dict[str, PaymentProvider]:
    settings = runtime.settings
    providers: dict[str, PaymentProvider] = {}
    if settings.sandbox_enabled:
        async def deliver(headers: dict[str, str], body: bytes) -> None:
            from orderline.payments.service import receive_webhook

            await receive_webhook(runtime, "sandbox", headers, body)

        providers["sandbox"] = SandboxGateway(
            secret=settings.sandbox_webhook_secret.get_secret_value(), deliver=deliver)
    if settings.stripe_api_key.get_secret_value():
        providers["stripe"] = StripeGateway(
            api_key=settings.stripe_api_key.get_secret_value(),
            webhook_secret=settings.stripe_webhook_secret.get_secret_value())
    return providers


async def close_providers(providers: dict[str, PaymentProvider]) -> None:
    for provider in providers.values():
        closing = getattr(provider, "aclose", None)
        if closing is not None:
            await closing()


PROVIDERS: Part[dict[str, PaymentProvider]] = Part(
    "payment providers", build=build_providers, close=close_providers)


def providers_of(runtime: Runtime) -> dict[str, PaymentProvider]:
    """Payment providers by name ("sandbox", "stripe", ...), chosen per business and method."""
    return runtime.get(PROVIDERS)
