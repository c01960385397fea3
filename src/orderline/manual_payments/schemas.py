"""Request bodies for manual payment methods, proof settings and the verification queue."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictInt

from orderline.core.schemas import Body

ShortText = Annotated[str, Field(min_length=1, max_length=200)]


class MethodCreate(Body):
    """From a template (``GET /v1/payment-method-templates``): only the account is needed;
    the template's name, kind, currency and instructions may be overridden."""

    template: Annotated[str | None, Field(max_length=40)] = None
    code: Annotated[str | None, Field(max_length=40)] = None
    name: Annotated[str | None, Field(max_length=100)] = None
    kind: Literal["bank_transfer", "e_wallet", "upi"] | None = None
    currency: Annotated[str | None, Field(min_length=3, max_length=3)] = None
    account_name: ShortText
    account_number: Annotated[str, Field(min_length=1, max_length=100)]
    bank_name: Annotated[str | None, Field(max_length=200)] = None
    details: dict[str, Annotated[str, Field(max_length=200)]] = Field(default_factory=dict,
                                                                       max_length=10)
    instructions: Annotated[str | None, Field(max_length=2000)] = Field(
        default=None, description="shown to the buyer; {amount} {reference} {account_name} "
                                  "{account_number} {bank_name} are filled in")
    channels: list[Annotated[str, Field(max_length=40)]] = Field(
        default_factory=list, max_length=50, description="empty: every channel")
    enabled: StrictBool = True
    position: Annotated[StrictInt, Field(ge=0, le=1000)] = 0


class MethodUpdate(Body):
    name: Annotated[str | None, Field(max_length=100)] = None
    account_name: Annotated[str | None, Field(max_length=200)] = None
    account_number: Annotated[str | None, Field(max_length=100)] = None
    bank_name: Annotated[str | None, Field(max_length=200)] = None
    details: dict[str, Annotated[str, Field(max_length=200)]] | None = None
    instructions: Annotated[str | None, Field(max_length=2000)] = None
    channels: list[Annotated[str, Field(max_length=40)]] | None = None
    enabled: StrictBool | None = None
    position: Annotated[StrictInt | None, Field(ge=0, le=1000)] = None


class ProofSettingsIn(Body):
    """Only the fields sent change; ``auto_approve_threshold: null`` turns it off."""

    proof_deadline_minutes: StrictInt | None = None
    proof_review_hours: StrictInt | None = None
    proof_max_bytes: StrictInt | None = None
    proof_retention_days: StrictInt | None = None
    auto_approve_threshold: Annotated[float | None, Field(ge=0, le=1)] = None


class ApproveIn(Body):
    note: Annotated[str | None, Field(max_length=500)] = None


class RejectIn(Body):
    reason: Annotated[str, Field(min_length=1, max_length=500,
                                 description="the buyer reads this")]


class BulkDecision(Body):
    id: uuid.UUID
    action: Literal["approve", "reject"]
    reason: Annotated[str | None, Field(max_length=500)] = None


class BulkIn(Body):
    decisions: Annotated[list[BulkDecision], Field(min_length=1, max_length=100)]
