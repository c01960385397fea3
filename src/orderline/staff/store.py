"""SQL for staff members, invitations and console sessions, returning typed rows.

Single-use and replay rules are single statements that check and write at once: an
invitation is claimed by ``claim_invitation`` (``UPDATE ... WHERE accepted_at IS NULL AND
revoked_at IS NULL AND expires_at > now``), a TOTP step by ``take_totp_step``
(``... WHERE totp_last_step < step``), so two requests racing with the same link or code
never both succeed. The last-owner rule locks the business's active owners
(``lock_active_owners``, in id order) before any owner is changed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.db.insert import insert_ignoring_conflict
from orderline.core.db.rows import StoredRow
from orderline.core.db.tables import table_of
from orderline.staff.tables import StaffInvitation, StaffMember, StaffSession
from orderline.tenancy.tables import Business

members = table_of(StaffMember)
invitations = table_of(StaffInvitation)
sessions = table_of(StaffSession)
businesses = table_of(Business)

ACTIVE = "active"
DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class MemberRow(StoredRow):
    id: uuid.UUID
    business_id: uuid.UUID
    email: str
    name: str
    role: str
    status: str
    password_hash: str
    totp_secret_sealed: bytes | None
    totp_enabled: bool
    totp_last_step: int | None
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None

    def shown(self) -> dict[str, Any]:
        """What the API and the audit log show of a member: never a hash nor a secret."""
        return {"id": self.id, "email": self.email, "name": self.name, "role": self.role,
                "status": self.status, "second_factor": self.totp_enabled,
                "created_at": self.created_at, "updated_at": self.updated_at,
                "last_login_at": self.last_login_at}


@dataclass(frozen=True, slots=True)
class InvitationRow(StoredRow):
    id: uuid.UUID
    business_id: uuid.UUID
    email: str
    role: str
    token_hash: str
    invited_by: str
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None
    staff_id: uuid.UUID | None

    def shown(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.columns()
                if name not in ("token_hash", "business_id")}


@dataclass(frozen=True, slots=True)
class SessionRow(StoredRow):
    id: uuid.UUID
    business_id: uuid.UUID
    staff_id: uuid.UUID
    token_hash: str
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    revoked_at: datetime | None
    user_agent: str
    client_ip: str


@dataclass(frozen=True, slots=True)
class BusinessTerms:
    """What a staff member's ``Principal`` carries of their business."""

    currency: str
    reservation_ttl_seconds: int
    name: str = ""  # the business's name, shown at the top of the console's pages


MEMBER_COLUMNS = [members.c[name] for name in MemberRow.columns()]
INVITATION_COLUMNS = [invitations.c[name] for name in InvitationRow.columns()]
SESSION_COLUMNS = [sessions.c[name] for name in SessionRow.columns()]


# --- members ----------------------------------------------------------------------------------

async def insert_member(conn: AsyncConnection, row: MemberRow) -> bool:
    """False when the business already has a member with this email."""
    return await insert_ignoring_conflict(conn, members, row.as_dict())


async def get_member(conn: AsyncConnection, business_id: uuid.UUID, staff_id: uuid.UUID, *,
                     lock: bool = False) -> MemberRow | None:
    stmt = select(*MEMBER_COLUMNS).where(members.c.business_id == business_id,
                                         members.c.id == staff_id)
    if lock:
        stmt = stmt.with_for_update()
    return MemberRow.from_optional((await conn.execute(stmt)).mappings().first())


async def member_with_email(conn: AsyncConnection, business_id: uuid.UUID,
                            email: str) -> MemberRow | None:
    stmt = select(*MEMBER_COLUMNS).where(members.c.business_id == business_id,
                                         members.c.email == email)
    return MemberRow.from_optional((await conn.execute(stmt)).mappings().first())


async def members_by_email(conn: AsyncConnection, email: str, business_id: uuid.UUID | None,
                           *, limit: int) -> list[MemberRow]:
    """The accounts of this email (in one business, or in any), oldest first."""
    stmt = select(*MEMBER_COLUMNS).where(members.c.email == email)
    if business_id is not None:
        stmt = stmt.where(members.c.business_id == business_id)
    stmt = stmt.order_by(members.c.created_at, members.c.id).limit(limit)
    return [MemberRow.from_row(r) for r in (await conn.execute(stmt)).mappings()]


async def list_members(conn: AsyncConnection, business_id: uuid.UUID) -> list[MemberRow]:
    stmt = (select(*MEMBER_COLUMNS).where(members.c.business_id == business_id)
            .order_by(members.c.created_at, members.c.id))
    return [MemberRow.from_row(r) for r in (await conn.execute(stmt)).mappings()]


async def lock_active_owners(conn: AsyncConnection, business_id: uuid.UUID) -> list[uuid.UUID]:
    """The business's active owners, held for this transaction (in id order, so two changes
    of owners lock alike and wait for each other rather than dead-lock)."""
    stmt = (select(members.c.id)
            .where(members.c.business_id == business_id, members.c.role == "owner",
                   members.c.status == ACTIVE)
            .order_by(members.c.id).with_for_update())
    return list((await conn.execute(stmt)).scalars())


async def update_member(conn: AsyncConnection, business_id: uuid.UUID, staff_id: uuid.UUID,
                        values: dict[str, Any]) -> MemberRow | None:
    stmt = (update(members).where(members.c.business_id == business_id,
                                  members.c.id == staff_id)
            .values(**values).returning(*MEMBER_COLUMNS))
    return MemberRow.from_optional((await conn.execute(stmt)).mappings().first())


async def delete_member(conn: AsyncConnection, business_id: uuid.UUID,
                        staff_id: uuid.UUID) -> None:
    await conn.execute(delete(sessions).where(sessions.c.staff_id == staff_id))
    await conn.execute(delete(members).where(members.c.business_id == business_id,
                                             members.c.id == staff_id))


async def take_totp_step(conn: AsyncConnection, staff_id: uuid.UUID, step: int) -> bool:
    """Record ``step`` as used unless it (or a later one) already was: one statement, so the
    same code sent twice at once is accepted once."""
    stmt = (update(members)
            .where(members.c.id == staff_id,
                   or_(members.c.totp_last_step.is_(None), members.c.totp_last_step < step))
            .values(totp_last_step=step))
    return bool((await conn.execute(stmt)).rowcount)


async def business_terms(conn: AsyncConnection, business_id: uuid.UUID) -> BusinessTerms | None:
    stmt = select(businesses.c.currency, businesses.c.reservation_ttl_seconds,
                  businesses.c.name).where(
        businesses.c.id == business_id)
    row = (await conn.execute(stmt)).mappings().first()
    return None if row is None else BusinessTerms(**row)


# --- invitations ------------------------------------------------------------------------------

async def insert_invitation(conn: AsyncConnection, row: InvitationRow) -> None:
    await conn.execute(invitations.insert().values(**row.as_dict()))


async def get_invitation(conn: AsyncConnection, business_id: uuid.UUID,
                         invitation_id: uuid.UUID, *, lock: bool = False
                         ) -> InvitationRow | None:
    stmt = select(*INVITATION_COLUMNS).where(invitations.c.business_id == business_id,
                                             invitations.c.id == invitation_id)
    if lock:
        stmt = stmt.with_for_update()
    return InvitationRow.from_optional((await conn.execute(stmt)).mappings().first())


async def invitation_by_token(conn: AsyncConnection, token_hash: str) -> InvitationRow | None:
    stmt = select(*INVITATION_COLUMNS).where(invitations.c.token_hash == token_hash)
    return InvitationRow.from_optional((await conn.execute(stmt)).mappings().first())


async def pending_invitations(conn: AsyncConnection, business_id: uuid.UUID,
                              now: datetime) -> list[InvitationRow]:
    stmt = (select(*INVITATION_COLUMNS)
            .where(invitations.c.business_id == business_id,
                   invitations.c.accepted_at.is_(None), invitations.c.revoked_at.is_(None),
                   invitations.c.expires_at > now)
            .order_by(invitations.c.created_at, invitations.c.id))
    return [InvitationRow.from_row(r) for r in (await conn.execute(stmt)).mappings()]


async def revoke_pending_for_email(conn: AsyncConnection, business_id: uuid.UUID, email: str,
                                   now: datetime) -> list[uuid.UUID]:
    stmt = (update(invitations)
            .where(invitations.c.business_id == business_id, invitations.c.email == email,
                   invitations.c.accepted_at.is_(None), invitations.c.revoked_at.is_(None))
            .values(revoked_at=now).returning(invitations.c.id))
    return list((await conn.execute(stmt)).scalars())


async def update_invitation(conn: AsyncConnection, invitation_id: uuid.UUID,
                            values: dict[str, Any]) -> InvitationRow:
    stmt = (update(invitations).where(invitations.c.id == invitation_id)
            .values(**values).returning(*INVITATION_COLUMNS))
    return InvitationRow.from_row((await conn.execute(stmt)).mappings().one())


async def claim_invitation(conn: AsyncConnection, token_hash: str,
                           now: datetime) -> InvitationRow | None:
    """Mark the invitation accepted if it still can be: one conditional statement, so of two
    acceptances at once exactly one gets the row."""
    stmt = (update(invitations)
            .where(invitations.c.token_hash == token_hash,
                   invitations.c.accepted_at.is_(None), invitations.c.revoked_at.is_(None),
                   invitations.c.expires_at > now)
            .values(accepted_at=now).returning(*INVITATION_COLUMNS))
    return InvitationRow.from_optional((await conn.execute(stmt)).mappings().first())


# --- sessions ---------------------------------------------------------------------------------

async def insert_session(conn: AsyncConnection, row: SessionRow) -> None:
    await conn.execute(sessions.insert().values(**row.as_dict()))


async def session_by_token(conn: AsyncConnection, token_hash: str) -> SessionRow | None:
    stmt = select(*SESSION_COLUMNS).where(sessions.c.token_hash == token_hash)
    return SessionRow.from_optional((await conn.execute(stmt)).mappings().first())


async def touch_session(conn: AsyncConnection, session_id: uuid.UUID, seen: datetime,
                        now: datetime) -> None:
    """Slide the idle timeout, unless another request already did (or it was logged out)."""
    await conn.execute(update(sessions)
                       .where(sessions.c.id == session_id, sessions.c.last_seen_at == seen,
                              sessions.c.revoked_at.is_(None))
                       .values(last_seen_at=now))


async def revoke_session(conn: AsyncConnection, token_hash: str, now: datetime) -> bool:
    stmt = (update(sessions)
            .where(sessions.c.token_hash == token_hash, sessions.c.revoked_at.is_(None))
            .values(revoked_at=now))
    return bool((await conn.execute(stmt)).rowcount)


async def sessions_of(conn: AsyncConnection, business_id: uuid.UUID, staff_id: uuid.UUID, *,
                      limit: int) -> list[SessionRow]:
    """A member's latest sessions, newest login first."""
    stmt = (select(*SESSION_COLUMNS)
            .where(sessions.c.business_id == business_id, sessions.c.staff_id == staff_id)
            .order_by(sessions.c.created_at.desc(), sessions.c.id.desc()).limit(limit))
    return [SessionRow.from_row(row) for row in (await conn.execute(stmt)).mappings()]


async def revoke_sessions_of(conn: AsyncConnection, business_id: uuid.UUID,
                             staff_id: uuid.UUID, now: datetime) -> int:
    stmt = (update(sessions)
            .where(sessions.c.business_id == business_id, sessions.c.staff_id == staff_id,
                   sessions.c.revoked_at.is_(None))
            .values(revoked_at=now))
    return int((await conn.execute(stmt)).rowcount)


async def live_session_counts(conn: AsyncConnection, business_id: uuid.UUID, *,
                              seen_since: datetime, logged_in_since: datetime
                              ) -> dict[uuid.UUID, int]:
    """How many live sessions each member of the business has: not logged out, seen since
    ``seen_since`` (the idle timeout) and started since ``logged_in_since`` (the absolute
    one). Members without one are left out."""
    stmt = (select(sessions.c.staff_id, func.count())
            .where(sessions.c.business_id == business_id, sessions.c.revoked_at.is_(None),
                   sessions.c.last_seen_at > seen_since,
                   sessions.c.created_at > logged_in_since)
            .group_by(sessions.c.staff_id))
    return {staff_id: int(count) for staff_id, count in (await conn.execute(stmt)).all()}
