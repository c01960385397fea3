"""Webhook endpoint and delivery bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StrictInt

from orderline.core.schemas import Body
from orderline.webhooks.rules import (
    DEFAULT_ROTATION_OVERLAP_SECONDS,
    MAX_ROTATION_OVERLAP_SECONDS,
    MAX_URL_LENGTH,
    DeliveryStatus,
)


class WebhookCreate(Body):
    # Checked by the service (scheme, host, and every address the host resolves to), so a
    # refusal says exactly why: invalid_webhook_url or unsafe_webhook_url.
    url: Annotated[str, Field(min_length=1, max_length=MAX_URL_LENGTH,
                              examples=["https://example.com/webhooks/orderline"])]
    event_types: Annotated[list[Annotated[str, Field(min_length=1, max_length=60)]],
                           Field(min_length=1, max_length=50,
                                 description="names such as 'order.paid', 'order.*' or '*'",
                                 examples=[["order.*", "stock.low"]])]
    description: Annotated[str, Field(max_length=500)] = ""


class WebhookOut(BaseModel):
    id: uuid.UUID
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_at: datetime | None
    disabled_reason: str | None
    consecutive_failures: int
    previous_secret_expires_at: datetime | None = Field(
        description="After a secret rotation, until when the replaced secret also signs "
                    "deliveries (null when none was kept).")
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="The signing secret (Standard Webhooks 'whsec_...'). "
                                    "Shown in this answer only: store it now.")


class WebhookRotate(Body):
    overlap_seconds: Annotated[StrictInt, Field(
        ge=0, le=MAX_ROTATION_OVERLAP_SECONDS,
        description="How long the replaced secret keeps signing too (0: it stops at once; "
                    "at most a week).")] = DEFAULT_ROTATION_OVERLAP_SECONDS


class WebhookRotated(WebhookCreated):
    """The endpoint with its new signing secret (shown in this answer only)."""


class WebhookList(BaseModel):
    data: list[WebhookOut]


class AttemptOut(BaseModel):
    attempt: int
    started_at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None
    succeeded: bool


class DeliveryOut(BaseModel):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: DeliveryStatus
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    succeeded_at: datetime | None
    dead_at: datetime | None
    attempts: list[AttemptOut]


class DeliveryDetail(DeliveryOut):
    payload: dict[str, Any] = Field(description="The event exactly as it is sent.")


class DeliveryPage(BaseModel):
    data: list[DeliveryOut]
    next_cursor: str | None
