"""The settings pages over HTTP (the app over ASGI, a staff session's cookie and CSRF token),
on each database: each form post changes what the API then reads, a refusal is shown next to
its field and changes nothing, secrets are shown once, only owners and admins get in, another
business's ids are the 404 page, and the audit log names the staff member.

The browser journeys are in ``test_console_settings.py``; these are the fast checks of every
section."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest

from orderline.core.errors import SessionExpired
from orderline.core.runtime import Runtime
from orderline.staff import service as staff
from orderline.web.console import settings_commerce_pages
from orderline.webhooks import service as webhooks
from tests.conftest import Merchant, new_merchant
from tests.e2e.conftest import api_client, error_of, ok
from tests.support.console_settings import SECTIONS, dead_letter
from tests.support.manual import php_merchant
from tests.support.staff import join, logged_in, new_email, staff_runtime

HTML = {"Accept": "text/html,application/xhtml+xml"}
PUBLIC_URL = "https://93.184.215.14/hooks"  # an IP literal: no DNS, and never called here


@dataclass
class Console:
    """A staff member's browser, without the browser: their session cookie and CSRF token."""
    http: httpx.AsyncClient
    cookie: str
    csrf: str
    staff_id: str

    def _headers(self) -> dict[str, str]:
        return {**HTML, "Cookie": f"orderline_session={self.cookie}"}

    async def get(self, path: str) -> httpx.Response:
        return await self.http.get(f"/console/settings{path}", headers=self._headers())

    async def post(self, path: str, data: dict[str, Any] | None = None) -> httpx.Response:
        return await self.http.post(f"/console/settings{path}", headers=self._headers(),
                                    data={"csrf_token": self.csrf, **(data or {})})


@pytest.fixture
async def http(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(staff_runtime(runtime)) as client:
        yield client


async def console_of(runtime: Runtime, http: httpx.AsyncClient, merchant: Merchant,
                     role: str) -> Console:
    member = await join(runtime, merchant.principal.business_id, role, name=f"Sam {role}")
    started, _ = await logged_in(runtime, member)
    return Console(http=http, cookie=started.token, csrf=started.csrf_token,
                   staff_id=str(member.row.id))


@pytest.fixture
async def owner(runtime: Runtime, http: httpx.AsyncClient, merchant: Merchant) -> Console:
    return await console_of(runtime, http, merchant, "owner")


def done(response: httpx.Response, section: str) -> str:
    """A change answered with a redirect to its section; the query says what was done."""
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(f"/console/settings{section}?done="), location
    return location


def error_next_to(response: httpx.Response, field: str) -> str:
    """The page came back with the error summary linking to ``field`` and the message beside
    it; returns the message."""
    assert response.status_code == 400, response.text
    assert f'href="#{field}"' in response.text, response.text
    match = re.search(rf'id="{re.escape(field)}-error">([^<]+)<', response.text)
    assert match, f"no error next to {field}"
    return match.group(1)


async def test_only_owners_and_admins_open_the_settings_and_the_others_get_the_403_page(
        runtime: Runtime, http: httpx.AsyncClient, merchant: Merchant) -> None:
    for role, status in (("owner", 200), ("admin", 200), ("operations", 403),
                         ("verifier", 403), ("viewer", 403)):
        console = await console_of(runtime, http, merchant, role)
        for section in SECTIONS:
            page = await console.get(section)
            assert page.status_code == status, (role, section)
            assert page.headers["content-type"].startswith("text/html")
        if status == 403:
            refused = await console.post("/api-keys", {"key_name": "sneaky", "scopes": "admin"})
            assert refused.status_code == 403, role
    keys = ok(await http.get("/v1/api-keys", headers=merchant.headers))["data"]
    assert "sneaky" not in [k["name"] for k in keys]


async def test_the_index_links_every_section(owner: Console) -> None:
    page = await owner.get("")
    for section in SECTIONS[1:]:
        assert f'href="/console/settings{section}"' in page.text, section


async def test_the_business_form_changes_what_the_api_reads_and_a_bad_time_is_refused(
        owner: Console, http: httpx.AsyncClient, merchant: Merchant) -> None:
    page = await owner.get("/business")
    assert "USD" in page.text and 'name="currency"' not in page.text  # shown, not editable
    done(await owner.post("/business", {
        "name": "Toko Sari", "alert_email": "Alerts@Example.com", "reservation_minutes": "20",
        "invoice_address": " Jl. Malioboro 12, Yogyakarta \r\nNPWP 01.234.567.8 ",
        "allowed_origins": "https://shop.example.com\nhttps://m.example.com"}), "/business")
    business = ok(await http.get("/v1/business", headers=merchant.headers))
    assert business["invoice_address"] == "Jl. Malioboro 12, Yogyakarta\nNPWP 01.234.567.8"
    assert "NPWP 01.234.567.8" in (await owner.get("/business")).text
    assert (business["name"], business["alert_email"], business["reservation_ttl_seconds"]) == (
        "Toko Sari", "alerts@example.com", 1200)
    assert sorted(business["allowed_origins"]) == ["https://m.example.com",
                                                   "https://shop.example.com"]

    assert "whole number" in error_next_to(await owner.post("/business", {
        "name": "Other", "reservation_minutes": "soon"}), "reservation_minutes")
    error_next_to(await owner.post("/business", {
        "name": "Other", "reservation_minutes": "100000"}), "reservation_minutes")
    refused = await owner.post("/business", {"name": "Other", "reservation_minutes": "20",
                                             "allowed_origins": "shop.example.com/path"})
    error_next_to(refused, "allowed_origins")
    assert ok(await http.get("/v1/business", headers=merchant.headers))["name"] == "Toko Sari"

    done(await owner.post("/business/channels", {"channel_code": "bazaar",
                                                 "channel_name": "Weekend bazaar"}), "/business")
    channels = ok(await http.get("/v1/channels", headers=merchant.headers))["data"]
    assert "bazaar" in [c["code"] for c in channels]
    error_next_to(await owner.post("/business/channels", {"channel_code": "bazaar"}),
                  "channel_code")


async def test_a_payment_method_from_a_template_is_offered_switched_off_and_deleted(
        runtime: Runtime, http: httpx.AsyncClient) -> None:
    merchant = await php_merchant(runtime)
    owner = await console_of(runtime, http, merchant, "owner")
    page = await owner.get("/payments")
    assert 'value="gcash"' in page.text  # the country templates to start from, in pesos
    assert 'value="duitnow"' not in page.text  # a ringgit method cannot take peso orders
    error_next_to(await owner.post("/payments", {"template": "gcash", "account_name": "Sari",
                                                 "account_number": ""}), "account_number")
    assert ok(await http.get("/v1/payment-methods", headers=merchant.headers))["data"] == []
    done(await owner.post("/payments", {"template": "gcash", "account_name": "Sari Santos",
                                        "account_number": "09171234567", "enabled": "on"}),
         "/payments")
    [method] = ok(await http.get("/v1/payment-methods", headers=merchant.headers))["data"]
    assert (method["code"], method["account_number"], method["enabled"]) == (
        "gcash", "09171234567", True)
    done(await owner.post(f"/payments/{method['id']}/disable"), "/payments")
    [method] = ok(await http.get("/v1/payment-methods", headers=merchant.headers))["data"]
    assert method["enabled"] is False
    done(await owner.post(f"/payments/{method['id']}/delete"), "/payments")
    assert ok(await http.get("/v1/payment-methods", headers=merchant.headers))["data"] == []

    proofs = {"proof_deadline_minutes": "90", "proof_review_hours": "12",
              "proof_max_bytes": "2000000", "proof_retention_days": "30",
              "auto_approve_threshold": "0.9"}
    done(await owner.post("/payments/proofs", proofs), "/payments")
    settings = ok(await http.get("/v1/business/manual-payments", headers=merchant.headers))
    assert settings == {"proof_deadline_minutes": 90, "proof_review_hours": 12,
                        "proof_max_bytes": 2000000, "proof_retention_days": 30,
                        "auto_approve_threshold": 0.9}
    error_next_to(await owner.post("/payments/proofs", {**proofs, "proof_review_hours": "0"}),
                  "proof_review_hours")
    done(await owner.post("/payments/proofs", {**proofs, "auto_approve_threshold": ""}),
         "/payments")
    assert ok(await http.get("/v1/business/manual-payments", headers=merchant.headers))[
        "auto_approve_threshold"] is None


async def test_the_cash_on_delivery_policy_and_shipping_zones_are_changed_from_their_pages(
        owner: Console, http: httpx.AsyncClient, merchant: Merchant) -> None:
    h = merchant.headers
    error_next_to(await owner.post("/shipping", {"zone_name": "Nowhere", "countries": "XX1"}),
                  "countries")
    done(await owner.post("/shipping", {"zone_name": "Java", "countries": "id",
                                        "regions": "Jawa Barat\nJawa Timur"}), "/shipping")
    [zone] = ok(await http.get("/v1/shipping-zones", headers=h))["data"]
    assert (zone["name"], zone["countries"], zone["regions"]) == (
        "Java", ["ID"], ["Jawa Barat", "Jawa Timur"])
    zone_path = f"/shipping/{zone['id']}"
    done(await owner.post(f"{zone_path}/methods", {"method_name": "Courier", "kind": "flat",
                                                   "price": "2.50"}), "/shipping")
    error_next_to(await owner.post(f"{zone_path}/methods", {"method_name": "Cheap",
                                                            "kind": "flat", "price": "2.505"}),
                  "price")
    done(await owner.post(f"{zone_path}/tax-rates", {"rate_name": "PPN", "rate": "11",
                                                     "applies_to_shipping": "on"}), "/shipping")
    error_next_to(await owner.post(f"{zone_path}/tax-rates", {"rate_name": "Bad",
                                                              "rate": "101"}), "rate")
    [zone] = ok(await http.get("/v1/shipping-zones", headers=h))["data"]
    [method] = zone["methods"]
    assert (method["name"], method["price"], method["active"]) == ("Courier", 250, True)
    assert [(r["name"], r["applies_to_shipping"]) for r in zone["tax_rates"]] == [("PPN", True)]
    done(await owner.post(f"{zone_path}/methods/{method['id']}/disable"), "/shipping")
    [zone] = ok(await http.get("/v1/shipping-zones", headers=h))["data"]
    assert zone["methods"][0]["active"] is False

    done(await owner.post("/cod", {"enabled": "on", "zone_ids": zone["id"],
                                   "max_order_total": "150.00", "max_open_orders": "2",
                                   "min_trust_score": "10", "otp_first_order": "on"}), "/cod")
    policy = ok(await http.get("/v1/business/cod", headers=h))
    assert (policy["enabled"], policy["zone_ids"], policy["max_order_total"],
            policy["max_open_orders"], policy["otp_first_order"], policy["otp_above_total"]) == (
        True, [zone["id"]], 15000, 2, True, None)
    page = await owner.get("/cod")
    assert 'value="150.00"' in page.text
    error_next_to(await owner.post("/cod", {"enabled": "on", "max_open_orders": "0"}),
                  "max_open_orders")
    assert ok(await http.get("/v1/business/cod", headers=h))["max_open_orders"] == 2

    done(await owner.post(f"{zone_path}/tax-rates/{zone['tax_rates'][0]['id']}/delete"),
         "/shipping")
    done(await owner.post(f"{zone_path}/delete"), "/shipping")
    assert ok(await http.get("/v1/shipping-zones", headers=h))["data"] == []


async def test_coupons_are_created_edited_and_switched_off_with_their_use_shown(
        owner: Console, http: httpx.AsyncClient, merchant: Merchant) -> None:
    h = merchant.headers
    error_next_to(await owner.post("/coupons", {"code": "HALF", "kind": "percentage",
                                                "percent_off": "150"}), "percent_off")
    done(await owner.post("/coupons", {"code": "lebaran10", "kind": "percentage",
                                       "percent_off": "10", "usage_limit": "100"}), "/coupons")
    error_next_to(await owner.post("/coupons", {"code": "LEBARAN10", "kind": "percentage",
                                                "percent_off": "5"}), "code")
    [coupon] = ok(await http.get("/v1/coupons", headers=h))["data"]
    assert (coupon["code"], coupon["percent_off"], coupon["usage_limit"]) == (
        "LEBARAN10", 10.0, 100)
    page = await owner.get(f"/coupons/{coupon['id']}")
    assert "Used 0 times" in page.text and "100 uses left" in page.text
    done(await owner.post(f"/coupons/{coupon['id']}", {"kind": "percentage",
                                                       "percent_off": "15",
                                                       "usage_limit": ""}), "/coupons")
    coupon = ok(await http.get(f"/v1/coupons/{coupon['id']}", headers=h))
    assert (coupon["percent_off"], coupon["usage_limit"]) == (15.0, None)
    done(await owner.post(f"/coupons/{coupon['id']}/disable"), "/coupons")
    assert ok(await http.get(f"/v1/coupons/{coupon['id']}", headers=h))["active"] is False
    done(await owner.post("/coupons", {"code": "ONGKIR", "kind": "fixed_amount",
                                       "amount_off": "5"}), "/coupons")
    amounts = {c["code"]: c["amount_off"]
               for c in ok(await http.get("/v1/coupons", headers=h))["data"]}
    assert amounts["ONGKIR"] == 500


async def test_an_api_key_is_shown_once_works_and_is_revoked(
        owner: Console, http: httpx.AsyncClient, merchant: Merchant) -> None:
    error_next_to(await owner.post("/api-keys", {"key_name": "Shop"}), "scopes")
    made = await owner.post("/api-keys", {"key_name": "Web shop", "scopes": ["read", "write"]})
    assert made.status_code == 200
    key = re.search(r'id="secret-value" type="text" readonly value="([^"]+)"', made.text)
    assert key, made.text
    token = key.group(1)
    assert "shown only this once" in made.text
    listed = await owner.get("/api-keys")
    assert "Web shop" in listed.text and token not in listed.text
    assert ok(await http.get("/v1/orders", headers={"Authorization": f"Bearer {token}"}))
    [mine] = [k for k in ok(await http.get("/v1/api-keys", headers=merchant.headers))["data"]
              if k["name"] == "Web shop"]
    assert mine["scopes"] == "read,write"
    done(await owner.post(f"/api-keys/{mine['id']}/revoke"), "/api-keys")
    error_of(await http.get("/v1/orders", headers={"Authorization": f"Bearer {token}"}),
             401, "unauthorized")


async def test_each_key_shows_when_it_was_last_used_in_the_api_and_on_the_page(
        owner: Console, http: httpx.AsyncClient, merchant: Merchant) -> None:
    made = ok(await http.post("/v1/api-keys", headers=merchant.headers,
                              json={"name": "Unused one", "scopes": ["read"]}), 201)
    listed = {k["name"]: k for k in ok(await http.get("/v1/api-keys",
                                                      headers=merchant.headers))["data"]}
    assert listed["Unused one"]["last_used_at"] is None
    used = listed[next(n for n, k in listed.items() if k["id"] == str(
        merchant.principal.key_id))]
    assert used["last_used_at"] is not None  # this very request's key
    page = await owner.get("/api-keys")
    assert page.status_code == 200
    assert 'data-label="Last used">Never' in page.text
    when = datetime.fromisoformat(used["last_used_at"]).strftime("%Y-%m-%d %H:%M")
    assert f"{when} UTC" in page.text
    schema = ok(await http.get("/openapi.json"))["components"]["schemas"]["ApiKeyOut"]
    assert "last_used_at" in schema["properties"] and "last_used_at" in schema["required"]
    assert made["id"] == listed["Unused one"]["id"]


async def test_webhooks_show_the_secret_once_list_dead_letters_and_replay_them(
        runtime: Runtime, owner: Console, http: httpx.AsyncClient, merchant: Merchant) -> None:
    error_next_to(await owner.post("/webhooks", {"url": "ftp://example.com",
                                                 "event_types": "*"}), "url")
    made = await owner.post("/webhooks", {"url": PUBLIC_URL, "event_types": ["order.*"],
                                          "description": "ERP"})
    secret = re.search(r'readonly value="(whsec_[^"]+)"', made.text)
    assert secret, made.text
    [endpoint] = ok(await http.get("/v1/webhooks", headers=merchant.headers))["data"]
    assert endpoint["event_types"] == ["order.*"]
    shown = await owner.get(f"/webhooks/{endpoint['id']}")
    assert secret.group(1) not in shown.text
    rotated = await owner.post(f"/webhooks/{endpoint['id']}/rotate")
    new_secret = re.search(r'readonly value="(whsec_[^"]+)"', rotated.text)
    assert new_secret and new_secret.group(1) != secret.group(1)
    done(await owner.post(f"/webhooks/{endpoint['id']}/delete"), "/webhooks")

    letter = await dead_letter(runtime, merchant, "SET-DLQ")
    listing = await owner.get("/webhooks")
    assert f'/console/settings/webhooks/{letter.endpoint_id}?status=dead' in listing.text
    page = await owner.get(f"/webhooks/{letter.endpoint_id}?status=dead")
    replay = f"/webhooks/{letter.endpoint_id}/deliveries/{letter.delivery_id}/replay"
    assert f'action="/console/settings{replay}"' in page.text
    done(await owner.post(replay), f"/webhooks/{letter.endpoint_id}")
    delivery = await webhooks.get_delivery(runtime, merchant.principal, letter.endpoint_id,
                                           letter.delivery_id)
    assert delivery["status"] == "pending"
    done(await owner.post(replay), f"/webhooks/{letter.endpoint_id}")  # queued already: fine
    await webhooks.delete_endpoint(runtime, merchant.principal, letter.endpoint_id)


async def test_staff_are_invited_changed_and_the_rules_are_said_in_plain_words(
        runtime: Runtime, http: httpx.AsyncClient, merchant: Merchant, owner: Console) -> None:
    admin = await console_of(runtime, http, merchant, "admin")
    refused = await admin.post("/staff/invitations", {"email": new_email(), "role": "owner"})
    assert "Only an owner" in error_next_to(refused, "role")
    assert ok(await http.get("/v1/staff/invitations", headers=merchant.headers))["data"] == []

    email = new_email("verifier")
    invited = await admin.post("/staff/invitations", {"email": email, "role": "verifier"})
    link = re.search(r'readonly value="([^"]+/console/invitations/[^"]+)"', invited.text)
    assert invited.status_code == 200 and link, invited.text
    [pending] = ok(await http.get("/v1/staff/invitations", headers=merchant.headers))["data"]
    assert (pending["email"], pending["role"]) == (email, "verifier")
    listed = await admin.get("/staff")
    assert email in listed.text and link.group(1) not in listed.text
    resent = await admin.post(f"/staff/invitations/{pending['id']}/resend")
    assert "/console/invitations/" in resent.text
    done(await admin.post(f"/staff/invitations/{pending['id']}/revoke"), "/staff")
    assert ok(await http.get("/v1/staff/invitations", headers=merchant.headers))["data"] == []

    clerk = await join(runtime, merchant.principal.business_id, "viewer", name="Cleo")
    path = f"/staff/{clerk.row.id}"
    done(await admin.post(f"{path}/role", {"role": "operations"}), "/staff")
    done(await admin.post(f"{path}/disable"), "/staff")
    member = {m["id"]: m for m in ok(await http.get("/v1/staff",
                                                    headers=merchant.headers))["data"]}
    assert (member[str(clerk.row.id)]["role"], member[str(clerk.row.id)]["status"]) == (
        "operations", "disabled")
    done(await admin.post(f"{path}/enable"), "/staff")
    done(await admin.post(f"{path}/remove"), "/staff")
    assert str(clerk.row.id) not in {m["id"] for m in ok(await http.get(
        "/v1/staff", headers=merchant.headers))["data"]}

    last_owner = await owner.post(f"/staff/{owner.staff_id}/role", {"role": "admin"})
    assert last_owner.status_code == 400 and "last active owner" in last_owner.text
    refused = await admin.post(f"/staff/{owner.staff_id}/disable")
    assert refused.status_code == 400 and "Only an owner" in refused.text

    # The audit log names the staff member who acted, as for a key.
    entries = ok(await http.get("/v1/audit", headers=merchant.headers,
                                params={"entity_type": "staff_member"}))["data"]
    assert any(e.get("actor_staff_id") == admin.staff_id for e in entries), entries


async def test_an_owner_sees_each_member_s_last_login_and_sessions_and_logs_one_out(
        runtime: Runtime, http: httpx.AsyncClient, merchant: Merchant, owner: Console) -> None:
    from orderline.staff import sessions

    clerk = await join(runtime, merchant.principal.business_id, "operations", name="Cleo")
    first, _ = await logged_in(runtime, clerk)
    second, _ = await logged_in(runtime, clerk)
    never = await join(runtime, merchant.principal.business_id, "viewer", name="Nadia")
    page = await owner.get("/staff")
    assert page.status_code == 200, page.text
    row = member_row(page.text, clerk.row.id)
    assert "Live sessions: 2" in row
    assert first.staff.last_login_at is not None
    assert first.staff.last_login_at.strftime("%Y-%m-%d") in row
    assert f"/console/settings/staff/{clerk.row.id}/end-sessions" in row
    nadia = member_row(page.text, never.row.id)
    assert "Never" in nadia and "Live sessions: 0" in nadia and "end-sessions" not in nadia

    # Operations, a verifier and a viewer may not end anyone's sessions.
    for role in ("operations", "verifier", "viewer"):
        other = await console_of(runtime, http, merchant, role)
        refused = await other.post(f"/staff/{clerk.row.id}/end-sessions")
        assert refused.status_code == 403, role
    await sessions.resume_session(runtime, first.token)  # still live
    # Nor without the form's CSRF token.
    forged = await owner.http.post(
        f"/console/settings/staff/{clerk.row.id}/end-sessions",
        headers={**HTML, "Cookie": f"orderline_session={owner.cookie}"})
    assert forged.status_code == 403
    await sessions.resume_session(runtime, second.token)

    done(await owner.post(f"/staff/{clerk.row.id}/end-sessions"), "/staff")
    for started in (first, second):
        with pytest.raises(SessionExpired):
            await sessions.resume_session(runtime, started.token)
    after = await owner.get("/staff?done=member-end-sessions")
    assert "logged out everywhere" in after.text
    assert "Live sessions: 0" in member_row(after.text, clerk.row.id)
    await sessions.resume_session(runtime, owner.cookie)  # the owner's own session goes on
    entries = ok(await http.get("/v1/audit", headers=merchant.headers,
                                params={"entity_type": "staff_member"}))["data"]
    ended = [e for e in entries if e["action"] == "sessions_ended"]
    assert [e["entity_id"] for e in ended] == [str(clerk.row.id)]
    assert ended[0]["actor_staff_id"] == owner.staff_id


def member_row(html: str, member_id: object) -> str:
    """The staff table's row of this member."""
    [row] = [part for part in html.split("<tr>") if f'id="role-{member_id}"' in part]
    return row.split("</tr>")[0]


async def test_an_admin_may_not_log_out_an_owner(
        runtime: Runtime, http: httpx.AsyncClient, merchant: Merchant, owner: Console) -> None:
    from orderline.staff import sessions

    admin = await console_of(runtime, http, merchant, "admin")
    refused = await admin.post(f"/staff/{owner.staff_id}/end-sessions")
    assert refused.status_code == 400 and "Only an owner" in refused.text
    await sessions.resume_session(runtime, owner.cookie)


async def test_another_business_ids_are_the_404_page_and_change_nothing(
        runtime: Runtime, http: httpx.AsyncClient, owner: Console) -> None:
    rival = await new_merchant(runtime, name="Rival shop")
    key = ok(await http.post("/v1/api-keys", headers=rival.headers,
                             json={"name": "theirs", "scopes": ["read"]}), 201)
    coupon = ok(await http.post("/v1/coupons", headers=rival.headers, json={
        "code": "THEIRS", "kind": "percentage", "percent_off": 5}), 201)
    zone = ok(await http.post("/v1/shipping-zones", headers=rival.headers,
                              json={"name": "Theirs", "countries": ["PH"]}), 201)
    hook = ok(await http.post("/v1/webhooks", headers=rival.headers,
                              json={"url": PUBLIC_URL, "event_types": ["*"]}), 201)
    member = await join(runtime, rival.principal.business_id, "viewer")
    invitation = await staff.invite(runtime, rival.principal, email=new_email(),
                                    role="viewer")
    for path in (f"/api-keys/{key['id']}/revoke", f"/coupons/{coupon['id']}/disable",
                 f"/shipping/{zone['id']}/delete", f"/webhooks/{hook['id']}/rotate",
                 f"/staff/{member.row.id}/disable", f"/staff/{member.row.id}/end-sessions",
                 f"/staff/invitations/{invitation.invitation.id}/revoke",
                 "/coupons/not-an-id/disable"):
        answer = await owner.post(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"].startswith("text/html"), path
    for path in (f"/coupons/{coupon['id']}", f"/webhooks/{hook['id']}"):
        assert (await owner.get(path)).status_code == 404, path
    assert ok(await http.get(f"/v1/coupons/{coupon['id']}", headers=rival.headers))["active"]
    assert ok(await http.get(f"/v1/webhooks/{hook['id']}", headers=rival.headers))
    await webhooks.delete_endpoint(runtime, rival.principal, uuid.UUID(hook["id"]))


async def test_a_form_without_its_csrf_token_changes_nothing(
        owner: Console, http: httpx.AsyncClient, merchant: Merchant) -> None:
    answer = await owner.http.post("/console/settings/business", headers={
        **HTML, "Cookie": f"orderline_session={owner.cookie}"}, data={"name": "Forged"})
    assert answer.status_code == 403
    assert ok(await http.get("/v1/business", headers=merchant.headers))["name"] != "Forged"


async def test_the_coupon_list_pages_with_the_api_cursor(
        owner: Console, http: httpx.AsyncClient, merchant: Merchant,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings_commerce_pages, "COUPON_PAGE", 2)
    for code in ("FIRST1", "SECOND2", "THIRD3"):
        ok(await http.post("/v1/coupons", headers=merchant.headers, json={
            "code": code, "kind": "percentage", "percent_off": 5}), 201)
    newest = await owner.get("/coupons")
    assert "THIRD3" in newest.text and "SECOND2" in newest.text and "FIRST1" not in newest.text
    older = re.search(r'href="/console/settings/coupons\?cursor=([^"]+)"', newest.text)
    assert older, newest.text
    rest = await owner.get(f"/coupons?cursor={older.group(1)}")
    assert "FIRST1" in rest.text and "THIRD3" not in rest.text
    assert "cursor=" not in rest.text.split("Add a coupon")[0].split("FIRST1")[1]
    assert (await owner.get("/coupons?cursor=not-ours")).status_code == 200
