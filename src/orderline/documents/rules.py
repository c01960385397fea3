"""What an invoice and a packing slip say, worked out from the order as it was shown (the
order's view, ``orders/views.py``): pure, no I/O, no PDF library. ``documents/layout.py``
draws these sheets; the worker stores the invoice's.

Every amount is the order's own stored figure (the pricing engine's snapshot), never worked
out again here, so the invoice says what the order says. Amounts are written in the
currency's minor units (``core.money.currency_exponent``) with the ISO code, not a symbol:
the bundled fonts have no glyph for some symbols (the taka's), and a code reads the same in
every language.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from orderline.core.errors import DomainError
from orderline.core.money import currency_exponent


class DocumentKind(StrEnum):
    INVOICE = "invoice"
    PACKING_SLIP = "packing_slip"


class InvoiceNotIssued(DomainError):
    """The order has no invoice yet: it is issued by the worker once the order's money is in
    (paid, or cash collected on delivery), usually within seconds. Try again later."""

    code = "invoice_not_issued"


# What a merchant calls each way of paying; another method is shown by its own name.
_PAYMENT_METHODS = {"card": "Card", "cod": "Cash on delivery", "bank_wire": "Bank transfer",
                    "bank_transfer": "Bank transfer", "gcash": "GCash"}

# Characters shown in place of one the bundled fonts cannot draw.
MISSING_GLYPH = "?"


def money_text(amount: int, currency: str) -> str:
    """``money_text(123456, "USD") == "1,234.56 USD"``, ``money_text(120000, "VND") ==
    "120,000 VND"``, ``money_text(-5, "KWD") == "-0.005 KWD"``."""
    exponent = currency_exponent(currency)
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**exponent)
    text = f"{whole:,}" + (f".{fraction:0{exponent}d}" if exponent else "")
    return f"{sign}{text} {currency}"


def payment_method_text(method: str) -> str:
    return _PAYMENT_METHODS.get(method, method.replace("_", " ").capitalize())


def date_text(moment: datetime | None) -> str:
    """A date as ``2026-12-07`` (UTC, as the order stores it); nothing for no date."""
    return "" if moment is None else moment.strftime("%Y-%m-%d")


def printable(text: str, drawable: Callable[[str], bool]) -> str:
    """``text`` as the bundled fonts can draw it: composed (NFC, so a Vietnamese name typed
    with combining marks uses the font's precomposed letters, which need no shaping), control
    characters dropped, and each character no font has replaced by ``MISSING_GLYPH``."""
    composed = unicodedata.normalize("NFC", text)
    out = []
    for char in composed:
        if unicodedata.category(char) in {"Cc", "Cf"}:
            continue
        out.append(char if char == " " or drawable(char) else MISSING_GLYPH)
    return "".join(out)


@dataclass(frozen=True, slots=True)
class SheetLine:
    sku: str
    name: str
    quantity: int
    unit_price: int
    discount: int
    tax: int
    line_total: int  # unit price times quantity, before the line's discount


@dataclass(frozen=True, slots=True)
class TaxRow:
    name: str
    rate: str  # a percentage as the pricing engine wrote it: "7" or "8.25"
    amount: int


@dataclass(frozen=True, slots=True)
class InvoiceSheet:
    """Everything printed on an invoice, as the order was when it was invoiced."""

    seller_name: str
    seller_address: tuple[str, ...]
    invoice_number: str
    order_number: str
    issued_at: datetime
    ordered_at: datetime
    paid_at: datetime | None
    buyer: tuple[str, ...]  # name, phone, email (those given)
    ship_to: tuple[str, ...]
    currency: str
    lines: tuple[SheetLine, ...]
    subtotal: int
    discount_total: int
    coupons: tuple[str, ...]
    shipping_total: int
    shipping_discount: int
    shipping_method: str
    taxes: tuple[TaxRow, ...]
    tax_total: int
    prices_include_tax: bool
    total: int
    payment_method: str
    payment_status: str


@dataclass(frozen=True, slots=True)
class PackingSlipSheet:
    """What goes in the parcel: where it goes, and what (no prices)."""

    seller_name: str
    order_number: str
    ordered_at: datetime
    ship_to: tuple[str, ...]
    shipping_method: str
    lines: tuple[SheetLine, ...]


def address_lines(address: Mapping[str, Any] | None) -> tuple[str, ...]:
    """A shipping address as lines on paper: name, street lines, city with region and postal
    code, country, phone; empty parts left out."""
    if not address:
        return ()
    city = " ".join(part for part in (str(address.get("postal_code") or ""),
                                      str(address.get("city") or "")) if part)
    region = str(address.get("region") or "")
    rows = [str(address.get("name") or ""), str(address.get("line1") or ""),
            str(address.get("line2") or ""), ", ".join(p for p in (city, region) if p),
            str(address.get("country") or ""), str(address.get("phone") or "")]
    return tuple(row for row in rows if row.strip())


def _contact(order: Mapping[str, Any]) -> tuple[str, ...]:
    customer = order.get("customer") or {}
    return tuple(str(customer[k]) for k in ("name", "phone", "email") if customer.get(k))


def _lines(order: Mapping[str, Any]) -> tuple[SheetLine, ...]:
    return tuple(SheetLine(sku=str(line["sku"]), name=str(line["name"]),
                           quantity=int(line["quantity"]), unit_price=int(line["unit_price"]),
                           discount=int(line.get("discount") or 0),
                           tax=int(line.get("tax") or 0), line_total=int(line["line_total"]))
                 for line in order["lines"])


def _method_name(order: Mapping[str, Any]) -> str:
    method = order.get("shipping_method") or {}
    return str(method.get("name") or "")


def _moment(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _taxes(pricing: Mapping[str, Any] | None) -> tuple[TaxRow, ...]:
    return tuple(TaxRow(name=str(t["name"]), rate=str(t["rate"]), amount=int(t["amount"]))
                 for t in (pricing or {}).get("taxes", ()))


def _coupons(pricing: Mapping[str, Any] | None) -> tuple[str, ...]:
    return tuple(str(c["code"]) for c in (pricing or {}).get("coupons", ()))


def invoice_sheet(order: Mapping[str, Any], *, seller_name: str,
                  seller_address: Sequence[str]) -> InvoiceSheet:
    """The invoice of ``order`` (the merchant's view of it, as an event carries it), which
    must have its invoice number. Dates may be datetimes or ISO text (an event's payload)."""
    number = order.get("invoice_number")
    if not number:
        raise InvoiceNotIssued(f"Order {order['number']} has no invoice number yet.")
    paid_at = _moment(order.get("paid_at"))
    status = "Paid" if order.get("payment_method") != "cod" else "Cash collected on delivery"
    if paid_at is not None:
        status += f" on {date_text(paid_at)}"
    issued = _moment(order.get("invoiced_at")) or _moment(order["updated_at"])
    ordered = _moment(order["created_at"])
    assert issued is not None and ordered is not None  # both are set on every order
    return InvoiceSheet(
        seller_name=seller_name, seller_address=tuple(seller_address),
        invoice_number=str(number), order_number=str(order["number"]),
        issued_at=issued, ordered_at=ordered, paid_at=paid_at, buyer=_contact(order),
        ship_to=address_lines(order.get("shipping_address")), currency=str(order["currency"]),
        lines=_lines(order), subtotal=int(order["subtotal"]),
        discount_total=int(order.get("discount_total") or 0),
        coupons=_coupons(order.get("pricing")),
        shipping_total=int(order.get("shipping_total") or 0),
        shipping_discount=int(order.get("shipping_discount") or 0),
        shipping_method=_method_name(order), taxes=_taxes(order.get("pricing")),
        tax_total=int(order.get("tax_total") or 0),
        prices_include_tax=bool(order.get("prices_include_tax")), total=int(order["total"]),
        payment_method=payment_method_text(str(order["payment_method"])),
        payment_status=status)


def packing_slip_sheet(order: Mapping[str, Any], *, seller_name: str) -> PackingSlipSheet:
    """The packing slip of ``order`` as it is now: the lines still to send (refunded units
    left out) and where they go; the buyer's contact stands in for an order with no address.
    The merchant's note is the shop's own and stays off the paper that goes in the parcel."""
    ordered = _moment(order["created_at"])
    assert ordered is not None
    lines = tuple(SheetLine(sku=line.sku, name=line.name,
                            quantity=line.quantity - int(source.get("refunded_quantity") or 0),
                            unit_price=0, discount=0, tax=0, line_total=0)
                  for line, source in zip(_lines(order), order["lines"], strict=True))
    return PackingSlipSheet(
        seller_name=seller_name, order_number=str(order["number"]), ordered_at=ordered,
        ship_to=address_lines(order.get("shipping_address")) or _contact(order),
        shipping_method=_method_name(order),
        lines=tuple(line for line in lines if line.quantity > 0))


def document_file_name(kind: DocumentKind, number: str) -> str:
    """``INV-000001.pdf``; ``packing-slip-OL-1001.pdf``."""
    return f"{number}.pdf" if kind is DocumentKind.INVOICE else f"packing-slip-{number}.pdf"
