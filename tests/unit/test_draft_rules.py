"""The pure rules of draft orders: their link's tokens and expiry, and the WhatsApp link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

from orderline.drafts.rules import (
    CANCELLABLE,
    EDITABLE,
    OPENABLE,
    DraftStatus,
    cart_token_for,
    link_lapsed,
    new_link_token,
    whatsapp_share_url,
)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_a_link_token_is_random_and_marked() -> None:
    first, second = new_link_token(), new_link_token()
    assert first.startswith("dl_") and len(first) > 30 and first != second


def test_a_link_always_opens_the_same_cart_and_two_links_never_share_one() -> None:
    link = new_link_token()
    assert cart_token_for(link) == cart_token_for(link)
    assert cart_token_for(link).startswith("ct_")
    assert cart_token_for(link) != cart_token_for(new_link_token())
    assert link[3:] not in cart_token_for(link)  # the cart token does not reveal the link


def test_a_link_without_expiry_never_lapses_and_one_with_lapses_at_its_instant() -> None:
    assert not link_lapsed(None, NOW)
    assert not link_lapsed(NOW + timedelta(seconds=1), NOW)
    assert link_lapsed(NOW, NOW)
    assert link_lapsed(NOW - timedelta(hours=1), NOW)


def test_only_a_draft_nobody_opened_can_be_edited_and_a_completed_one_not_cancelled() -> None:
    assert set(EDITABLE) == {DraftStatus.DRAFT, DraftStatus.SENT}
    assert DraftStatus.COMPLETED not in CANCELLABLE and DraftStatus.OPEN in CANCELLABLE
    assert set(OPENABLE) == {DraftStatus.SENT, DraftStatus.OPEN}


def test_the_whatsapp_link_carries_the_whole_text_encoded() -> None:
    url = whatsapp_share_url("Your order: https://shop.example/d/dl_a&b=c")
    assert url.startswith("https://wa.me/?text=")
    assert "&b" not in url and " " not in url
    assert unquote(url.removeprefix("https://wa.me/?text=")) == (
        "Your order: https://shop.example/d/dl_a&b=c")
