"""Where a business delivers: addresses, zones, and which zone an address falls in.

(Interface fixed by the lead; helper H1 implements the functions.)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass


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
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class ZoneTerms:
    id: uuid.UUID
    name: str
    countries: tuple[str, ...]
    regions: tuple[str, ...] = ()
    postal_prefixes: tuple[str, ...] = ()
    position: int = 0


def check_address(raw: Address) -> Address:
    """Normalised (country upper case, postal code without inner spaces, upper case) and
    validated; raises ``ValidationFailed`` naming the field."""
    raise NotImplementedError


def match_zone(zones: list[ZoneTerms], address: Address) -> ZoneTerms | None:
    raise NotImplementedError
