"""SMS and WhatsApp, the pure part: which providers there are, whether a business's sender
settings are complete, how a buyer is reached, what each template is given, and how a
provider's delivery report moves a message's status.

Statuses only move forward (``STATUS_RANK``): a report that arrives late ("sent" after
"delivered") is stale and changes nothing. ``delivered``, ``failed`` and ``undeliverable`` share
a rank, so none of them replaces another; ``read`` is the last word.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orderline.core.errors import ValidationFailed
from orderline.events.event_types import EventType
from orderline.notifications.rules import (
    cancel_reason_text,
    channel_for,
    format_money,
)

TWILIO_SMS, TWILIO_WHATSAPP, WHATSAPP_CLOUD = "twilio_sms", "twilio_whatsapp", "whatsapp_cloud"
PROVIDERS = (TWILIO_SMS, TWILIO_WHATSAPP, WHATSAPP_CLOUD)
SMS_CHANNEL, WHATSAPP_CHANNEL = "sms", "whatsapp"
MESSAGING_CHANNELS = (SMS_CHANNEL, WHATSAPP_CHANNEL)
CHANNEL_OF = {TWILIO_SMS: SMS_CHANNEL, TWILIO_WHATSAPP: WHATSAPP_CHANNEL,
              WHATSAPP_CLOUD: WHATSAPP_CHANNEL}

# What a buyer is told by phone, by kind (a Cloud API template is set per kind).
CASH_CODE = "cash_code"
MESSAGE_KINDS = (EventType.ORDER_CREATED.value, EventType.ORDER_PAID.value,
                 EventType.ORDER_SHIPPED.value, EventType.ORDER_DELIVERED.value,
                 EventType.ORDER_CANCELLED.value, EventType.PAYMENT_PROOF_REJECTED.value,
                 CASH_CODE)

QUEUED, SENT, DELIVERED, READ, FAILED, UNDELIVERABLE = (
    "queued", "sent", "delivered", "read", "failed", "undeliverable")
STATUS_RANK = {QUEUED: 0, SENT: 1, DELIVERED: 2, FAILED: 2, UNDELIVERABLE: 2, READ: 3}

# Twilio's MessageStatus values; those before "sent" say nothing we record.
TWILIO_STATUSES = {"sent": SENT, "delivered": DELIVERED, "read": READ, "failed": FAILED,
                   "undelivered": UNDELIVERABLE}
CLOUD_STATUSES = {"sent": SENT, "delivered": DELIVERED, "read": READ, "failed": FAILED}

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_PHONE_PUNCTUATION = re.compile(r"[\s().-]")
_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
_DIGITS = re.compile(r"^\d{1,64}$")
_API_VERSION = re.compile(r"^v\d{1,3}\.\d{1,2}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
_TEMPLATE = re.compile(r"^[a-z0-9_]{1,100}$")


def e164(phone: str | None) -> str | None:
    """The phone number as providers want it (``+639175550101``), or None when it is not a
    full international number (then the buyer cannot be texted)."""
    if not phone:
        return None
    compact = _PHONE_PUNCTUATION.sub("", phone.strip())
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    return compact if _E164.match(compact) else None


def masked(phone: str) -> str:
    return "*" * max(0, len(phone) - 3) + phone[-3:]


@dataclass(frozen=True, slots=True)
class SenderView:
    """What routing needs of a business's sender: its provider and Cloud API templates."""

    provider: str
    templates: Mapping[str, str]

    @property
    def channel(self) -> str:
        return CHANNEL_OF[self.provider]

    def template_for(self, kind: str) -> str | None:
        """The Cloud API template of ``kind`` (None when the provider needs none, or when the
        business set none, so the message cannot go this way)."""
        return self.templates.get(kind) if self.provider == WHATSAPP_CLOUD else None

    def can_send(self, kind: str) -> bool:
        return self.provider != WHATSAPP_CLOUD or bool(self.templates.get(kind))


@dataclass(frozen=True, slots=True)
class Route:
    recipient: str
    channel: str
    provider: str | None = None
    template: str | None = None


def route_to_buyer(customer: Mapping[str, Any], kind: str, *, sender: SenderView | None,
                   notifier_channel: str) -> Route | None:
    """How a buyer hears of ``kind``: by the business's SMS or WhatsApp sender when it has one
    (and, for the Cloud API, a template of that kind) and the buyer gave a full international
    phone number; else by email when they gave one (through the configured notifier); else
    their phone goes to the log, as before there were senders. None when they gave neither."""
    phone = _text(customer.get("phone"))
    email = _text(customer.get("email"))
    number = e164(phone)
    if sender is not None and number and sender.can_send(kind):
        return Route(number, sender.channel, sender.provider, sender.template_for(kind))
    recipient = email or phone
    if recipient is None:
        return None
    return Route(recipient, channel_for(recipient, notifier_channel))


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def template_parameters(kind: str, order: Mapping[str, Any], *, shop: str,
                        proof: Mapping[str, Any] | None = None) -> list[str]:
    """The body parameters of a Cloud API template of ``kind``, in order (docs/guides/
    messaging.md lists them, so merchants write templates with as many placeholders)."""
    number = str(order["number"])
    total = format_money(int(order["total"]), str(order["currency"]))
    name = str((order.get("customer") or {}).get("name") or "").strip() or "there"
    shipping = order.get("shipping") or {}
    if kind == EventType.ORDER_CREATED:
        return [name, number, total, shop]
    if kind == EventType.ORDER_PAID:
        return [number, total, shop]
    if kind == EventType.ORDER_SHIPPED:
        return [number, str(shipping.get("carrier") or "the carrier"),
                str(shipping.get("tracking_number") or "-")]
    if kind == EventType.ORDER_DELIVERED:
        return [number, shop]
    if kind == EventType.ORDER_CANCELLED:
        return [number, cancel_reason_text(order.get("cancel_reason"))]
    if kind == EventType.PAYMENT_PROOF_REJECTED:
        return [number, str((proof or {}).get("reason") or "no reason was given")]
    if kind in (EventType.RETURN_APPROVED, EventType.RETURN_REJECTED,
                EventType.RETURN_REFUNDED):
        return [number, shop]
    raise ValueError(f"no template parameters for {kind!r}")


def cash_code_text(code: str, minutes: int) -> str:
    return (f"Your code to confirm your cash-on-delivery order is {code}. It expires in "
            f"{minutes} minutes.")


def cloud_template_payload(*, to: str, template: str, language: str, kind: str,
                           params: list[str]) -> dict[str, Any]:
    """The Cloud API's ``POST /{version}/{phone-number-id}/messages`` body for a template.
    A cash code goes by an authentication template: the code fills the body and its
    copy-code button."""
    components: list[dict[str, Any]] = [
        {"type": "body", "parameters": [{"type": "text", "text": p} for p in params]}]
    if kind == CASH_CODE:
        components.append({"type": "button", "sub_type": "url", "index": "0",
                           "parameters": [{"type": "text", "text": params[0]}]})
    return {"messaging_product": "whatsapp", "recipient_type": "individual",
            "to": to.lstrip("+"), "type": "template",
            "template": {"name": template, "language": {"code": language},
                         "components": components}}


def whatsapp_address(number: str) -> str:
    return number if number.startswith("whatsapp:") else f"whatsapp:{number}"


def statuses_before(status: str) -> tuple[str, ...]:
    """The statuses a message may move to ``status`` from (those of a lower rank)."""
    rank = STATUS_RANK[status]
    return tuple(s for s, r in STATUS_RANK.items() if r < rank)


# --- a business's sender settings ------------------------------------------------------------

DEFAULT_API_VERSION = "v21.0"
DEFAULT_LANGUAGE = "en_US"


def check_sender(settings: Mapping[str, Any], *, secrets_set: Mapping[str, bool]) -> None:
    """Refuse sender settings that could not send (``ValidationFailed`` naming the field).
    ``secrets_set`` tells which secrets are stored or being set (they are never read here)."""
    provider = settings.get("provider")
    if provider not in PROVIDERS:
        _refuse("provider", f"The provider is one of {', '.join(PROVIDERS)}.")
    if provider in (TWILIO_SMS, TWILIO_WHATSAPP):
        if not _ACCOUNT_SID.match(settings.get("twilio_account_sid") or ""):
            _refuse("twilio_account_sid", "Twilio's account SID is AC and 32 hex digits.")
        if not secrets_set.get("twilio_auth_token"):
            _refuse("twilio_auth_token", "Twilio's auth token is needed to send.")
        sender = settings.get("twilio_from_number")
        service = settings.get("twilio_messaging_service_sid")
        if not sender and not service:
            _refuse("twilio_from_number", "Set the number messages come from, or a Twilio "
                    "messaging service SID.")
        if sender and not e164(sender.removeprefix("whatsapp:")):
            _refuse("twilio_from_number", "The number messages come from is a full "
                    "international number, such as +14155550100.")
        if service and not _SERVICE_SID.match(service):
            _refuse("twilio_messaging_service_sid", "A messaging service SID is MG and 32 hex "
                    "digits.")
    else:
        if not _DIGITS.match(settings.get("whatsapp_phone_number_id") or ""):
            _refuse("whatsapp_phone_number_id", "The Cloud API's phone number id is digits.")
        for secret in ("whatsapp_access_token", "whatsapp_app_secret"):
            if not secrets_set.get(secret):
                _refuse(secret, "The Cloud API needs it to send and to check its webhooks.")
        if not _API_VERSION.match(settings.get("whatsapp_api_version") or ""):
            _refuse("whatsapp_api_version", "The Graph API version looks like v21.0.")
        if not _LANGUAGE.match(settings.get("whatsapp_language") or ""):
            _refuse("whatsapp_language", "The templates' language code looks like en or en_US.")
    templates = settings.get("whatsapp_templates") or {}
    unknown = sorted(set(templates) - set(MESSAGE_KINDS))
    if unknown:
        _refuse("whatsapp_templates", f"Templates are set for {', '.join(MESSAGE_KINDS)}; "
                f"not for {', '.join(unknown)}.")
    bad = sorted(k for k, name in templates.items() if not _TEMPLATE.match(str(name)))
    if bad:
        _refuse("whatsapp_templates", "Template names are lower-case letters, digits and "
                f"underscores: see {', '.join(bad)}.")


def _refuse(field: str, message: str) -> None:
    raise ValidationFailed(message, details={"field": field})
