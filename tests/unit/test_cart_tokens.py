"""Signed cart tokens: a token opens the cart it names only under its business's key, and
no changed character, other cart or other business passes."""

from __future__ import annotations

import secrets
import uuid

from orderline.checkout import cart_tokens
from orderline.checkout.carts import new_cart_token

KEY = secrets.token_hex(32)
BUSINESS, CART = uuid.uuid4(), uuid.uuid4()


def test_a_token_names_its_business_and_cart_and_holds_under_the_key() -> None:
    token = cart_tokens.signed_token(KEY, BUSINESS, CART)
    signed = cart_tokens.read_signed(token)
    assert signed is not None
    assert (signed.business_id, signed.cart_id) == (BUSINESS, CART)
    assert cart_tokens.signature_holds(KEY, signed)
    assert not cart_tokens.signature_holds(secrets.token_hex(32), signed)


def test_no_changed_character_passes() -> None:
    token = cart_tokens.signed_token(KEY, BUSINESS, CART)
    for i in range(len(cart_tokens.PREFIX), len(token)):
        for other in "AZaz09-_":
            if other == token[i]:
                continue
            signed = cart_tokens.read_signed(token[:i] + other + token[i + 1:])
            assert signed is None or not cart_tokens.signature_holds(KEY, signed), i


def test_a_token_made_for_another_cart_or_business_does_not_pass_for_this_one() -> None:
    theirs = cart_tokens.read_signed(cart_tokens.signed_token(KEY, BUSINESS, uuid.uuid4()))
    assert theirs is not None
    moved = cart_tokens.SignedToken(business_id=BUSINESS, cart_id=CART,
                                    signature=theirs.signature)
    assert not cart_tokens.signature_holds(KEY, moved)
    other_business = cart_tokens.SignedToken(business_id=uuid.uuid4(), cart_id=CART,
                                             signature=cart_tokens.read_signed(
                                                 cart_tokens.signed_token(KEY, BUSINESS, CART)
                                             ).signature)  # type: ignore[union-attr]
    assert not cart_tokens.signature_holds(KEY, other_business)


def test_other_strings_are_not_read_as_signed_tokens() -> None:
    for text in ("", "ct_", new_cart_token(), "ct_" + "é" * 64, "ct_" + "!" * 64,
                 "xx_" + "A" * 64, "ct_" + "A" * 63):
        assert cart_tokens.read_signed(text) is None, text
