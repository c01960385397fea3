"""The typed rows of checkouts, carts, idempotency keys, one-time codes, the business's
settings and the money ledger name exactly the columns they are read from, so a new or renamed
column fails here rather than as a TypeError in one request."""

from __future__ import annotations

import uuid
from dataclasses import fields

from sqlalchemy import Table

from orderline.checkout import cart_store, checkout_store
from orderline.checkout.cart_store import AvailableCartLine, PricedCartLine
from orderline.checkout.checkout_store import CHECKOUT_COLUMNS, CheckoutWithCart
from orderline.cod import store as cod_store
from orderline.idempotency import store as idempotency_store
from orderline.payments import store as payment_store
from orderline.tenancy import store as tenancy_store


def _names(table: Table) -> tuple[str, ...]:
    return tuple(c.name for c in table.c)


def test_a_checkout_row_has_every_column_of_checkouts_in_table_order() -> None:
    assert _names(checkout_store.checkouts) == CHECKOUT_COLUMNS


def test_a_loaded_checkout_adds_its_carts_state_and_the_business_settings() -> None:
    added = tuple(f.name for f in fields(CheckoutWithCart))[len(CHECKOUT_COLUMNS):]
    assert added == ("cart_status", "current_cart_version", "cart_customer_id", "cart_made_by",
                     "settings")
    assert "channel" in CHECKOUT_COLUMNS  # the cart's, kept on the checkout
    assert not set(tenancy_store.SETTING_COLUMNS) & set(CHECKOUT_COLUMNS + added)


def test_business_settings_are_columns_of_businesses_read_in_field_order() -> None:
    assert set(tenancy_store.SETTING_COLUMNS) <= set(_names(tenancy_store.businesses))
    assert tuple(c.name for c in tenancy_store.SETTINGS) == tenancy_store.SETTING_COLUMNS


def test_a_cart_row_is_every_column_of_carts_but_the_token_hash_business_and_maker() -> None:
    shown = tuple(n for n in _names(cart_store.carts)
                  if n not in ("token_hash", "business_id", "made_by"))
    assert shown == cart_store.CART_COLUMNS
    assert [c.name for c in cart_store.CART_VIEW] == list(shown)


def test_cart_lines_are_read_with_exactly_the_columns_of_their_statement() -> None:
    ids = (uuid.uuid4(), uuid.uuid4(), uuid.uuid4())
    selected = [c.name for c in cart_store._lines_at(*ids).selected_columns]
    assert [f.name for f in fields(PricedCartLine)] == selected
    assert [f.name for f in fields(AvailableCartLine)] == [*selected, "available", "archived"]


def test_an_idempotency_key_row_has_every_column_of_idempotency_keys() -> None:
    assert _names(idempotency_store.keys) == idempotency_store.IDEMPOTENCY_KEY_COLUMNS


def test_a_one_time_code_row_has_every_column_of_cod_otps() -> None:
    assert _names(cod_store.otps) == cod_store.OTP_COLUMNS


def test_a_ledger_movement_is_every_column_of_payment_movements_but_business_and_order() -> None:
    shown = tuple(n for n in _names(payment_store.movements)
                  if n not in ("business_id", "order_id"))
    assert shown == payment_store.MOVEMENT_COLUMNS


def test_a_ledger_row_compares_every_amount_with_the_sum_of_its_kind() -> None:
    names = [f.name for f in fields(payment_store.LedgerRow)]
    sums = {f"ledger_{kind}" for kind in payment_store.LEDGER_KINDS}
    assert sums == payment_store.LEDGER_SUMS
    assert sums <= set(names)
    amounts = [n for n in names if n.startswith("amount_")]
    assert set(amounts) <= set(_names(payment_store.intents))
    assert len(amounts) == len(payment_store.LEDGER_KINDS)
