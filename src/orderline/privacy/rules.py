"""What erasing a customer's personal data means for the JSON kept beside an order (event
payloads, history entries): contact details and addresses go, amounts and ids stay.

Pure: the service reads the documents and writes back what ``scrub`` returns.
"""

from __future__ import annotations

from typing import Any

ERASED_NAME = "Erased customer"
# Keys whose values name or reach a person. An address keeps only its country (the tax on
# the invoice depends on it).
_CONTACT_KEYS = frozenset({"phone", "email", "customer_phone", "customer_email", "recipient",
                           "note", "line1", "line2", "city", "postal_code", "region"})
_NAME_KEYS = frozenset({"customer_name"})
_ADDRESS_KEYS = frozenset({"address", "shipping_address"})


def scrub(value: Any, *, in_customer: bool = False) -> Any:
    """A copy of ``value`` with personal data replaced: names become ``ERASED_NAME``,
    contacts and address lines ``None``; everything else is kept as it was."""
    if isinstance(value, list):
        return [scrub(v, in_customer=in_customer) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in _CONTACT_KEYS:
            out[key] = None
        elif key in _NAME_KEYS or (in_customer and key == "name"):
            out[key] = ERASED_NAME
        elif key in _ADDRESS_KEYS and isinstance(item, dict):
            out[key] = {"country": item["country"]} if "country" in item else None
        else:
            out[key] = scrub(item, in_customer=key in ("customer", "contact", "buyer"))
    return out
