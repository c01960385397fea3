"""Where a business delivers: addresses, zones, and which zone an address falls in.

A zone lists countries and, optionally, regions and postal-code prefixes; an address is in the
zone when its country is listed and it matches the regions and the prefixes the zone names.
Zones are tried in ascending ``position``; among zones of equal position the most specific
wins (postal prefixes over regions over country only), so a merchant can put "Alaska" and
"United States" at the same position and still price Alaska apart.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orderline.core.errors import ValidationFailed

# Longest values the address fields may hold (the checkout stores them as given).
_MAX_TEXT = 200
_MAX_POSTAL_CODE = 20
_MAX_PHONE = 40
_LABELS = {"name": "recipient name", "line1": "first address line", "line2": "second address line",
           "city": "city", "region": "region", "phone": "phone number"}


@dataclass(frozen=True, slots=True)
class Address:
    name: str
    line1: str
    city: str
    country: str  # ISO 3166-1 alpha-2, upper case
    line2: str = ""
    region: str = ""  # state / province code or name as the merchant lists it
    postal_code: str = ""
    phone: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"name": self.name, "line1": self.line1, "line2": self.line2,
                "city": self.city, "region": self.region, "postal_code": self.postal_code,
                "country": self.country, "phone": self.phone}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Address:
        """The address ``as_dict`` wrote (for example read back from a JSON column)."""
        return cls(name=data["name"], line1=data["line1"], city=data["city"],
                   country=data["country"], line2=data.get("line2") or "",
                   region=data.get("region") or "", postal_code=data.get("postal_code") or "",
                   phone=data.get("phone"))


@dataclass(frozen=True, slots=True)
class ZoneTerms:
    id: uuid.UUID
    name: str
    countries: tuple[str, ...]
    regions: tuple[str, ...] = ()
    postal_prefixes: tuple[str, ...] = ()
    position: int = 0

    @property
    def specificity(self) -> int:
        """How narrowly the zone is drawn: postal prefixes count more than regions."""
        return 2 * bool(_prefixes(self)) + bool(_regions(self))


def normalize_postal_code(code: str) -> str:
    """Postal codes compare without blanks or case: ' sw1a 1aa ' is 'SW1A1AA'."""
    return "".join(code.split()).upper()


def check_address(raw: Address) -> Address:
    """Normalised (country upper case, postal code without inner spaces, upper case) and
    validated; raises ``ValidationFailed`` naming the field."""
    name = _required(raw.name, "name")
    line1 = _required(raw.line1, "line1")
    city = _required(raw.city, "city")
    line2 = _optional(raw.line2, "line2", _MAX_TEXT)
    region = _optional(raw.region, "region", _MAX_TEXT)
    country = raw.country.strip().upper()
    if len(country) != 2 or not (country.isascii() and country.isalpha()):
        raise ValidationFailed(
            f"The country {raw.country!r} is not a two-letter ISO 3166 code such as 'US'.",
            details={"field": "address.country"})
    postal_code = normalize_postal_code(raw.postal_code)
    if len(postal_code) > _MAX_POSTAL_CODE:
        raise ValidationFailed(
            f"The postal code may have at most {_MAX_POSTAL_CODE} characters.",
            details={"field": "address.postal_code"})
    phone = None if raw.phone is None else _optional(raw.phone, "phone", _MAX_PHONE) or None
    return Address(name=name, line1=line1, city=city, country=country, line2=line2,
                   region=region, postal_code=postal_code, phone=phone)


def match_zone(zones: list[ZoneTerms], address: Address) -> ZoneTerms | None:
    """The zone that delivers to ``address``, or ``None`` when no zone does.

    Lowest ``position`` first; at equal positions the most specific zone; at equal
    specificity the earlier zone in ``zones``.
    """
    ordered = sorted(zones, key=lambda zone: (zone.position, -zone.specificity))
    return next((zone for zone in ordered if _contains(zone, address)), None)


def _contains(zone: ZoneTerms, address: Address) -> bool:
    country = address.country.strip().upper()
    if country not in {c.strip().upper() for c in zone.countries}:
        return False
    regions = _regions(zone)
    if regions and address.region.strip().casefold() not in regions:
        return False
    prefixes = _prefixes(zone)
    postal_code = normalize_postal_code(address.postal_code)
    return not prefixes or any(postal_code.startswith(prefix) for prefix in prefixes)


def _regions(zone: ZoneTerms) -> set[str]:
    # Blank entries (a merchant's stray comma) are ignored rather than matching nothing.
    return {r.strip().casefold() for r in zone.regions if r.strip()}


def _prefixes(zone: ZoneTerms) -> list[str]:
    # A blank prefix would match every postal code; it names none.
    return [p for p in (normalize_postal_code(p) for p in zone.postal_prefixes) if p]


def _required(value: str, name: str) -> str:
    text = value.strip()
    if not text:
        raise ValidationFailed(f"The address needs a {_LABELS[name]}.",
                               details={"field": f"address.{name}"})
    if len(text) > _MAX_TEXT:
        raise ValidationFailed(
            f"The {_LABELS[name]} may have at most {_MAX_TEXT} characters.",
            details={"field": f"address.{name}"})
    return text


def _optional(value: str, name: str, limit: int) -> str:
    text = value.strip()
    if len(text) > limit:
        raise ValidationFailed(f"The {_LABELS[name]} may have at most {limit} characters.",
                               details={"field": f"address.{name}"})
    return text
