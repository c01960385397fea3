"""Businesses, API keys and scopes."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from orderline.core.errors import Forbidden, ValidationFailed

API_KEY_PREFIX = "ol_"
DEFAULT_CHANNELS = ("web", "whatsapp", "instagram", "pos", "api")
# How each default channel is named on pages and in lists (a merchant may add others).
DEFAULT_CHANNEL_NAMES = {"web": "Web shop", "whatsapp": "WhatsApp", "instagram": "Instagram",
                         "pos": "Counter (POS)", "api": "API"}
MIN_RESERVATION_TTL_SECONDS = 1
MAX_RESERVATION_TTL_SECONDS = 7 * 24 * 3600
# Each business's order numbers come from its own PostgreSQL sequence (SQLite keeps the
# ``order_counters`` row); the name is built from the business id alone, never from a name a
# merchant typed.
ORDER_NUMBER_SEQUENCE_PREFIX = "order_numbers_"


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"  # manage API keys, channels, business settings
    # Approve or reject payment proofs (bank transfers, e-wallets) and see the queue: money
    # moves on this decision, so it is a scope of its own that neither write nor admin implies.
    VERIFY = "verify"


ALL_SCOPES = (Scope.READ, Scope.WRITE, Scope.ADMIN, Scope.VERIFY)


def order_number_sequence_name(business_id: uuid.UUID) -> str:
    """The name of the business's order-number sequence: the prefix and the id's 32 hex digits
    (46 characters, under PostgreSQL's 63; only ``[a-z0-9_]``, so it needs no quoting and
    can be written into DDL as it is)."""
    return ORDER_NUMBER_SEQUENCE_PREFIX + uuid.UUID(str(business_id)).hex


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough; no salt or KDF is needed.
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    return key[:11]


STAFF_KEY_PREFIX = "staff"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a business, through one API key with some scopes, or one of its staff
    members logged in to the console (``staff_id`` set; ``orderline.staff.service.principal_for``
    builds it with the scopes of their role).

    For a staff member ``key_id`` is their staff id (each person is their own "key": what is
    keyed or recorded by key id, such as a proof's ``decided_key_id``, is then per person and
    never matches an API key's id), ``key_prefix`` is ``"staff"`` and ``key_name`` their name;
    ``actor`` is ``staff:<id>``, and the audit log records ``actor_staff_id`` instead of a key."""

    business_id: uuid.UUID
    key_id: uuid.UUID
    key_prefix: str
    scopes: frozenset[str]
    currency: str
    reservation_ttl_seconds: int
    key_name: str = ""  # as the key was named when it was issued (the audit log's actor)
    staff_id: uuid.UUID | None = None  # a staff member's session, not an API key

    @property
    def actor(self) -> str:
        if self.staff_id is not None:
            return f"staff:{self.staff_id}"
        return f"api_key:{self.key_prefix}"

    def require(self, scope: Scope) -> None:
        """``write`` includes ``read``: whoever may change a thing may read it back (and a
        write answers with the changed object, so it must never commit and then refuse)."""
        if scope not in self.scopes and not (scope == Scope.READ and Scope.WRITE in self.scopes):
            who = "Your staff role" if self.staff_id is not None else "This API key"
            raise Forbidden(f"{who} lacks the '{scope}' scope.",
                            details={"required_scope": str(scope),
                                     "key_scopes": sorted(self.scopes)})


class CaptureMode(StrEnum):
    """When a business's card payments are captured (a business setting the providers follow)."""

    AUTOMATIC = "automatic"  # captured as soon as authorised
    MANUAL = "manual"  # authorised now, captured later (on fulfilment)


# Browser storefronts: the exact origins (scheme, host, port) whose pages may call the API
# with this business's credentials (CORS). None by default.
MAX_ALLOWED_ORIGINS = 20
_DEFAULT_PORTS = {"http": 80, "https": 443}


def check_origin(raw: str) -> str:
    """An origin as browsers send it in ``Origin``: ``https://shop.example.com`` or
    ``http://localhost:3000``; lowercase, and without the scheme's default port. A path,
    query, fragment, user, wildcard or any other scheme is refused."""
    text = raw.strip()
    refusal = ValidationFailed(
        f"'{raw}' is not an origin: give the scheme, host and optional port only, such as "
        "'https://shop.example.com' (no path, no wildcard).", details={"origin": raw})
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise refusal from None
    host = (parts.hostname or "").lower()
    if (parts.scheme.lower() not in _DEFAULT_PORTS or not host or "*" in text
            or parts.path not in ("", "/") or parts.query or parts.fragment
            or parts.username is not None or parts.password is not None
            or text.endswith("/") or len(text) > 200):
        raise refusal
    scheme = parts.scheme.lower()
    shown = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        shown = f"{shown}:{port}"
    return f"{scheme}://{shown}"


def check_origins(raw: list[str]) -> list[str]:
    """Each origin checked and normalised, duplicates dropped, sorted; at most
    ``MAX_ALLOWED_ORIGINS``."""
    checked = sorted({check_origin(o) for o in raw})
    if len(checked) > MAX_ALLOWED_ORIGINS:
        raise ValidationFailed(f"A business allows at most {MAX_ALLOWED_ORIGINS} origins.",
                               details={"allowed_origins": len(checked)})
    return checked
