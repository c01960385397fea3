"""Invitations and members on a real database: a link is single-use and expires, the same link
accepted many times at once makes exactly one account, nobody grants a role above their own,
and the business always keeps an active owner, even when two owners demote each other at once."""

from __future__ import annotations

import asyncio

import pytest

from orderline.core.clock import ManualClock
from orderline.core.errors import (
    Conflict,
    Forbidden,
    InvitationExpired,
    InvitationInvalid,
    LastOwner,
    NotFound,
    RoleNotAllowed,
    ValidationFailed,
)
from orderline.core.runtime import Runtime
from orderline.orders.service import order_history
from orderline.staff import service as staff
from orderline.tenancy import service as tenancy
from tests.conftest import Merchant, new_merchant
from tests.support.catalog import place, stock_sku
from tests.support.staff import PASSWORD, join, logged_in, new_email, staff_runtime


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def rt(runtime: Runtime, clock: ManualClock) -> Runtime:
    runtime.clock = clock
    return staff_runtime(runtime)


async def test_an_invitation_link_is_single_use(rt: Runtime, merchant: Merchant) -> None:
    issued = await staff.invite(rt, merchant.principal, email=new_email(), role="viewer")
    assert issued.link == f"{rt.settings.console_base_url}/console/invitations/{issued.token}"
    member = await staff.accept_invitation(rt, issued.token, "Vee Viewer", PASSWORD)
    assert (member.role, member.status, member.email) == ("viewer", "active",
                                                          issued.invitation.email)
    with pytest.raises(InvitationInvalid):
        await staff.accept_invitation(rt, issued.token, "Again", PASSWORD)
    with pytest.raises(InvitationInvalid):
        await staff.accept_invitation(rt, "not-a-token", "Nobody", PASSWORD)


async def test_an_invitation_expires_and_a_resend_gives_a_new_link(
        rt: Runtime, clock: ManualClock, merchant: Merchant) -> None:
    issued = await staff.invite(rt, merchant.principal, email=new_email(), role="operations")
    clock.advance(rt.settings.staff_invitation_hours * 3600)
    with pytest.raises(InvitationExpired):
        await staff.accept_invitation(rt, issued.token, "Late", PASSWORD)
    assert issued.invitation.id not in {i.id for i in await staff.list_invitations(
        rt, merchant.principal)}
    again = await staff.resend_invitation(rt, merchant.principal, issued.invitation.id)
    assert again.token != issued.token and again.invitation.expires_at > clock.now()
    with pytest.raises(InvitationInvalid):  # the old link no longer works
        await staff.accept_invitation(rt, issued.token, "Late", PASSWORD)
    assert (await staff.accept_invitation(rt, again.token, "On time", PASSWORD)).role \
        == "operations"


async def test_a_revoked_invitation_cannot_be_accepted(rt: Runtime, merchant: Merchant) -> None:
    issued = await staff.invite(rt, merchant.principal, email=new_email(), role="viewer")
    revoked = await staff.revoke_invitation(rt, merchant.principal, issued.invitation.id)
    assert revoked.revoked_at is not None
    with pytest.raises(InvitationInvalid):
        await staff.accept_invitation(rt, issued.token, "Too late", PASSWORD)


async def test_the_password_is_checked_before_the_link_is_used(
        rt: Runtime, merchant: Merchant) -> None:
    email = new_email()
    issued = await staff.invite(rt, merchant.principal, email=email, role="viewer")
    for bad in ("short", email):
        with pytest.raises(ValidationFailed):
            await staff.accept_invitation(rt, issued.token, "Vee", bad)
    await staff.accept_invitation(rt, issued.token, "Vee", PASSWORD)


async def test_the_same_invitation_accepted_at_once_makes_exactly_one_account(
        rt: Runtime, merchant: Merchant) -> None:
    issued = await staff.invite(rt, merchant.principal, email=new_email(), role="operations")
    results = await asyncio.gather(
        *(staff.accept_invitation(rt, issued.token, f"Racer {n}", PASSWORD) for n in range(6)),
        return_exceptions=True)
    made = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(made) == 1
    assert all(isinstance(r, InvitationInvalid) for r in refused), refused
    accounts = [m for m in await staff.list_staff(rt, merchant.principal)
                if m.email == issued.invitation.email]
    assert [a.id for a in accounts] == [made[0].id]


async def test_an_email_already_on_the_staff_is_not_invited_again(
        rt: Runtime, merchant: Merchant) -> None:
    member = await join(rt, merchant.principal.business_id, "viewer")
    with pytest.raises(Conflict):
        await staff.invite(rt, merchant.principal, email=member.email.upper(), role="viewer")


async def test_an_api_key_never_makes_owners_or_admins_and_an_owner_does(
        rt: Runtime, merchant: Merchant) -> None:
    for role in ("owner", "admin"):
        with pytest.raises(RoleNotAllowed):
            await staff.invite(rt, merchant.principal, email=new_email(), role=role)
    owner = await join(rt, merchant.principal.business_id, "owner")
    _, as_owner = await logged_in(rt, owner)
    issued = await staff.invite(rt, as_owner, email=new_email(), role="admin")
    assert issued.invitation.invited_by == f"staff:{owner.row.id}"


async def test_an_admin_grants_only_roles_below_their_own(
        rt: Runtime, merchant: Merchant) -> None:
    business = merchant.principal.business_id
    admin = await join(rt, business, "admin")
    owner = await join(rt, business, "owner")
    other_admin = await join(rt, business, "admin")
    clerk = await join(rt, business, "viewer")
    _, as_admin = await logged_in(rt, admin)
    with pytest.raises(RoleNotAllowed):
        await staff.change_role(rt, as_admin, clerk.row.id, "admin")
    with pytest.raises(RoleNotAllowed):
        await staff.disable(rt, as_admin, owner.row.id)
    with pytest.raises(RoleNotAllowed):
        await staff.change_role(rt, as_admin, other_admin.row.id, "viewer")
    assert (await staff.change_role(rt, as_admin, clerk.row.id, "operations")).role \
        == "operations"


async def test_roles_without_the_admin_scope_manage_no_one(
        rt: Runtime, merchant: Merchant) -> None:
    clerk = await join(rt, merchant.principal.business_id, "operations")
    _, as_clerk = await logged_in(rt, clerk)
    with pytest.raises(Forbidden):
        await staff.invite(rt, as_clerk, email=new_email(), role="viewer")
    with pytest.raises(Forbidden):
        await staff.list_staff(rt, as_clerk)


async def test_the_last_active_owner_is_never_removed_disabled_or_demoted(
        rt: Runtime, merchant: Merchant) -> None:
    owner = await join(rt, merchant.principal.business_id, "owner")
    _, as_owner = await logged_in(rt, owner)
    for change in (lambda: staff.change_role(rt, as_owner, owner.row.id, "admin"),
                   lambda: staff.disable(rt, as_owner, owner.row.id),
                   lambda: staff.remove(rt, as_owner, owner.row.id)):
        with pytest.raises(LastOwner):
            await change()
    second = await join(rt, merchant.principal.business_id, "owner")
    assert (await staff.change_role(rt, as_owner, second.row.id, "admin")).role == "admin"
    await staff.change_role(rt, as_owner, second.row.id, "owner")
    await staff.remove(rt, as_owner, second.row.id)
    assert second.row.id not in {m.id for m in await staff.list_staff(rt, merchant.principal)}


async def test_two_owners_demoting_each_other_at_once_leave_one_owner(
        rt: Runtime, merchant: Merchant) -> None:
    first = await join(rt, merchant.principal.business_id, "owner")
    second = await join(rt, merchant.principal.business_id, "owner")
    _, as_first = await logged_in(rt, first)
    _, as_second = await logged_in(rt, second)
    results = await asyncio.gather(
        staff.change_role(rt, as_first, second.row.id, "admin"),
        staff.change_role(rt, as_second, first.row.id, "admin"), return_exceptions=True)
    refused = [r for r in results if isinstance(r, BaseException)]
    # The second to run finds either that its target is the last owner, or that it is no
    # longer an owner itself (so it may not manage owners).
    assert len(refused) == 1 and isinstance(refused[0], LastOwner | RoleNotAllowed), results
    owners = [m for m in await staff.list_staff(rt, merchant.principal) if m.role == "owner"]
    assert len(owners) == 1


async def test_another_business_sees_none_of_its_staff(rt: Runtime, merchant: Merchant) -> None:
    member = await join(rt, merchant.principal.business_id, "viewer")
    rival = await new_merchant(rt, name="Rival shop")
    issued = await staff.invite(rt, merchant.principal, email=new_email(), role="viewer")
    for change in (lambda: staff.disable(rt, rival.principal, member.row.id),
                   lambda: staff.remove(rt, rival.principal, member.row.id),
                   lambda: staff.revoke_invitation(rt, rival.principal, issued.invitation.id)):
        with pytest.raises(NotFound):
            await change()
    assert await staff.list_staff(rt, rival.principal) == []


async def test_a_staff_member_acts_through_every_existing_use_case(
        rt: Runtime, merchant: Merchant) -> None:
    viewer = await join(rt, merchant.principal.business_id, "viewer")
    _, as_viewer = await logged_in(rt, viewer)
    assert (await tenancy.get_business(rt, as_viewer))["id"] == merchant.principal.business_id
    with pytest.raises(Forbidden):
        await tenancy.update_settings(rt, as_viewer, alert_email="x@example.com")


async def test_an_order_placed_by_a_staff_member_is_theirs_in_its_history(
        rt: Runtime, merchant: Merchant) -> None:
    clerk = await join(rt, merchant.principal.business_id, "operations")
    _, as_clerk = await logged_in(rt, clerk)
    await stock_sku(rt, merchant, "STAFF-TEE", 3)
    order = await place(rt, Merchant(principal=as_clerk, key=""), ("STAFF-TEE", 1))
    history = await order_history(rt, merchant.principal, order["id"])
    assert [(e["action"], e["actor"]) for e in history] == [("created", f"staff:{clerk.row.id}")]
