"""Cart tokens that say which cart they open, signed with the business's key.

A cart's token is shown once, when the cart is made, and opens that one cart. A token of the
signed form is ``ct_`` and 64 URL-safe base64 characters: the business's id, the cart's id
and a 128-bit HMAC-SHA256 of both under the business's ``cart_token_key`` (32 random bytes,
kept in the database). A server process checks it with that key alone, which it reads once
per business and keeps (a key never changes), so a buyer's requests need no lookup of their
token, whichever process serves them.

Tokens of the older form (``ct_`` and 32 random characters; a draft order's link still makes
them) name nothing: their SHA-256 is looked up among the carts, as before.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from dataclasses import dataclass

PREFIX = "ct_"
_SIGNED_LENGTH = len(PREFIX) + 64  # 48 bytes: two ids and the signature, in base64
_DOMAIN = b"orderline cart token\x00"


@dataclass(frozen=True, slots=True)
class SignedToken:
    """What a signed token says: the business, the cart, and its signature."""

    business_id: uuid.UUID
    cart_id: uuid.UUID
    signature: bytes


def _signature(key_hex: str, business_id: uuid.UUID, cart_id: uuid.UUID) -> bytes:
    message = _DOMAIN + business_id.bytes + cart_id.bytes
    return hmac.new(bytes.fromhex(key_hex), message, hashlib.sha256).digest()[:16]


def signed_token(key_hex: str, business_id: uuid.UUID, cart_id: uuid.UUID) -> str:
    raw = business_id.bytes + cart_id.bytes + _signature(key_hex, business_id, cart_id)
    return PREFIX + base64.urlsafe_b64encode(raw).decode()


def read_signed(token: str) -> SignedToken | None:
    """The ids and signature a token of the signed form carries (not yet checked); None for
    any other string."""
    if len(token) != _SIGNED_LENGTH or not token.startswith(PREFIX):
        return None
    try:
        raw = base64.urlsafe_b64decode(token[len(PREFIX):])
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 48:
        return None
    return SignedToken(business_id=uuid.UUID(bytes=raw[:16]), cart_id=uuid.UUID(bytes=raw[16:32]),
                       signature=raw[32:])


def signature_holds(key_hex: str, token: SignedToken) -> bool:
    """Whether the business's key signed this token (compared in constant time)."""
    return hmac.compare_digest(_signature(key_hex, token.business_id, token.cart_id),
                               token.signature)
