"""Staff management: invitations and members (each public function one transaction).

The console's pages and the ``/v1/staff`` API call the same functions:

- ``invite(runtime, by, email=, role=, business_id=, base_url=) -> IssuedInvitation``: a
  single-use link ``{base_url}/console/invitations/{token}``, shown once (only its hash is
  kept), valid ``ORDERLINE_STAFF_INVITATION_HOURS``. ``by`` None is the operator (the CLI,
  which names the business); a new invitation for an email revokes its pending ones.
- ``resend_invitation`` (a new link, the old one stops working, a new expiry) and
  ``revoke_invitation``; ``list_invitations`` (pending ones).
- ``accept_invitation(runtime, token, name, password) -> MemberRow``: the new member's
  account; the link is claimed by one conditional statement, so a link used twice at once
  makes exactly one account.
- ``list_staff``, ``change_role``, ``disable`` (ends their sessions), ``enable``, ``remove``.
- ``staff_activity`` (each member with their last login and how many live console sessions
  they have) and ``end_sessions`` (logs a member out everywhere, under the same rules as
  disabling them: the admin scope, and the right to manage their role).

Who may do what (``rules``): every call needs the admin scope. Nobody grants a role above
their own; only an owner (a staff member whose role is owner, or the operator) makes or
manages owners and admins. An API key with the admin scope manages the other roles but never
owners or admins: a key is not a person. The last active owner cannot be removed, disabled or
demoted: the business's active owners are locked (in id order) before one changes, so two
owners demoting each other at once leave one.

Every change is recorded in the audit log (``staff_member`` and ``staff_invitation``
entities) by whoever made it: an API key, a staff member (``actor_staff_id``), or the
operator. Sessions and logging in are in ``sessions``; the second factor in
``second_factor``.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.audit import service as audit
from orderline.audit.rules import Action, EntityType
from orderline.core.errors import (
    Conflict,
    InvitationExpired,
    InvitationInvalid,
    LastOwner,
    NotFound,
    SessionExpired,
    ValidationFailed,
)
from orderline.core.runtime import Runtime
from orderline.staff import store
from orderline.staff.passwords import hash_password
from orderline.staff.rules import (
    Granter,
    Role,
    check_grant,
    check_manage,
    check_name,
    check_password,
    granter_for,
    hash_token,
    invitation_expired,
    normalised_email,
    role_of,
)
from orderline.staff.store import ACTIVE, DISABLED, InvitationRow, MemberRow
from orderline.tenancy.rules import Principal, Scope

INVITATION_PATH = "/console/invitations/"


@dataclass(frozen=True, slots=True)
class IssuedInvitation:
    invitation: InvitationRow
    token: str  # in this answer only; kept as its hash
    link: str


@dataclass(frozen=True, slots=True)
class StaffActor:
    """A staff member as the audit log's actor, where no ``Principal`` exists yet (a member
    accepting their invitation)."""

    business_id: uuid.UUID
    staff_id: uuid.UUID | None
    key_id: uuid.UUID
    key_prefix: str = "staff"
    key_name: str = ""


def invitation_link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{INVITATION_PATH}{token}"


async def _granter(conn: AsyncConnection, by: Principal | None) -> Granter:
    """The operator, an owner, or an admin (an admin's session, or an API key with the admin
    scope). A staff member's role is read now, not from their session's start."""
    if by is None:
        return Granter.OPERATOR
    by.require(Scope.ADMIN)
    if by.staff_id is None:
        return Granter.ADMIN
    me = await store.get_member(conn, by.business_id, by.staff_id)
    if me is None or me.status != ACTIVE:
        raise SessionExpired("Your staff account is no longer active; log in again.")
    return granter_for(Role(me.role))


# --- invitations -------------------------------------------------------------------------------

async def invite(runtime: Runtime, by: Principal | None, *, email: str, role: str,
                 business_id: uuid.UUID | None = None,
                 base_url: str | None = None) -> IssuedInvitation:
    """Invite ``email`` to the business with ``role``; the link is in the answer only."""
    if by is not None:
        business_id = by.business_id
    if business_id is None:
        raise ValidationFailed("Name the business to invite to.", details={"field": "business"})
    target = business_id
    address, wanted = normalised_email(email), role_of(role)
    if by is not None:
        by.require(Scope.ADMIN)
    now = runtime.clock.now()
    token = secrets.token_urlsafe(32)

    async def work(conn: AsyncConnection) -> InvitationRow:
        check_grant(await _granter(conn, by), wanted)
        if await store.business_terms(conn, target) is None:
            raise NotFound("business", target)
        if await store.member_with_email(conn, target, address) is not None:
            raise Conflict("This email already has a staff account in this business.",
                           details={"email": address})
        await store.revoke_pending_for_email(conn, target, address, now)
        row = InvitationRow(
            id=uuid.uuid4(), business_id=target, email=address, role=wanted.value,
            token_hash=hash_token(token), invited_by=by.actor if by else "operator",
            created_at=now,
            expires_at=now + timedelta(hours=runtime.settings.staff_invitation_hours),
            accepted_at=None, revoked_at=None, staff_id=None)
        await store.insert_invitation(conn, row)
        await audit.record(conn, by, business_id=target,
                           entity_type=EntityType.STAFF_INVITATION, entity_id=row.id,
                           action=Action.INVITED, before=None, after=row.shown(), now=now)
        return row

    row = await runtime.db.run(work)
    return IssuedInvitation(invitation=row, token=token, link=invitation_link(
        base_url or runtime.settings.console_base_url, token))


async def list_invitations(runtime: Runtime, principal: Principal) -> list[InvitationRow]:
    """The pending invitations (not accepted, revoked nor expired), oldest first."""
    principal.require(Scope.ADMIN)
    async with runtime.db.read() as conn:
        return await store.pending_invitations(conn, principal.business_id,
                                               runtime.clock.now())


async def _pending(conn: AsyncConnection, by: Principal,
                   invitation_id: uuid.UUID) -> InvitationRow:
    granter = await _granter(conn, by)
    row = await store.get_invitation(conn, by.business_id, invitation_id, lock=True)
    if row is None:
        raise NotFound("staff_invitation", invitation_id)
    check_manage(granter, Role(row.role))
    if row.accepted_at is not None:
        raise Conflict("This invitation was already accepted.",
                       details={"invitation_id": str(invitation_id)})
    return row


async def resend_invitation(runtime: Runtime, principal: Principal, invitation_id: uuid.UUID,
                            *, base_url: str | None = None) -> IssuedInvitation:
    """A new link for a pending (or revoked, or expired) invitation, with a new expiry; the
    old link stops working."""
    principal.require(Scope.ADMIN)
    now = runtime.clock.now()
    token = secrets.token_urlsafe(32)

    async def work(conn: AsyncConnection) -> InvitationRow:
        before = await _pending(conn, principal, invitation_id)
        after = await store.update_invitation(conn, invitation_id, {
            "token_hash": hash_token(token), "revoked_at": None,
            "expires_at": now + timedelta(hours=runtime.settings.staff_invitation_hours)})
        await audit.record(conn, principal, business_id=principal.business_id,
                           entity_type=EntityType.STAFF_INVITATION, entity_id=invitation_id,
                           action=Action.INVITED, before=before.shown(), after=after.shown(),
                           now=now)
        return after

    row = await runtime.db.run(work)
    return IssuedInvitation(invitation=row, token=token, link=invitation_link(
        base_url or runtime.settings.console_base_url, token))


async def revoke_invitation(runtime: Runtime, principal: Principal,
                            invitation_id: uuid.UUID) -> InvitationRow:
    """The link stops working (revoking twice changes nothing)."""
    principal.require(Scope.ADMIN)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> InvitationRow:
        before = await _pending(conn, principal, invitation_id)
        if before.revoked_at is not None:
            return before
        after = await store.update_invitation(conn, invitation_id, {"revoked_at": now})
        await audit.record(conn, principal, business_id=principal.business_id,
                           entity_type=EntityType.STAFF_INVITATION, entity_id=invitation_id,
                           action=Action.REVOKED, before=before.shown(), after=after.shown(),
                           now=now)
        return after

    return await runtime.db.run(work)


@dataclass(frozen=True, slots=True)
class InvitationPreview:
    """What the invitation page shows before the person chooses a password."""

    email: str
    role: str
    business_id: uuid.UUID
    business_name: str
    expires_at: datetime


async def look_up_invitation(runtime: Runtime, token: str) -> InvitationPreview:
    """The invitation of this link, if it can still be accepted; else ``invitation_invalid``
    (unknown, withdrawn or used) or ``invitation_expired``, as ``accept_invitation`` says."""
    async with runtime.db.read() as conn:
        found = await store.invitation_by_token(conn, hash_token(token or ""))
        terms = None if found is None else await store.business_terms(conn, found.business_id)
    _check_claimable(found, runtime.clock.now())
    assert found is not None
    return InvitationPreview(email=found.email, role=found.role, business_id=found.business_id,
                             business_name=terms.name if terms else "",
                             expires_at=found.expires_at)


async def accept_invitation(runtime: Runtime, token: str, name: str,
                            password: str) -> MemberRow:
    """The invited person's account, with the invitation's role. The link is used up."""
    token_hash = hash_token(token or "")
    async with runtime.db.read() as conn:
        found = await store.invitation_by_token(conn, token_hash)
    now = runtime.clock.now()
    _check_claimable(found, now)
    assert found is not None
    display_name = check_name(name)
    check_password(password, found.email)
    password_hash = await hash_password(password)

    async def work(conn: AsyncConnection) -> MemberRow:
        claimed = await store.claim_invitation(conn, token_hash, now)
        if claimed is None:  # another acceptance (or a revoke) came first
            _check_claimable(await store.invitation_by_token(conn, token_hash), now)
            raise InvitationInvalid("This invitation link was already used.")
        member = MemberRow(
            id=uuid.uuid4(), business_id=claimed.business_id, email=claimed.email,
            name=display_name, role=claimed.role, status=ACTIVE, password_hash=password_hash,
            totp_secret_sealed=None, totp_enabled=False, totp_last_step=None,
            created_at=now, updated_at=now, last_login_at=None)
        if not await store.insert_member(conn, member):
            raise Conflict("This email already has a staff account in this business.",
                           details={"email": claimed.email})
        await store.update_invitation(conn, claimed.id, {"staff_id": member.id})
        actor = StaffActor(business_id=member.business_id, staff_id=member.id,
                           key_id=member.id, key_name=member.name[:100])
        await audit.record(conn, actor, business_id=member.business_id,
                           entity_type=EntityType.STAFF_MEMBER, entity_id=member.id,
                           action=Action.CREATED, before=None,
                           after={**member.shown(), "invitation_id": claimed.id}, now=now)
        return member

    return await runtime.db.run(work)


def _check_claimable(row: InvitationRow | None, now: datetime) -> None:
    if row is None or row.revoked_at is not None:
        raise InvitationInvalid("This invitation link is unknown or was withdrawn; ask for a "
                                "new one.")
    if row.accepted_at is not None:
        raise InvitationInvalid("This invitation link was already used.")
    if invitation_expired(row.expires_at, now):
        raise InvitationExpired("This invitation link has expired; ask for a new one.",
                                details={"expired_at": row.expires_at.isoformat()})


# --- members -----------------------------------------------------------------------------------

async def set_password_by_operator(runtime: Runtime, business_id: uuid.UUID, email: str,
                                   password: str) -> MemberRow:
    """The operator (the command line, the demo) sets a member's password, e.g. the demo
    owner's fresh password at each ``orderline demo``. Their sessions end; the audit log says
    the operator updated them (never the hash)."""
    address = normalised_email(email)
    now = runtime.clock.now()

    async with runtime.db.read() as conn:
        found = await store.member_with_email(conn, business_id, address)
    if found is None:
        raise NotFound("staff member", address)
    check_password(password, found.email)
    password_hash = await hash_password(password)

    async def write(conn: AsyncConnection) -> MemberRow:
        after = await store.update_member(conn, business_id, found.id, {
            "password_hash": password_hash, "updated_at": now})
        if after is None:
            raise NotFound("staff member", address)
        await store.revoke_sessions_of(conn, business_id, found.id, now)
        await audit.record(conn, None, business_id=business_id,
                           entity_type=EntityType.STAFF_MEMBER, entity_id=found.id,
                           action=Action.UPDATED, before=found.shown(),
                           after={**after.shown(), "password": "set by the operator"}, now=now)
        return after

    return await runtime.db.run(write)


async def list_staff(runtime: Runtime, principal: Principal) -> list[MemberRow]:
    principal.require(Scope.ADMIN)
    async with runtime.db.read() as conn:
        return await store.list_members(conn, principal.business_id)


async def list_staff_of(runtime: Runtime, business_id: uuid.UUID) -> list[MemberRow]:
    """The operator's list (the CLI)."""
    async with runtime.db.read() as conn:
        return await store.list_members(conn, business_id)


async def _change(runtime: Runtime, by: Principal, staff_id: uuid.UUID, *, action: Action,
                  values: dict[str, object], new_role: Role | None = None,
                  leaves_owners: bool = False) -> MemberRow:
    """One change of a member under the rules: the caller may manage the member (and grant
    ``new_role``); a change that takes an active owner away (``leaves_owners``) keeps one."""
    by.require(Scope.ADMIN)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> MemberRow:
        # The owners first, then the caller's own role: a caller demoted by a change that
        # held these locks is seen as they are now.
        owners = await store.lock_active_owners(conn, by.business_id)
        granter = await _granter(conn, by)
        before = await store.get_member(conn, by.business_id, staff_id, lock=True)
        if before is None:
            raise NotFound("staff_member", staff_id)
        check_manage(granter, Role(before.role))
        if new_role is not None:
            check_grant(granter, new_role)
        demoted = new_role is not None and new_role != Role.OWNER
        if (before.id in owners and (leaves_owners or demoted)) and len(owners) <= 1:
            raise LastOwner("This is the business's last active owner: make another owner "
                            "first.", details={"staff_id": str(staff_id)})
        if action == Action.REMOVED:
            await store.delete_member(conn, by.business_id, staff_id)
            after = None
            result = before
        else:
            changed = await store.update_member(conn, by.business_id, staff_id,
                                                {**values, "updated_at": now})
            assert changed is not None  # locked above
            if values.get("status") == DISABLED:
                await store.revoke_sessions_of(conn, by.business_id, staff_id, now)
            after, result = changed.shown(), changed
        await audit.record(conn, by, business_id=by.business_id,
                           entity_type=EntityType.STAFF_MEMBER, entity_id=staff_id,
                           action=action, before=before.shown(), after=after, now=now)
        return result

    return await runtime.db.run(work)


async def change_role(runtime: Runtime, principal: Principal, staff_id: uuid.UUID,
                      role: str) -> MemberRow:
    wanted = role_of(role)
    return await _change(runtime, principal, staff_id, action=Action.ROLE_CHANGED,
                         values={"role": wanted.value}, new_role=wanted)


async def disable(runtime: Runtime, principal: Principal, staff_id: uuid.UUID) -> MemberRow:
    """The member can no longer log in, and their sessions end now."""
    return await _change(runtime, principal, staff_id, action=Action.DISABLED,
                         values={"status": DISABLED}, leaves_owners=True)


async def enable(runtime: Runtime, principal: Principal, staff_id: uuid.UUID) -> MemberRow:
    return await _change(runtime, principal, staff_id, action=Action.ENABLED,
                         values={"status": ACTIVE})


async def remove(runtime: Runtime, principal: Principal, staff_id: uuid.UUID) -> MemberRow:
    """The account and its sessions are deleted; the audit log keeps who it was. Returns the
    member as they were."""
    return await _change(runtime, principal, staff_id, action=Action.REMOVED, values={},
                         leaves_owners=True)


# --- who is logged in ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class MemberActivity:
    """A member with how many console sessions they have live now (their last login is
    ``member.last_login_at``)."""

    member: MemberRow
    live_sessions: int


async def staff_activity(runtime: Runtime, principal: Principal) -> list[MemberActivity]:
    """The business's members with their live sessions (the same timeouts as
    ``sessions.resume_session``), so an owner sees who is logged in where it matters."""
    principal.require(Scope.ADMIN)
    now = runtime.clock.now()
    settings = runtime.settings
    async with runtime.db.read() as conn:
        members = await store.list_members(conn, principal.business_id)
        live = await store.live_session_counts(
            conn, principal.business_id,
            seen_since=now - timedelta(hours=settings.staff_session_idle_hours),
            logged_in_since=now - timedelta(days=settings.staff_session_absolute_days))
    return [MemberActivity(member=m, live_sessions=live.get(m.id, 0)) for m in members]


async def end_sessions(runtime: Runtime, principal: Principal, staff_id: uuid.UUID) -> int:
    """Log the member out of every console session now (a lost phone, a shared computer);
    they may log in again. Needs the right to manage their role; recorded in the audit log.
    Returns how many sessions ended."""
    principal.require(Scope.ADMIN)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> int:
        granter = await _granter(conn, principal)
        member = await store.get_member(conn, principal.business_id, staff_id, lock=True)
        if member is None:
            raise NotFound("staff_member", staff_id)
        check_manage(granter, Role(member.role))
        ended = await store.revoke_sessions_of(conn, principal.business_id, staff_id, now)
        await audit.record(conn, principal, business_id=principal.business_id,
                           entity_type=EntityType.STAFF_MEMBER, entity_id=staff_id,
                           action=Action.SESSIONS_ENDED, before=member.shown(),
                           after={**member.shown(), "sessions_ended": ended}, now=now)
        return ended

    return await runtime.db.run(work)
