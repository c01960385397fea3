"""The pure webhook rules: which URLs may receive webhooks, which events an endpoint takes,
what a failed attempt leads to, and how secrets and signatures look."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from orderline.core.errors import InvalidWebhookUrl, UnsafeWebhookUrl, ValidationFailed
from orderline.core.retry import RetrySchedule
from orderline.events.event_types import EventType
from orderline.webhooks.rules import (
    DeliveryStatus,
    after_failure,
    check_addresses,
    endpoint_wants,
    matches_event_type,
    new_signing_secret,
    parse_webhook_url,
    previous_secret_expiry,
    previous_secret_in_use,
    should_disable,
    unsafe_reason,
)
from orderline.webhooks.sender import pinned_request, signed_headers

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("address", "reason"), [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("10.0.0.5", "private"),
    ("172.16.3.4", "private"),
    ("192.168.1.1", "private"),
    ("fc00::1", "private"),
    ("169.254.169.254", "link-local"),  # the cloud metadata service
    ("fe80::1", "link-local"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("100.64.0.1", "not publicly routable"),
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
    ("2002:7f00:1::", "loopback"),  # 6to4 around 127.0.0.1
    ("2002:a00:1::", "private"),  # 6to4 around 10.0.0.1
    ("64:ff9b::a00:1", "reserved"),  # NAT64 around 10.0.0.1
])
def test_internal_addresses_are_refused_with_the_reason(address: str, reason: str) -> None:
    assert unsafe_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert unsafe_reason(ipaddress.ip_address(address)) is None


def test_one_internal_address_among_public_ones_refuses_the_host() -> None:
    with pytest.raises(UnsafeWebhookUrl) as refused:
        check_addresses("sneaky.example", ["93.184.215.14", "10.1.2.3"], allow_private=False)
    assert refused.value.code == "unsafe_webhook_url"
    assert refused.value.details["refused_addresses"] == {"10.1.2.3": "private"}
    assert "development_mode" in refused.value.message
    check_addresses("sneaky.example", ["93.184.215.14", "10.1.2.3"], allow_private=True)
    check_addresses("fine.example", ["93.184.215.14"], allow_private=False)


def test_a_host_with_no_address_is_refused_even_in_development_mode() -> None:
    with pytest.raises(InvalidWebhookUrl):
        check_addresses("nowhere.example", [], allow_private=True)


@pytest.mark.parametrize("url", ["ftp://example.com/hook", "file:///etc/passwd",
                                 "gopher://example.com", "javascript:alert(1)",
                                 "example.com/hook", "https:///path-only", "http://",
                                 "https://exa mple.com/", "https://example.com:99999/", ""])
def test_only_http_and_https_urls_with_a_host_are_accepted(url: str) -> None:
    with pytest.raises(InvalidWebhookUrl) as refused:
        parse_webhook_url(url)
    assert refused.value.code == "invalid_webhook_url"


def test_a_url_names_its_host_and_port() -> None:
    target = parse_webhook_url("HTTPS://Hooks.Example.com./in")
    assert (target.scheme, target.host, target.port) == ("https", "hooks.example.com", 443)
    assert parse_webhook_url("http://[::1]:8080/x").host == "::1"
    assert parse_webhook_url("http://example.com/x").port == 80


def test_an_endpoint_takes_the_events_it_chose() -> None:
    assert matches_event_type(["*"], "stock.low")
    assert matches_event_type(["order.*"], "order.paid")
    assert not matches_event_type(["order.*"], "stock.low")
    assert matches_event_type(["stock.low", "order.paid"], "order.paid")
    assert not matches_event_type(["order.paid"], "order.paid.extra")
    assert not matches_event_type(["no.such.*"], "order.paid")


def test_an_endpoint_never_gets_the_notice_of_its_own_disabling() -> None:
    me, other = uuid.uuid4(), uuid.uuid4()
    disabled = EventType.WEBHOOK_ENDPOINT_DISABLED.value
    assert not endpoint_wants(endpoint_id=me, patterns=["*"], event_type=disabled,
                              aggregate_id=me)
    assert endpoint_wants(endpoint_id=me, patterns=["*"], event_type=disabled,
                          aggregate_id=other)


def test_failed_attempts_are_retried_on_the_schedule_then_the_delivery_is_dead() -> None:
    schedule = RetrySchedule(delays=(5, 300), jitter=0.2)
    first = after_failure(schedule, failed_attempts=1, spread=0.0, now=NOW)
    assert (first.status, first.next_attempt_at) == (DeliveryStatus.RETRYING,
                                                     NOW + timedelta(seconds=5))
    second = after_failure(schedule, failed_attempts=2, spread=1.0, now=NOW)
    assert second.next_attempt_at == NOW + timedelta(seconds=360)  # +20 % jitter
    last = after_failure(schedule, failed_attempts=3, spread=0.0, now=NOW)
    assert last.dead and last.status == DeliveryStatus.DEAD


def test_the_default_schedule_is_the_standard_webhooks_one() -> None:
    delays = RetrySchedule().delays
    assert delays[:3] == (5, 300, 1800) and len(delays) + 1 == 8
    assert 26 * 3600 < sum(delays) < 28 * 3600


def test_an_endpoint_is_disabled_once_its_failures_in_a_row_reach_the_limit() -> None:
    assert not should_disable(29, limit=30)
    assert should_disable(30, limit=30)
    assert not should_disable(1000, limit=0)  # 0 switches the rule off


def test_a_signing_secret_is_whsec_and_the_base64_of_its_random_bytes() -> None:
    raw = bytes(range(32))
    secret = new_signing_secret(raw)
    assert secret.startswith("whsec_")
    assert base64.b64decode(secret.removeprefix("whsec_")) == raw
    with pytest.raises(ValueError):
        new_signing_secret(b"short")


def test_the_signature_is_the_standard_webhooks_hmac_of_id_timestamp_and_body() -> None:
    secret = new_signing_secret(b"k" * 24)
    body = '{"id":"evt","type":"order.paid"}'
    headers = signed_headers(secret, msg_id="evt_1", timestamp=NOW, body=body)
    timestamp = str(int(NOW.timestamp()))
    expected = base64.b64encode(hmac.new(b"k" * 24, f"evt_1.{timestamp}.{body}".encode(),
                                         hashlib.sha256).digest()).decode()
    assert headers["webhook-id"] == "evt_1"
    assert headers["webhook-timestamp"] == timestamp
    assert headers["webhook-signature"] == f"v1,{expected}"
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("Orderline-Webhooks/")


def _hmac(key: bytes, signed: str) -> str:
    return base64.b64encode(hmac.new(key, signed.encode(), hashlib.sha256).digest()).decode()


def test_during_a_rotation_the_header_holds_the_new_signature_then_the_old_one() -> None:
    new, old = new_signing_secret(b"n" * 32), new_signing_secret(b"o" * 32)
    body = '{"id":"evt"}'
    signed = f"evt_2.{int(NOW.timestamp())}.{body}"
    headers = signed_headers(new, previous_secret=old, msg_id="evt_2", timestamp=NOW,
                             body=body)
    assert headers["webhook-signature"] == (
        f"v1,{_hmac(b'n' * 32, signed)} v1,{_hmac(b'o' * 32, signed)}")
    alone = signed_headers(new, previous_secret=None, msg_id="evt_2", timestamp=NOW, body=body)
    assert alone["webhook-signature"] == f"v1,{_hmac(b'n' * 32, signed)}"


def test_the_replaced_secret_signs_until_its_expiry_and_not_from_that_moment() -> None:
    expires = NOW + timedelta(hours=1)
    assert previous_secret_in_use("whsec_old", expires, now=NOW) == "whsec_old"
    assert previous_secret_in_use("whsec_old", expires,
                                  now=expires - timedelta(microseconds=1)) == "whsec_old"
    assert previous_secret_in_use("whsec_old", expires, now=expires) is None
    assert previous_secret_in_use("whsec_old", None, now=NOW) is None
    assert previous_secret_in_use(None, expires, now=NOW) is None


def test_a_rotation_overlap_is_zero_to_a_week_and_zero_keeps_no_old_secret() -> None:
    assert previous_secret_expiry(overlap_seconds=86_400, now=NOW) == NOW + timedelta(days=1)
    assert previous_secret_expiry(overlap_seconds=604_800, now=NOW) == NOW + timedelta(days=7)
    assert previous_secret_expiry(overlap_seconds=0, now=NOW) is None
    for refused in (-1, 604_801):
        with pytest.raises(ValidationFailed) as caught:
            previous_secret_expiry(overlap_seconds=refused, now=NOW)
        assert caught.value.details == {"overlap_seconds": refused}


def test_a_checked_address_is_what_the_request_connects_to_while_naming_the_host() -> None:
    url, headers, extensions = pinned_request("https://hooks.example.com:8443/in?x=1",
                                              "93.184.215.14")
    assert str(url) == "https://93.184.215.14:8443/in?x=1"
    assert headers == {"host": "hooks.example.com:8443"}
    assert extensions == {"sni_hostname": "hooks.example.com"}
    url, headers, extensions = pinned_request("http://hooks.example.com/in",
                                              "2606:4700:4700::1111")
    assert str(url) == "http://[2606:4700:4700::1111]/in"
    assert (headers, extensions) == ({"host": "hooks.example.com"}, {})
    assert pinned_request("http://localhost:8000/", None)[1:] == ({}, {})
