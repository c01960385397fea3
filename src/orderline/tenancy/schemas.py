"""What /v1/business, /v1/channels and /v1/api-keys take and answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StrictBool, StrictInt

from orderline.core.schemas import EMAIL_PATTERN, Body, PatchBody


class ChannelCreate(Body):
    code: Annotated[str, Field(min_length=1, max_length=40)]
    name: Annotated[str | None, Field(max_length=100)] = None


class ApiKeyCreate(Body):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    scopes: Annotated[list[str], Field(min_length=1, max_length=4)]


class BusinessUpdate(PatchBody):
    name: Annotated[str | None, Field(min_length=1, max_length=200)] = None
    reservation_ttl_seconds: StrictInt | None = None
    # Lets webhooks go to loopback and private addresses (a receiver on your own machine).
    development_mode: StrictBool | None = None
    alert_email: Annotated[str | None, Field(
        pattern=f"{EMAIL_PATTERN}|^$", max_length=320,
        description="where merchant alerts go; \"\" clears it")] = None
    invoice_address: Annotated[str | None, Field(
        max_length=500, description="the business's address (and tax number) as its "
        "invoices print it, one line a line; \"\" clears it")] = None
    # Checkout settings; the service checks the bounds (tenancy.CHECKOUT_SETTING_BOUNDS).
    prices_include_tax: StrictBool | None = None
    min_order_total: StrictInt | None = None
    max_order_total: StrictInt | None = None
    max_line_quantity: StrictInt | None = None
    allow_free_orders: StrictBool | None = None
    price_max_age_seconds: StrictInt | None = None
    return_coupon_on_cancel: StrictBool | None = None
    confirms_per_minute: StrictInt | None = None
    capture_mode: Annotated[str | None, Field(
        description="card payments: 'automatic' (captured when authorised) or 'manual' "
                    "(captured on fulfilment)")] = None
    card_provider: Annotated[str | None, Field(
        max_length=20, description="which configured provider takes card payments")] = None
    return_window_days: Annotated[StrictInt | None, Field(
        description="days after delivery (or shipment) a buyer may ask for a return from "
                    "their order page; 0: buyers may not (the merchant still can), 0 to 365"
    )] = None
    restocking_fee_bp: Annotated[StrictInt | None, Field(
        description="restocking fee kept from a return's refund, in basis points of the "
                    "returned units' value (100 = 1%), 0 to 10000")] = None
    restocking_fee_fixed: Annotated[StrictInt | None, Field(
        description="a fixed restocking fee in minor units, added to the percentage; the "
                    "fee never exceeds the return's value")] = None
    allowed_origins: Annotated[list[Annotated[str, Field(max_length=200)]] | None, Field(
        max_length=100,
        description="browser origins (such as 'https://shop.example.com') whose pages may "
                    "call the API with this business's credentials; replaces the list, [] "
                    "allows none")] = None


class BusinessOut(BaseModel):
    """The business and all of its settings (checkout, card capture, cash on delivery,
    manual payment proofs)."""

    id: uuid.UUID
    name: str
    currency: str
    reservation_ttl_seconds: int
    development_mode: bool
    alert_email: str | None
    invoice_address: str | None
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
    return_window_days: int = Field(
        description="days after delivery a buyer may ask for a return (0: buyers may not)")
    restocking_fee_bp: int = Field(description="restocking fee, basis points of the value")
    restocking_fee_fixed: int = Field(description="restocking fee, fixed minor units")
    allowed_origins: list[str] = Field(
        description="browser origins allowed to call the API with this business's "
                    "credentials (CORS)")
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
    last_used_at: datetime | None = Field(
        description="when the key was last used, to five minutes (it is recorded at most "
                    "once per five minutes); null if never")


class ApiKeyList(BaseModel):
    data: list[ApiKeyOut]


class IssuedApiKey(BaseModel):
    id: uuid.UUID
    key: str = Field(description="shown only in this answer; stored hashed")
    prefix: str
    scopes: list[str]


class AuditEntryOut(BaseModel):
    """One change: what (entity type, id, action), who (the API key's id, prefix and name,
    or the staff member's id; all null for the operator's CLI), when, and the changed fields
    before and after (a creation has no before, a deletion no after; secrets read
    "[redacted]")."""

    id: uuid.UUID
    entity_type: str
    entity_id: uuid.UUID
    action: str
    actor_key_id: uuid.UUID | None
    actor_key_prefix: str | None
    actor_key_name: str | None
    actor_staff_id: uuid.UUID | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    created_at: datetime


class AuditPage(BaseModel):
    data: list[AuditEntryOut]
    next_cursor: str | None
