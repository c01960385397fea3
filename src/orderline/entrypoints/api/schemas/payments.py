"""Payment request bodies."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from orderline.entrypoints.api.schemas.common import Body, MinorUnits


class PaymentStart(Body):
    provider: Annotated[str, Field(min_length=1, max_length=20,
                                   description="a configured provider, such as 'sandbox'")]
    payment_method: Annotated[str | None, Field(
        max_length=100, description="the provider's payment method token (e.g. 'pm_card_visa')"
    )] = None


class CaptureRequest(Body):
    amount: MinorUnits | None = None


class RefundRequest(Body):
    amount: Annotated[MinorUnits, Field(gt=0)]
    reason: Annotated[str, Field(max_length=500)] = ""
