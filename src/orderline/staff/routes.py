"""/v1/staff: the business's console staff and their invitations (the admin scope). Another
business's ids are 404. Logging in and sessions have no routes: the console's pages call
``orderline.staff.sessions`` directly."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from orderline.core.http import RuntimeDep, parse_id, refusals
from orderline.staff import service as staff
from orderline.staff.schemas import (
    InvitationCreate,
    InvitationList,
    InvitationOut,
    IssuedInvitationOut,
    RoleChange,
    StaffList,
    StaffOut,
)
from orderline.staff.service import IssuedInvitation
from orderline.tenancy.deps import PrincipalDep

router = APIRouter(prefix="/v1/staff", tags=["staff"])


def _issued(issued: IssuedInvitation) -> dict[str, Any]:
    return {**issued.invitation.shown(), "link": issued.link}


@router.get("", response_model=StaffList, responses=refusals(401, 403))
async def list_staff(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"data": [m.shown() for m in await staff.list_staff(runtime, principal)]}


@router.get("/invitations", response_model=InvitationList, responses=refusals(401, 403))
async def list_invitations(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    """The pending invitations (not accepted, revoked nor expired)."""
    return {"data": [i.shown() for i in await staff.list_invitations(runtime, principal)]}


@router.post("/invitations", status_code=status.HTTP_201_CREATED,
             response_model=IssuedInvitationOut, responses=refusals(401, 403, 404, 409))
async def invite(body: InvitationCreate, runtime: RuntimeDep,
                 principal: PrincipalDep) -> dict[str, Any]:
    """Invite a person by email with a role; the answer holds the link, this once. Only an
    owner's session makes owners or admins (403 ``role_not_allowed``)."""
    return _issued(await staff.invite(runtime, principal, email=body.email,
                                      role=body.role.value))


@router.post("/invitations/{invitation_id}/resend", response_model=IssuedInvitationOut,
             responses=refusals(401, 403, 409))
async def resend_invitation(invitation_id: str, runtime: RuntimeDep,
                            principal: PrincipalDep) -> dict[str, Any]:
    """A new link and expiry; the old link stops working."""
    return _issued(await staff.resend_invitation(
        runtime, principal, parse_id("staff_invitation", invitation_id)))


@router.delete("/invitations/{invitation_id}", response_model=InvitationOut,
               responses=refusals(401, 403, 409))
async def revoke_invitation(invitation_id: str, runtime: RuntimeDep,
                            principal: PrincipalDep) -> dict[str, Any]:
    row = await staff.revoke_invitation(runtime, principal,
                                        parse_id("staff_invitation", invitation_id))
    return row.shown()


@router.patch("/{staff_id}", response_model=StaffOut, responses=refusals(401, 403, 409))
async def change_role(staff_id: str, body: RoleChange, runtime: RuntimeDep,
                      principal: PrincipalDep) -> dict[str, Any]:
    """Change the member's role (409 ``last_owner`` for the last active owner)."""
    row = await staff.change_role(runtime, principal, parse_id("staff_member", staff_id),
                                  body.role.value)
    return row.shown()


@router.post("/{staff_id}/disable", response_model=StaffOut,
             responses=refusals(401, 403, 409))
async def disable(staff_id: str, runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    """The member can no longer log in; their sessions end now."""
    return (await staff.disable(runtime, principal, parse_id("staff_member", staff_id))).shown()


@router.post("/{staff_id}/enable", response_model=StaffOut, responses=refusals(401, 403))
async def enable(staff_id: str, runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    return (await staff.enable(runtime, principal, parse_id("staff_member", staff_id))).shown()


@router.delete("/{staff_id}", response_model=StaffOut, responses=refusals(401, 403, 409))
async def remove(staff_id: str, runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    """Delete the account and its sessions; answers the member as they were."""
    return (await staff.remove(runtime, principal, parse_id("staff_member", staff_id))).shown()
