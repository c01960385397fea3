"""Bodies and answers of the SMS and WhatsApp routes. Secrets go in and never come out: the
answer says only whether each is set."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictBool

from orderline.core.schemas import Body, PatchBody

Provider = Literal["twilio_sms", "twilio_whatsapp", "whatsapp_cloud"]
Short = Annotated[str, Field(min_length=1, max_length=64)]
Secret = Annotated[str, Field(min_length=1, max_length=1000)]
Templates = Annotated[dict[Annotated[str, Field(max_length=40)],
                           Annotated[str, Field(min_length=1, max_length=100)]],
                      Field(max_length=20, description="message kind -> approved template name "
                            "(WhatsApp Cloud API)")]


class _Fields(BaseModel):
    twilio_account_sid: Short | None = None
    twilio_auth_token: Secret | None = Field(default=None, description="write-only")
    twilio_from_number: Annotated[str, Field(max_length=40)] | None = None
    twilio_messaging_service_sid: Short | None = None
    whatsapp_phone_number_id: Short | None = None
    whatsapp_access_token: Secret | None = Field(default=None, description="write-only")
    whatsapp_app_secret: Secret | None = Field(default=None, description="write-only")
    whatsapp_verify_token: Secret | None = Field(default=None, description="write-only")
    whatsapp_api_version: Annotated[str, Field(max_length=10)] | None = None
    whatsapp_language: Annotated[str, Field(max_length=20)] | None = None
    whatsapp_templates: Templates | None = None


class MessagingSettingsIn(Body, _Fields):
    """The whole sender (PUT): fields left out take their defaults, except secrets, which keep
    their stored value when left out (``null`` clears one)."""

    provider: Provider
    enabled: StrictBool = True


class MessagingSettingsPatch(PatchBody, _Fields):
    """Only the fields sent change; ``null`` clears a secret or an optional Twilio field."""

    clearable = frozenset({"twilio_auth_token", "whatsapp_access_token", "whatsapp_app_secret",
                           "whatsapp_verify_token", "twilio_from_number",
                           "twilio_messaging_service_sid"})

    provider: Provider | None = None
    enabled: StrictBool | None = None


class CallbackUrls(BaseModel):
    twilio_status_callback: str | None = Field(
        description="where Twilio reports delivery (null until ORDERLINE_MESSAGING_PUBLIC_URL "
        "is set)")
    whatsapp_webhook: str | None = Field(
        description="the Callback URL to set in the Meta app's WhatsApp webhook")


class MessagingSettingsOut(BaseModel):
    configured: bool
    provider: Provider | None
    enabled: bool
    twilio_account_sid: str | None
    twilio_from_number: str | None
    twilio_messaging_service_sid: str | None
    twilio_auth_token_set: bool
    whatsapp_phone_number_id: str | None
    whatsapp_api_version: str
    whatsapp_language: str
    whatsapp_templates: dict[str, str]
    whatsapp_access_token_set: bool
    whatsapp_app_secret_set: bool
    whatsapp_verify_token_set: bool
    callback_urls: CallbackUrls
    updated_at: datetime | None


class StatusReceipt(BaseModel):
    outcome: str = Field(description="recorded, stale (the message had moved past it), "
                         "ignored, or 'recorded N' for a batch")
