"""Codes a buyer's banking app can scan: a UPI payment link (India), and an EMVCo
merchant-presented QR payload for QR Ph (the Philippines, PHP) and DuitNow QR (Malaysia, MYR).

Pure: strings in, strings out; the order page draws the QR code from the payload. A method
gets a code only when its merchant gave what the standard needs (a UPI method's account number
is its UPI ID; an EMVCo code needs the acquirer's id, ``details.qr_acquirer_id``, and the
merchant's city, ``details.merchant_city``), so a code is never a guess.

The EMVCo payload (EMV QRCPS Merchant-Presented Mode 1.1): ID-length-value fields, the length
two digits counting characters; point of initiation ``12`` (dynamic: this order's amount);
the merchant account template of the scheme; currency (ISO 4217 numeric), amount, country,
merchant name (25) and city (15); the payment reference in the additional data (``62``/``05``,
"reference label"); and last ``63`` the CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF)
of everything before it including ``6304``, in upper-case hex.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from orderline.core.money import currency_exponent

_UPI_ID = re.compile(r"^[A-Za-z0-9.\-_]{2,256}@[A-Za-z][A-Za-z0-9.\-]{1,63}$")


@dataclass(frozen=True, slots=True)
class EmvScheme:
    """One national scheme's merchant account template (an EMVCo ``26``-``51`` field)."""

    name: str
    country: str
    currency_numeric: str
    template_id: str
    guid: str


# QR Ph (BSP / Philippine Payments Management): person-to-merchant template 28, its GUID.
QR_PH = EmvScheme("QR Ph", "PH", "608", "28", "ph.ppmi.p2m")
# DuitNow QR (PayNet): template 26, its GUID.
DUITNOW = EmvScheme("DuitNow QR", "MY", "458", "26", "A0000006150001")
EMV_SCHEMES = {"PHP": QR_PH, "MYR": DUITNOW}


def crc16_ccitt(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no reflection."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def tlv(tag: str, value: str) -> str:
    """One EMVCo field: its two-digit id, its length in characters (two digits), the value."""
    if not 0 < len(value) <= 99:
        raise ValueError(f"EMVCo field {tag} must be 1 to 99 characters, not {len(value)}")
    return f"{tag}{len(value):02d}{value}"


def with_crc(payload_without_crc: str) -> str:
    """``payload_without_crc`` and its CRC field ``63``."""
    body = payload_without_crc + "6304"
    return body + f"{crc16_ccitt(body.encode('utf-8')):04X}"


def _plain(text: str, limit: int) -> str:
    """Printable ASCII (what every scanning app reads), at most ``limit`` characters."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^ -~]", "", folded).strip()[:limit]


def decimal_amount(amount: int, currency: str) -> str:
    """Minor units as the standards write them: ``125000`` PHP is ``1250.00``."""
    exponent = currency_exponent(currency)
    return f"{Decimal(amount).scaleb(-exponent):.{exponent}f}"


def emv_payload(scheme: EmvScheme, *, acquirer_id: str, account: str, merchant_name: str,
                merchant_city: str, amount: int, currency: str, reference: str) -> str:
    """The dynamic merchant-presented payload for one order."""
    account_info = (tlv("00", scheme.guid) + tlv("01", _plain(acquirer_id, 30))
                    + tlv("03", _plain(account, 30)))
    fields = [tlv("00", "01"), tlv("01", "12"), tlv(scheme.template_id, account_info),
              tlv("52", "0000"), tlv("53", scheme.currency_numeric),
              tlv("54", decimal_amount(amount, currency)), tlv("58", scheme.country),
              tlv("59", _plain(merchant_name, 25)), tlv("60", _plain(merchant_city, 15)),
              tlv("62", tlv("05", _plain(reference, 25)))]
    return with_crc("".join(fields))


def parse_tlv(payload: str) -> dict[str, str]:
    """The top-level fields of an EMVCo payload (for checking one); ``ValueError`` if the
    lengths do not add up."""
    fields: dict[str, str] = {}
    at = 0
    while at < len(payload):
        tag, length = payload[at:at + 2], payload[at + 2:at + 4]
        if len(tag) < 2 or not length.isdigit():
            raise ValueError(f"malformed field at {at}")
        value = payload[at + 4:at + 4 + int(length)]
        if len(value) != int(length):
            raise ValueError(f"field {tag} is cut short")
        fields[tag] = value
        at += 4 + int(length)
    return fields


def crc_is_valid(payload: str) -> bool:
    return len(payload) > 8 and payload[-8:-4] == "6304" and with_crc(payload[:-8]) == payload


def upi_link(*, upi_id: str, payee_name: str, amount: int, currency: str,
             reference: str) -> str:
    """The UPI deep link (NPCI's ``upi://pay``) that opens any UPI app on this payment."""
    query = {"pa": upi_id, "pn": _plain(payee_name, 50),
             "am": decimal_amount(amount, currency), "tn": reference, "cu": "INR"}
    return "upi://pay?" + "&".join(f"{k}={quote(v, safe='@.-_')}" for k, v in query.items())


@dataclass(frozen=True, slots=True)
class PaymentCode:
    """What to draw as a QR code (``payload``), which standard it follows, and for UPI the link
    a phone can open directly."""

    standard: str  # "upi" | "QR Ph" | "DuitNow QR"
    payload: str
    link: str | None = None


def payment_code(instructions: Mapping[str, Any]) -> PaymentCode | None:
    """The code for an order's manual payment (its instructions as the buyer sees them), or
    None when its method has no standard or the merchant did not give what it needs."""
    method = instructions["method"]
    currency = instructions["currency"]
    account = str(method.get("account_number") or "").strip()
    if method.get("kind") == "upi" or method.get("code") == "upi":
        if currency != "INR" or not _UPI_ID.match(account):
            return None
        link = upi_link(upi_id=account, payee_name=str(method.get("account_name") or ""),
                        amount=instructions["amount"], currency=currency,
                        reference=instructions["reference"])
        return PaymentCode(standard="upi", payload=link, link=link)
    scheme = EMV_SCHEMES.get(currency)
    details = method.get("details") or {}
    acquirer, city = details.get("qr_acquirer_id"), details.get("merchant_city")
    if scheme is None or not acquirer or not city or not account:
        return None
    payload = emv_payload(scheme, acquirer_id=str(acquirer), account=account,
                          merchant_name=str(method.get("account_name") or ""),
                          merchant_city=str(city), amount=instructions["amount"],
                          currency=currency, reference=instructions["reference"])
    return PaymentCode(standard=scheme.name, payload=payload)
