"""Shared pieces of request bodies."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt

EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"
PHONE_PATTERN = r"^\+?[0-9 ()\-]{5,40}$"


class Body(BaseModel):
    """Unknown fields are refused, so a typo never silently does nothing."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# The largest integer both databases store (64-bit); bigger numbers in a query are refused.
STORED_INT_MAX = 2**63 - 1

Quantity = Annotated[StrictInt, Field(ge=1, le=10_000, description="1 to 10,000 units")]
MinorUnits = Annotated[StrictInt, Field(ge=0, le=10**15,
                                        description="integer minor units, e.g. cents")]
Sku = Annotated[str, Field(min_length=1, max_length=100)]
