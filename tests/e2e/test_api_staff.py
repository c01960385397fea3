"""/v1/staff over HTTP as an integrator (an API key with the admin scope) uses it: invite
(the link shown once), list, resend and revoke invitations, change a role, disable, enable,
remove; a read-only key is refused; another business's key gets 404 on every id; the audit
log shows and filters what a staff member did. And ``orderline staff invite`` prints a link
that works."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from orderline.core.errors import SessionExpired
from orderline.core.runtime import Runtime
from orderline.staff import service as staff
from orderline.staff import sessions
from orderline.tenancy import service as tenancy
from tests.conftest import Merchant, new_merchant
from tests.e2e.conftest import api_client, error_of, ok
from tests.support.servers import ORDERLINE
from tests.support.staff import CLIENT, PASSWORD, join, logged_in, new_email, staff_runtime


@pytest.fixture
async def http(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(staff_runtime(runtime)) as client:
        yield client


async def test_an_admin_key_invites_and_the_link_is_shown_once(
        http: httpx.AsyncClient, runtime: Runtime, merchant: Merchant) -> None:
    email = new_email("clerk")
    issued = ok(await http.post("/v1/staff/invitations", headers=merchant.headers,
                                json={"email": email, "role": "operations"}), 201)
    assert issued["email"] == email and issued["role"] == "operations"
    assert issued["invited_by"] == f"api_key:{merchant.principal.key_prefix}"
    prefix = f"{runtime.settings.console_base_url}/console/invitations/"
    assert issued["link"].startswith(prefix)
    pending = ok(await http.get("/v1/staff/invitations", headers=merchant.headers))["data"]
    assert [i["id"] for i in pending] == [issued["id"]]
    assert "link" not in pending[0] and "token_hash" not in pending[0]

    token = issued["link"].removeprefix(prefix)
    member = await staff.accept_invitation(runtime, token, "Cleo Clerk", PASSWORD)
    listed = ok(await http.get("/v1/staff", headers=merchant.headers))["data"]
    assert [(m["id"], m["email"], m["role"], m["status"], m["second_factor"])
            for m in listed] == [(str(member.id), email, "operations", "active", False)]
    assert "password_hash" not in listed[0]
    assert ok(await http.get("/v1/staff/invitations", headers=merchant.headers))["data"] == []


async def test_resend_gives_a_new_link_and_revoke_ends_it(
        http: httpx.AsyncClient, runtime: Runtime, merchant: Merchant) -> None:
    h = merchant.headers
    issued = ok(await http.post("/v1/staff/invitations", headers=h,
                                json={"email": new_email(), "role": "viewer"}), 201)
    resent = ok(await http.post(f"/v1/staff/invitations/{issued['id']}/resend", headers=h))
    assert resent["id"] == issued["id"] and resent["link"] != issued["link"]
    revoked = ok(await http.delete(f"/v1/staff/invitations/{issued['id']}", headers=h))
    assert revoked["revoked_at"] is not None
    error_of(await http.post("/v1/staff/invitations", headers=h,
                             json={"email": "not an email", "role": "viewer"}), 422,
             "validation_error")
    error_of(await http.post("/v1/staff/invitations", headers=h,
                             json={"email": new_email(), "role": "root"}), 422,
             "validation_error")


async def test_an_admin_key_manages_roles_below_admin_and_never_owners(
        http: httpx.AsyncClient, runtime: Runtime, merchant: Merchant) -> None:
    h = merchant.headers
    details = error_of(await http.post("/v1/staff/invitations", headers=h,
                                       json={"email": new_email(), "role": "owner"}), 403,
                       "role_not_allowed")
    assert details["role"] == "owner"
    owner = await join(runtime, merchant.principal.business_id, "owner")
    clerk = await join(runtime, merchant.principal.business_id, "viewer")
    error_of(await http.post(f"/v1/staff/{owner.row.id}/disable", headers=h), 403,
             "role_not_allowed")
    changed = ok(await http.patch(f"/v1/staff/{clerk.row.id}", headers=h,
                                  json={"role": "verifier"}))
    assert changed["role"] == "verifier"
    started, _ = await logged_in(runtime, clerk)
    disabled = ok(await http.post(f"/v1/staff/{clerk.row.id}/disable", headers=h))
    assert disabled["status"] == "disabled"
    with pytest.raises(SessionExpired):
        await sessions.resume_session(runtime, started.token)
    assert ok(await http.post(f"/v1/staff/{clerk.row.id}/enable", headers=h))["status"] \
        == "active"
    removed = ok(await http.delete(f"/v1/staff/{clerk.row.id}", headers=h))
    assert removed["id"] == str(clerk.row.id)
    error_of(await http.delete(f"/v1/staff/{clerk.row.id}", headers=h), 404, "not_found")


async def test_a_read_only_key_may_not_invite_or_list_staff(
        http: httpx.AsyncClient, runtime: Runtime, merchant: Merchant) -> None:
    issued = await tenancy.create_api_key(runtime, merchant.principal, name="reader",
                                          scopes=["read"])
    reader = {"Authorization": f"Bearer {issued.key}"}
    error_of(await http.post("/v1/staff/invitations", headers=reader,
                             json={"email": new_email(), "role": "viewer"}), 403, "forbidden")
    error_of(await http.get("/v1/staff", headers=reader), 403, "forbidden")
    error_of(await http.get("/v1/staff"), 401, "unauthorized")


async def test_another_business_gets_404_on_every_staff_id(
        http: httpx.AsyncClient, runtime: Runtime, merchant: Merchant) -> None:
    member = await join(runtime, merchant.principal.business_id, "viewer")
    invitation = ok(await http.post("/v1/staff/invitations", headers=merchant.headers,
                                    json={"email": new_email(), "role": "viewer"}), 201)
    rival = (await new_merchant(runtime, name="Rival shop")).headers
    staff_path, invitation_path = f"/v1/staff/{member.row.id}", \
        f"/v1/staff/invitations/{invitation['id']}"
    for method, path, body in (
            ("PATCH", staff_path, {"role": "operations"}),
            ("POST", f"{staff_path}/disable", None), ("POST", f"{staff_path}/enable", None),
            ("DELETE", staff_path, None),
            ("POST", f"{invitation_path}/resend", None), ("DELETE", invitation_path, None)):
        error_of(await http.request(method, path, headers=rival, json=body), 404, "not_found")
    assert ok(await http.get("/v1/staff", headers=rival))["data"] == []
    assert ok(await http.get("/v1/staff/invitations", headers=rival))["data"] == []
    error_of(await http.patch("/v1/staff/not-an-id", headers=merchant.headers,
                              json={"role": "viewer"}), 404, "not_found")


async def test_the_audit_log_names_the_staff_member_and_filters_by_them(
        http: httpx.AsyncClient, runtime: Runtime, merchant: Merchant) -> None:
    owner = await join(runtime, merchant.principal.business_id, "owner")
    _, as_owner = await logged_in(runtime, owner)
    await staff.invite(runtime, as_owner, email=new_email(), role="admin")
    entries = ok(await http.get("/v1/audit", headers=merchant.headers,
                                params={"staff_id": str(owner.row.id)}))["data"]
    assert sorted((e["entity_type"], e["action"]) for e in entries) == [
        ("staff_invitation", "invited"), ("staff_member", "created")]
    assert all(e["actor_staff_id"] == str(owner.row.id) and e["actor_key_id"] is None
               for e in entries)
    by_key = ok(await http.get("/v1/audit", headers=merchant.headers, params={
        "actor_key_id": str(merchant.principal.key_id), "entity_type": "staff_invitation"}))
    assert by_key["data"] == []  # the owner invited the admin, not the key
    assert all("password" not in str(e) and "token" not in str(e["after"]) for e in entries)


def orderline(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ORDERLINE_DATABASE_URL": database_url}
    return subprocess.run([ORDERLINE, *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


async def test_the_cli_invites_an_owner_with_a_link_that_works(
        runtime: Runtime, merchant: Merchant, database_url: str) -> None:
    email = new_email("owner")
    business = str(merchant.principal.business_id)
    done = orderline("staff", "invite", email, "--role", "owner", "--business", business,
                     "--base-url", "https://console.example.com/", database_url=database_url)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(": ", 1) for line in done.stdout.splitlines())
    link = lines["invitation link"]
    assert link.startswith("https://console.example.com/console/invitations/")
    assert lines["for"] == f"{email} as owner" and "expires at" in lines
    token = link.rsplit("/", 1)[1]
    member = await staff.accept_invitation(staff_runtime(runtime), token, "Olive Owner",
                                           PASSWORD)
    assert member.role == "owner"
    started = await sessions.log_in(runtime, email, PASSWORD, **CLIENT)
    assert started.staff.id == member.id

    listed = orderline("staff", "list", "--business", business, database_url=database_url)
    assert listed.returncode == 0, listed.stderr
    assert email in listed.stdout and "owner" in listed.stdout

    refused = orderline("staff", "invite", email, "--role", "owner", "--business",
                        str(uuid.uuid4()), database_url=database_url)
    assert refused.returncode == 2 and "not_found" in refused.stderr
    wrong_role = orderline("staff", "invite", new_email(), "--role", "king", "--business",
                           business, database_url=database_url)
    assert wrong_role.returncode == 2 and "validation_error" in wrong_role.stderr
