"""What /v1/business, /v1/channels, /v1/api-keys and /v1/customers answer.

Their request bodies live in ``catalog.schemas`` with the other settings bodies.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class BusinessOut(BaseModel):
    """The business and all of its settings (checkout, card capture, cash on delivery,
    manual payment proofs)."""

    id: uuid.UUID
    name: str
    currency: str
    reservation_ttl_seconds: int
    development_mode: bool
    alert_email: str | None
    prices_include_tax: bool
    min_order_total: int
    max_order_total: int
    max_line_quantity: int
    allow_free_orders: bool
    price_max_age_seconds: int
    return_coupon_on_cancel: bool
    confirms_per_minute: int
    capture_mode: str
    card_provider: str
    cod_enabled: bool
    cod_zone_ids: list[str]
    cod_max_order_total: int | None
    cod_max_open_orders: int
    cod_min_trust_score: int
    cod_otp_above_total: int | None
    cod_otp_first_order: bool
    cod_allow_discrepancy: bool
    proof_deadline_minutes: int
    proof_review_hours: int
    proof_max_bytes: int
    proof_retention_days: int
    proof_auto_approve_bp: int | None = Field(
        description="auto-approval threshold in basis points of the score; null: off")
    created_at: datetime


class ChannelOut(BaseModel):
    code: str
    name: str
    created_at: datetime


class ChannelList(BaseModel):
    data: list[ChannelOut]


class ApiKeyOut(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str
    scopes: str = Field(description="the key's scopes, comma-separated")
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyList(BaseModel):
    data: list[ApiKeyOut]


class IssuedApiKey(BaseModel):
    id: uuid.UUID
    key: str = Field(description="shown only in this answer; stored hashed")
    prefix: str
    scopes: list[str]


class CustomerRecord(BaseModel):
    id: uuid.UUID
    business_id: uuid.UUID
    name: str
    phone: str | None
    email: str | None
    total_orders: int
    total_spent: int
    cod_trust_score: int
    cod_delivered: int
    erased_at: datetime | None
    created_at: datetime


class CustomerList(BaseModel):
    data: list[CustomerRecord]
