"""Cash-on-delivery request bodies and answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StrictBool, StrictInt

from orderline.cod.rules import CodOutcome
from orderline.core.schemas import Body, MinorUnits, PatchBody


class CodeIn(Body):
    code: Annotated[str, Field(min_length=1, max_length=20)]


class CollectIn(Body):
    amount: MinorUnits


class DeliveryFailedIn(Body):
    outcome: Annotated[CodOutcome, Field(description="refused or failed_delivery")]
    note: Annotated[str, Field(max_length=500)] = ""


class CodSettingsIn(PatchBody):
    clearable = frozenset({"max_order_total", "otp_above_total"})

    """Only the fields sent change; ``null`` clears a limit."""

    enabled: StrictBool | None = None
    zone_ids: list[uuid.UUID] | None = None
    max_order_total: MinorUnits | None = None
    max_open_orders: Annotated[StrictInt, Field(ge=1, le=10_000)] | None = None
    min_trust_score: StrictInt | None = None
    otp_above_total: MinorUnits | None = None
    otp_first_order: StrictBool | None = None
    allow_discrepancy: StrictBool | None = None


# --- answers ---------------------------------------------------------------------------------

class CodeSent(BaseModel):
    sent_to: str = Field(description="the buyer's phone, all but its last 3 characters hidden")
    expires_at: datetime


class CodeVerified(BaseModel):
    verified: bool


class CodSettingsOut(BaseModel):
    enabled: bool
    zone_ids: list[str] = Field(description="the shipping zones where cash is taken")
    max_order_total: int | None
    max_open_orders: int
    min_trust_score: int
    otp_above_total: int | None
    otp_first_order: bool
    allow_discrepancy: bool
