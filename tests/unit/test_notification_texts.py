"""What buyers and merchants are told, who is told, and by which channel."""

from __future__ import annotations

from typing import Any

import pytest

from orderline.events.event_types import EventType
from orderline.notifications.messaging_rules import route_to_buyer
from orderline.notifications.rules import (
    NOTIFICATION_RETRIES,
    buyer_message,
    channel_for,
    endpoint_disabled_message,
    format_money,
    low_stock_message,
    merchant_recipient,
)


def an_order(**overrides: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "number": "OL-000042", "total": 123456, "currency": "USD", "status": "paid",
        "paid_at": None, "cancel_reason": None,
        "customer": {"id": "c1", "name": "Ada", "phone": "+1 555 0100",
                     "email": "ada@example.com"},
        "shipping": {"carrier": None, "tracking_number": None, "tracking_url": None}}
    order.update(overrides)
    return order


@pytest.mark.parametrize(("amount", "currency", "shown"), [
    (123456, "USD", "1,234.56 USD"),
    (5, "EUR", "0.05 EUR"),
    (0, "USD", "0.00 USD"),
    (1500, "JPY", "1,500 JPY"),
    (1234, "KWD", "1.234 KWD"),
    (-250, "USD", "-2.50 USD"),
])
def test_amounts_in_minor_units_are_shown_with_the_currencys_decimals(
        amount: int, currency: str, shown: str) -> None:
    assert format_money(amount, currency) == shown


def test_a_paid_order_tells_the_buyer_its_number_and_total() -> None:
    text = buyer_message(EventType.ORDER_PAID, an_order(), shop="Corner Shop")
    assert text is not None
    assert "OL-000042" in text.subject and "Corner Shop" in text.subject
    assert "1,234.56 USD" in text.body and "Hello Ada," in text.body


def test_a_shipped_order_names_the_carrier_and_tracking() -> None:
    order = an_order(status="shipped", shipping={
        "carrier": "DHL", "tracking_number": "JD0001", "tracking_url": "https://t.example/JD0001"})
    text = buyer_message(EventType.ORDER_SHIPPED, order, shop="Corner Shop")
    assert text is not None
    assert "shipped" in text.subject
    assert "DHL" in text.body and "JD0001" in text.body and "https://t.example/JD0001" in text.body


def test_a_cancelled_order_gives_the_reason_and_mentions_a_refund_only_if_paid() -> None:
    unpaid = buyer_message(EventType.ORDER_CANCELLED,
                           an_order(status="cancelled", cancel_reason="payment_timeout"),
                           shop="Shop")
    paid = buyer_message(EventType.ORDER_CANCELLED,
                         an_order(status="cancelled", cancel_reason="out_of_stock",
                                  paid_at="2026-01-01T00:00:00+00:00"), shop="Shop")
    assert unpaid is not None and paid is not None
    assert "payment did not arrive before the deadline" in unpaid.body
    assert "refund" not in unpaid.body
    assert "ran out of stock" in paid.body and "refund" in paid.body


def test_a_delivered_order_is_announced_and_other_changes_are_not() -> None:
    delivered = buyer_message(EventType.ORDER_DELIVERED, an_order(), shop="Shop")
    assert delivered is not None and "delivered" in delivered.subject
    assert buyer_message(EventType.ORDER_UPDATED, an_order(), shop="Shop") is None
    created = buyer_message(EventType.ORDER_CREATED, an_order(), shop="Shop")
    assert created is not None and created.subject == "Shop: we received your order OL-000042"
    assert "1,234.56 USD" in created.body


def test_without_a_text_sender_the_buyer_is_reached_by_email_first_then_by_phone() -> None:
    def to(customer: dict[str, str | None]) -> str | None:
        route = route_to_buyer(customer, "order.paid", sender=None, notifier_channel="email")
        return None if route is None else route.recipient

    assert to({"email": "ada@example.com", "phone": "+1 555"}) == "ada@example.com"
    assert to({"email": None, "phone": "+1 555 0100"}) == "+1 555 0100"
    assert to({"email": " ", "phone": None}) is None


def test_a_phone_number_never_goes_to_the_email_channel() -> None:
    assert channel_for("ada@example.com", "email") == "email"
    assert channel_for("+1 555 0100", "email") == "log"
    assert channel_for("+1 555 0100", "log") == "log"
    assert channel_for("merchant", "email") == "log"


def test_merchant_notices_go_to_the_alert_email_or_else_the_log() -> None:
    assert merchant_recipient("owner@shop.example") == "owner@shop.example"
    assert merchant_recipient(None) == "merchant"
    assert merchant_recipient("") == "merchant"


def test_a_low_stock_alert_names_the_sku_what_is_left_and_the_threshold() -> None:
    text = low_stock_message({"sku": "MUG-RED", "available": 2, "threshold": 3}, shop="Shop")
    assert "MUG-RED" in text.subject and "2 left" in text.subject
    assert "threshold of 3" in text.body


def test_a_disabled_endpoint_notice_shows_what_the_event_carries() -> None:
    full = endpoint_disabled_message({"webhook": {
        "url": "https://hooks.example/in", "id": "we_1",
        "disabled_reason": "HTTP 500"}}, shop="Shop")
    bare = endpoint_disabled_message({}, shop="Shop")
    assert "https://hooks.example/in" in full.body and "we_1" in full.body
    assert "HTTP 500" in full.body
    assert "disabled" in bare.subject and "None" not in bare.body


def test_failed_messages_are_retried_for_about_an_hour_and_a_half_in_six_tries() -> None:
    assert NOTIFICATION_RETRIES.max_attempts == 6
    assert NOTIFICATION_RETRIES.next_delay(1, 0) == 10
    assert NOTIFICATION_RETRIES.next_delay(5, 0) == 3600
    assert NOTIFICATION_RETRIES.next_delay(6, 0) is None


def test_each_parcel_is_told_once_the_last_one_by_order_shipped() -> None:
    parcel = {"number": 1, "carrier": "JNE", "tracking_number": "JNE-1",
              "tracking_url": "https://track.example/1",
              "lines": [{"sku": "MUG", "quantity": 2, "location": "main"}]}
    text = buyer_message(EventType.SHIPMENT_CREATED, an_order(status="partially_shipped"),
                         shop="Toko", shipment=parcel)
    assert text is not None
    assert text.subject == "Toko: part of order OL-000042 has shipped"
    assert "Parcel 1 of your order OL-000042 (2 items) is on its way with JNE" in text.body
    assert "Tracking number: JNE-1" in text.body
    assert "Track it here: https://track.example/1" in text.body
    # The parcel that completes the order: order.shipped tells it.
    assert buyer_message(EventType.SHIPMENT_CREATED, an_order(status="shipped"), shop="Toko",
                         shipment=parcel) is None
