"""What people are told when something happens: the buyer when their order is paid, shipped,
delivered or cancelled, the merchant when stock runs low or a webhook endpoint is switched off.

Pure rules only: who receives a message, over which channel, and its subject and body. The
services queue the result as a ``notifications`` row; the sender delivers it later.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orderline.core.money import currency_exponent
from orderline.core.retry import RetrySchedule
from orderline.events.event_types import EventType

# A failed message is retried after 10 s, 1 min, 5 min, 20 min and 1 h (6 tries in all, about
# an hour and a half), then left ``failed`` with its last error for the merchant to see.
NOTIFICATION_RETRIES = RetrySchedule(delays=(10, 60, 300, 1200, 3600))

LOG_CHANNEL = "log"
EMAIL_CHANNEL = "email"
# Who a merchant notice goes to when the business has no alert email: the log, for operators.
MERCHANT_ON_LOG = "merchant"

# Deliberately loose: one '@' with something on each side and a dot in the domain. The mail
# server is the judge of the rest; this only tells an address from a phone number.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

_CANCEL_REASONS = {
    "merchant": "the shop cancelled it",
    "buyer": "you asked us to cancel it",
    "payment_timeout": "the payment did not arrive before the deadline",
    "out_of_stock": "an item ran out of stock",
    "fraud": "the payment could not be verified",
    "other": "the shop cancelled it",
}


@dataclass(frozen=True, slots=True)
class Text:
    subject: str
    body: str


def is_email_address(recipient: str) -> bool:
    return bool(_EMAIL.match(recipient))


def channel_for(recipient: str, preferred: str) -> str:
    """The channel a message to ``recipient`` goes by: the configured notifier's, unless that
    is email and the recipient is not an address (a phone number); such a message goes to the
    log, where operators see it, instead of failing at the mail server."""
    if preferred == EMAIL_CHANNEL and not is_email_address(recipient):
        return LOG_CHANNEL
    return preferred


def merchant_recipient(alert_email: str | None) -> str:
    return alert_email.strip() if alert_email and alert_email.strip() else MERCHANT_ON_LOG


def format_money(amount: int, currency: str) -> str:
    """Minor units as people read them: ``format_money(123456, "USD") == "1,234.56 USD"``,
    ``format_money(1500, "JPY") == "1,500 JPY"``."""
    exponent = currency_exponent(currency)
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**exponent)
    text = f"{whole:,}"
    if exponent:
        text += f".{fraction:0{exponent}d}"
    return f"{sign}{text} {currency}"


def cancel_reason_text(reason: str | None) -> str:
    if not reason:
        return "the shop cancelled it"
    return _CANCEL_REASONS.get(reason, reason.replace("_", " "))


def buyer_message(event_type: str, order: Mapping[str, Any], *, shop: str,
                  proof: Mapping[str, Any] | None = None,
                  shipment: Mapping[str, Any] | None = None,
                  rma: Mapping[str, Any] | None = None) -> Text | None:
    """The buyer's message for an order event, or None for events the buyer is not told of.

    ``order`` is the order as events carry it (number, total, currency, status, shipping,
    cancel_reason, customer); ``proof`` the payment proof of a ``payment_proof.*`` event;
    ``shipment`` the parcel of a ``shipment.created`` event. The parcel that completes an
    order is told by ``order.shipped``, so each parcel is told once."""
    number = str(order["number"])
    total = format_money(int(order["total"]), str(order["currency"]))
    name = str((order.get("customer") or {}).get("name") or "").strip()
    greeting = f"Hello {name}," if name else "Hello,"
    closing = f"Thank you for shopping with {shop}."
    if event_type == EventType.ORDER_CREATED:
        subject = f"{shop}: we received your order {number}"
        lines = [f"Thank you for your order {number} of {total}.",
                 "We will let you know when it ships."]
    elif event_type == EventType.ORDER_PAID:
        subject = f"{shop}: payment received for order {number}"
        lines = [f"We received your payment of {total} for order {number}.",
                 "We will let you know when it ships."]
    elif event_type == EventType.ORDER_SHIPPED:
        shipping = order.get("shipping") or {}
        carrier = shipping.get("carrier") or "the carrier"
        subject = f"{shop}: order {number} has shipped"
        lines = [f"Your order {number} ({total}) is on its way with {carrier}."]
        if shipping.get("tracking_number"):
            lines.append(f"Tracking number: {shipping['tracking_number']}")
        if shipping.get("tracking_url"):
            lines.append(f"Track it here: {shipping['tracking_url']}")
    elif event_type == EventType.SHIPMENT_CREATED and shipment is not None:
        if order.get("status") != "partially_shipped":
            return None
        units = sum(int(line["quantity"]) for line in shipment.get("lines") or [])
        subject = f"{shop}: part of order {number} has shipped"
        lines = [f"Parcel {shipment['number']} of your order {number} ({units} "
                 f"{'item' if units == 1 else 'items'}) is on its way with "
                 f"{shipment['carrier']}. The rest will follow.",
                 f"Tracking number: {shipment['tracking_number']}"]
        if shipment.get("tracking_url"):
            lines.append(f"Track it here: {shipment['tracking_url']}")
    elif event_type == EventType.ORDER_DELIVERED:
        subject = f"{shop}: order {number} was delivered"
        lines = [f"Your order {number} ({total}) was delivered."]
    elif event_type == EventType.ORDER_CANCELLED:
        subject = f"{shop}: order {number} was cancelled"
        lines = [f"Your order {number} ({total}) was cancelled: "
                 f"{cancel_reason_text(order.get('cancel_reason'))}."]
        if order.get("paid_at"):
            lines.append(f"The shop will refund your payment of {total}.")
    elif event_type == EventType.PAYMENT_PROOF_REJECTED and proof is not None:
        subject = f"{shop}: we could not confirm your payment for order {number}"
        lines = [f"The payment proof you sent for order {number} ({total}) was not accepted: "
                 f"{proof.get('reason') or 'no reason was given'}."]
        if proof.get("proof_deadline"):
            lines.append(f"You can send a new proof until {proof['proof_deadline']}.")
    elif event_type in _RETURN_SUBJECTS and rma is not None:
        subject = f"{shop}: {_RETURN_SUBJECTS[event_type]} (order {number})"
        lines = [_return_line(event_type, rma, number)]
    else:
        return None
    return Text(subject, "\n".join([greeting, "", *lines, "", closing]))


_RETURN_SUBJECTS: dict[str, str] = {EventType.RETURN_APPROVED: "your return was approved",
                    EventType.RETURN_REJECTED: "your return was not accepted",
                    EventType.RETURN_REFUNDED: "your return was refunded"}


def _return_line(event_type: str, rma: Mapping[str, Any], number: str) -> str:
    """One sentence on a return (``rma`` as ``return.*`` events carry it)."""
    code = str(rma.get("code") or "")
    if event_type == EventType.RETURN_APPROVED:
        return (f"Your return {code} of order {number} was approved: send the items back to "
                "the shop.")
    if event_type == EventType.RETURN_REJECTED:
        return (f"Your return {code} of order {number} was not accepted: "
                f"{rma.get('rejection_reason') or 'no reason was given'}.")
    refund = format_money(int(rma.get("refund_amount") or 0), str(rma.get("currency") or ""))
    return f"The shop received your return {code} of order {number} and refunded {refund}."


def low_stock_message(stock: Mapping[str, Any], *, shop: str) -> Text:
    """The merchant's alert for a ``stock.low`` event (sku, available, threshold)."""
    sku, available, threshold = stock["sku"], stock["available"], stock["threshold"]
    unit = "unit" if available == 1 else "units"
    return Text(f"{shop}: low stock of {sku} ({available} left)",
                f"Only {available} {unit} of {sku} are available to sell, at or below its "
                f"low-stock threshold of {threshold}.\nRestock it to keep selling.")


def endpoint_disabled_message(payload: Mapping[str, Any], *, shop: str) -> Text:
    """The merchant's notice that a webhook endpoint was switched off (after it kept failing).

    ``payload`` is the event's: ``{"webhook": {id, url, disabled_reason, ...}}``; what it does
    not carry is left out."""
    endpoint = payload.get("webhook") or payload
    url = endpoint.get("url")
    ident = endpoint.get("id")
    reason = endpoint.get("disabled_reason") or endpoint.get("reason")
    which = f" {url}" if url else ""
    lines = [f"Orderline stopped sending webhooks to your endpoint{which}, because deliveries "
             "to it kept failing."]
    if ident:
        lines.append(f"Endpoint id: {ident}")
    if reason:
        lines.append(f"Reason: {reason}")
    lines.append("Fix the receiver, then enable the endpoint again; missed events can be "
                 "redelivered.")
    return Text(f"{shop}: webhook endpoint disabled", "\n".join(lines))
