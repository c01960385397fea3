"""Payment request bodies."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from orderline.core.schemas import Body, MinorUnits, Quantity, Sku
from orderline.payments.service import RefundLine


class PaymentStart(Body):
    provider: Annotated[str | None, Field(
        min_length=1, max_length=20,
        description="a configured provider such as 'sandbox'; the business's card_provider "
                    "if omitted")] = None
    payment_method: Annotated[str | None, Field(
        max_length=100, description="the provider's payment method token (e.g. 'pm_card_visa')"
    )] = None


class CaptureRequest(Body):
    amount: MinorUnits | None = None


class RefundLineIn(Body):
    sku: Sku
    quantity: Quantity


class RefundRequest(Body):
    """An ``amount``, or ``lines`` (each line's share of its net amount, with tax)."""

    amount: Annotated[MinorUnits | None, Field(gt=0)] = None
    lines: Annotated[list[RefundLineIn] | None, Field(min_length=1, max_length=100)] = None
    restock: bool = Field(default=False, description="put the refunded lines' units back in "
                                                     "stock (a return)")
    reason: Annotated[str, Field(max_length=500)] = ""

    def to_lines(self) -> list[RefundLine] | None:
        return None if self.lines is None else [RefundLine(sku=line.sku, quantity=line.quantity)
                                                for line in self.lines]
