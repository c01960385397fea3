"""Businesses, API keys and scopes."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from enum import StrEnum

from orderline.core.errors import Forbidden

API_KEY_PREFIX = "ol_"
DEFAULT_CHANNELS = ("web", "whatsapp", "instagram", "pos", "api")
MIN_RESERVATION_TTL_SECONDS = 1
MAX_RESERVATION_TTL_SECONDS = 7 * 24 * 3600


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"  # manage API keys, channels, business settings
    # Approve or reject payment proofs (bank transfers, e-wallets) and see the queue: money
    # moves on this decision, so it is a scope of its own that neither write nor admin implies.
    VERIFY = "verify"


ALL_SCOPES = (Scope.READ, Scope.WRITE, Scope.ADMIN, Scope.VERIFY)


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough; no salt or KDF is needed.
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    return key[:11]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a business, through one API key with some scopes."""

    business_id: uuid.UUID
    key_id: uuid.UUID
    key_prefix: str
    scopes: frozenset[str]
    currency: str
    reservation_ttl_seconds: int

    @property
    def actor(self) -> str:
        return f"api_key:{self.key_prefix}"

    def require(self, scope: Scope) -> None:
        """``write`` includes ``read``: whoever may change a thing may read it back (and a
        write answers with the changed object, so it must never commit and then refuse)."""
        if scope not in self.scopes and not (scope == Scope.READ and Scope.WRITE in self.scopes):
            raise Forbidden(f"This API key lacks the '{scope}' scope.",
                            details={"required_scope": str(scope),
                                     "key_scopes": sorted(self.scopes)})


class CaptureMode(StrEnum):
    """When a business's card payments are captured (a business setting the providers follow)."""

    AUTOMATIC = "automatic"  # captured as soon as authorised
    MANUAL = "manual"  # authorised now, captured later (on fulfilment)
