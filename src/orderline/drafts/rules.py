"""The rules of a draft order: its statuses and what each allows, and its link.

A draft's life: ``draft`` (being built) -> ``sent`` (a link is out) -> ``open`` (the buyer
opened the link: a cart and a checkout, holding the stock, exist) -> ``completed`` (the
checkout became an order). The merchant may cancel it until it is completed. It can be
edited while nobody holds its link open (``draft`` and ``sent``): once the buyer opened it,
the checkout is the buyer's, and the merchant cancels the draft and makes a new one instead.

The link carries a random token (stored as its SHA-256, like an order's page token); the
cart the link opens gets a token derived from it, so opening the same link again reaches the
same cart and its checkout, and nothing but the link's token is needed to find it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime
from enum import StrEnum
from urllib.parse import quote

LINK_TOKEN_PREFIX = "dl_"
CART_TOKEN_PREFIX = "ct_"  # the cart's token as carts give them out (``checkout.carts``)
MAX_LINK_DAYS = 90


class DraftStatus(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


# The merchant edits the lines, the buyer and the delivery, and sends the link, only here.
EDITABLE = (DraftStatus.DRAFT.value, DraftStatus.SENT.value)
# The merchant may cancel a draft in these.
CANCELLABLE = (DraftStatus.DRAFT.value, DraftStatus.SENT.value, DraftStatus.OPEN.value)
# The link opens (or resumes) a checkout in these.
OPENABLE = (DraftStatus.SENT.value, DraftStatus.OPEN.value)


def new_link_token() -> str:
    """The buyer's key to one draft: random, shown when the draft is sent."""
    return LINK_TOKEN_PREFIX + secrets.token_urlsafe(24)


def cart_token_for(link_token: str) -> str:
    """The token of the cart a link opens: derived from the link's secret token (so it is as
    hard to guess), and the same each time the link is opened."""
    digest = hmac.new(link_token.encode(), b"orderline draft order cart", hashlib.sha256)
    return CART_TOKEN_PREFIX + base64.urlsafe_b64encode(digest.digest()[:24]).decode()


def link_lapsed(expires_at: datetime | None, now: datetime) -> bool:
    """Whether a link with this expiry no longer opens (no expiry never lapses)."""
    return expires_at is not None and now >= expires_at


def whatsapp_share_url(text: str) -> str:
    """A WhatsApp link that opens a chat with ``text`` ready to send (the seller picks the
    buyer): ``https://wa.me/?text=...``."""
    return "https://wa.me/?text=" + quote(text, safe="")
