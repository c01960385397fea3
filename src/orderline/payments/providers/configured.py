"""The payment providers a runtime holds, by name. ``orderline.wiring`` builds them (the
sandbox hands its webhooks to the payments service, which sits above this module)."""

from __future__ import annotations

from orderline.core.runtime import Part, Runtime
from orderline.payments.providers.base import PaymentProvider


async def close_providers(providers: dict[str, PaymentProvider]) -> None:
    for provider in providers.values():
        closing = getattr(provider, "aclose", None)
        if closing is not None:
            await closing()


PROVIDERS: Part[dict[str, PaymentProvider]] = Part(
    "payment providers", close=close_providers)


def providers_of(runtime: Runtime) -> dict[str, PaymentProvider]:
    """Payment providers by name ("sandbox", "stripe", ...), chosen per business and method."""
    return runtime.get(PROVIDERS)
