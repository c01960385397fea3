"""SMS and WhatsApp rules: phone numbers, how a buyer is reached, template payloads, status
order, and which sender settings could send."""

from __future__ import annotations

from typing import Any

import pytest

from orderline.core.errors import ValidationFailed
from orderline.notifications.messaging_rules import (
    CASH_CODE,
    SenderView,
    check_sender,
    cloud_template_payload,
    e164,
    route_to_buyer,
    statuses_before,
    template_parameters,
)

BUYER = {"name": "Ada", "email": "ada@example.com", "phone": "+63 917 555 0101"}
TWILIO = SenderView("twilio_sms", {})
CLOUD = SenderView("whatsapp_cloud", {"order.created": "order_confirmation"})


def test_phone_numbers_are_sent_in_international_form_or_not_at_all() -> None:
    assert e164("+63 917 555 0101") == "+639175550101"
    assert e164("0063 (917) 555-0101") == "+639175550101"
    assert e164("0917 555 0101") is None  # no country code: it cannot be texted
    assert e164("+1 555") is None
    assert e164(None) is None


def test_a_buyer_with_a_phone_is_texted_when_the_business_has_a_sender() -> None:
    route = route_to_buyer(BUYER, "order.created", sender=TWILIO, notifier_channel="email")
    assert route is not None
    assert (route.recipient, route.channel, route.provider) == (
        "+639175550101", "sms", "twilio_sms")
    cloud = route_to_buyer(BUYER, "order.created", sender=CLOUD, notifier_channel="log")
    assert cloud is not None
    assert (cloud.channel, cloud.template) == ("whatsapp", "order_confirmation")


def test_without_a_sender_a_template_or_a_full_number_the_buyer_is_reached_as_before() -> None:
    no_template = route_to_buyer(BUYER, "order.paid", sender=CLOUD, notifier_channel="email")
    assert no_template is not None and (no_template.recipient, no_template.channel) == (
        "ada@example.com", "email")
    local = {"name": "Ada", "phone": "0917 555 0101"}
    route = route_to_buyer(local, "order.paid", sender=TWILIO, notifier_channel="email")
    assert route is not None and (route.recipient, route.channel) == ("0917 555 0101", "log")
    assert route_to_buyer({"name": "Ada"}, "order.paid", sender=TWILIO,
                          notifier_channel="email") is None


def test_statuses_only_move_forward() -> None:
    assert statuses_before("sent") == ("queued",)
    assert set(statuses_before("delivered")) == {"queued", "sent"}
    assert "delivered" not in statuses_before("failed")
    assert set(statuses_before("read")) == {"queued", "sent", "delivered", "failed",
                                            "undeliverable"}


def an_order() -> dict[str, Any]:
    return {"number": "OL-000007", "total": 125000, "currency": "PHP", "customer": BUYER,
            "shipping": {"carrier": "LBC", "tracking_number": "X1"}, "cancel_reason": "buyer"}


def test_templates_get_their_parameters_in_the_documented_order() -> None:
    order = an_order()
    assert template_parameters("order.created", order, shop="Shop") == [
        "Ada", "OL-000007", "1,250.00 PHP", "Shop"]
    assert template_parameters("order.shipped", order, shop="Shop") == ["OL-000007", "LBC", "X1"]
    assert template_parameters("order.cancelled", order, shop="Shop") == [
        "OL-000007", "you asked us to cancel it"]


def test_a_cash_code_fills_the_authentication_templates_body_and_button() -> None:
    payload = cloud_template_payload(to="+639175550101", template="code", language="en",
                                     kind=CASH_CODE, params=["123456"])
    assert payload["to"] == "639175550101" and payload["type"] == "template"
    body, button = payload["template"]["components"]
    assert body["parameters"] == [{"type": "text", "text": "123456"}]
    assert button["sub_type"] == "url" and button["parameters"][0]["text"] == "123456"


TWILIO_SETTINGS = {"provider": "twilio_sms", "twilio_account_sid": "AC" + "a" * 32,
                   "twilio_from_number": "+14155550100"}


def test_complete_sender_settings_pass_and_each_missing_piece_is_named() -> None:
    check_sender(TWILIO_SETTINGS, secrets_set={"twilio_auth_token": True})
    cases = [({}, {"twilio_auth_token": True}, "provider"),
             (TWILIO_SETTINGS, {}, "twilio_auth_token"),
             ({**TWILIO_SETTINGS, "twilio_from_number": None}, {"twilio_auth_token": True},
              "twilio_from_number"),
             ({"provider": "whatsapp_cloud", "whatsapp_phone_number_id": "12",
               "whatsapp_api_version": "v21.0", "whatsapp_language": "en"},
              {"whatsapp_access_token": True}, "whatsapp_app_secret")]
    for settings, secrets_set, field in cases:
        with pytest.raises(ValidationFailed) as refused:
            check_sender(settings, secrets_set=secrets_set)
        assert refused.value.details["field"] == field
