"""Logging in to the console and its sessions; what the console's pages call.

- ``log_in(runtime, email, password, totp_code, client_ip=, user_agent=) -> SessionStarted``:
  a new session (a new token every login) with its CSRF token. One answer for every failure:
  401 ``login_failed`` ("The email or password is not right.") for an unknown email, a wrong
  password, a disabled account or a wrong (or replayed) second-factor code; an unknown email
  still runs an argon2 verification (against a dummy hash), so timing does not tell.
  ``second_factor_required`` (401) only after the right password of an account with a second
  factor, when no code was sent.
- Lockouts: failed logins are counted per email and per client address
  (``ORDERLINE_STAFF_LOGIN_FAILURES_PER_EMAIL`` / ``..._PER_IP`` over
  ``ORDERLINE_STAFF_LOGIN_LOCKOUT_MINUTES``) in ``runtime.limiter`` (Redis when
  ``ORDERLINE_REDIS_URL`` is set, so every process shares them; memory otherwise). Past either,
  every attempt is refused with 429 ``too_many_login_attempts`` (``retry_after_seconds`` in the
  details) before any password is checked; the window moves, so a lockout lasts at most the
  window after the last counted failure.
- ``resume_session(runtime, token) -> StaffSession``: the session of a cookie, or 401
  ``session_expired`` when unknown, logged out, idle past ``ORDERLINE_STAFF_SESSION_IDLE_HOURS``,
  past ``ORDERLINE_STAFF_SESSION_ABSOLUTE_DAYS`` since its login, or its member is disabled or
  removed. It reads only; when the last-seen time is older than a minute it slides the idle
  timeout with one small conditional write.
- ``log_out(runtime, token)``; ``log_out_everywhere(runtime, principal)`` ends every session
  of that staff member; ``my_sessions(runtime, principal)`` lists their latest logins (when,
  from where, live or how they ended).
- ``principal_for(session) -> Principal``: the staff member as a caller of every use case, with
  the scopes of their role (``rules.ROLE_SCOPES``) and ``staff_id`` set, so what they do is
  recorded as ``staff:<id>``.

Only hashes of session tokens are stored; the CSRF token is stored as it is (the page layer
compares it with the form's). The user agent and client address of each login are kept.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.errors import (
    Forbidden,
    LoginFailed,
    SecondFactorRequired,
    SessionExpired,
    TooManyLoginAttempts,
)
from orderline.core.runtime import Runtime
from orderline.staff import store
from orderline.staff.passwords import hash_password, needs_rehash, verify_password
from orderline.staff.rules import (
    MAX_PASSWORD,
    ROLE_SCOPES,
    Role,
    SessionTimes,
    hash_token,
    judge_session,
    totp_step_matched,
)
from orderline.staff.second_factor import opened_secret
from orderline.staff.store import ACTIVE, BusinessTerms, MemberRow, SessionRow
from orderline.tenancy.rules import STAFF_KEY_PREFIX, Principal

LOGIN_FAILED = "The email or password is not right."
# An email with accounts in several businesses: the password is tried against at most these.
MAX_ACCOUNTS_PER_EMAIL = 5


@dataclass(frozen=True, slots=True)
class StaffSession:
    """A live console session and who it belongs to (their role as it is now)."""

    session_id: uuid.UUID
    staff_id: uuid.UUID
    business_id: uuid.UUID
    email: str
    name: str
    role: Role
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    idle_expires_at: datetime
    absolute_expires_at: datetime
    second_factor: bool
    currency: str
    reservation_ttl_seconds: int
    business_name: str = ""


@dataclass(frozen=True, slots=True)
class SessionStarted:
    token: str  # the session cookie's value; only its hash is stored
    csrf_token: str
    staff: MemberRow
    session: StaffSession


def principal_for(session: StaffSession) -> Principal:
    """The staff member as a caller: their role's scopes, their id as the key id (see
    ``tenancy.rules.Principal``), ``staff:<id>`` as the actor."""
    return Principal(business_id=session.business_id, key_id=session.staff_id,
                     key_prefix=STAFF_KEY_PREFIX, scopes=ROLE_SCOPES[session.role],
                     currency=session.currency,
                     reservation_ttl_seconds=session.reservation_ttl_seconds,
                     key_name=session.name[:100], staff_id=session.staff_id)


def _idle(runtime: Runtime) -> timedelta:
    return timedelta(hours=runtime.settings.staff_session_idle_hours)


def _absolute(runtime: Runtime) -> timedelta:
    return timedelta(days=runtime.settings.staff_session_absolute_days)


def _staff_session(runtime: Runtime, row: SessionRow, member: MemberRow,
                   terms: BusinessTerms, last_seen_at: datetime) -> StaffSession:
    return StaffSession(
        session_id=row.id, staff_id=member.id, business_id=member.business_id,
        email=member.email, name=member.name, role=Role(member.role),
        csrf_token=row.csrf_token, created_at=row.created_at, last_seen_at=last_seen_at,
        idle_expires_at=min(last_seen_at + _idle(runtime), row.created_at + _absolute(runtime)),
        absolute_expires_at=row.created_at + _absolute(runtime),
        second_factor=member.totp_enabled, currency=terms.currency,
        reservation_ttl_seconds=terms.reservation_ttl_seconds, business_name=terms.name)


# --- logging in --------------------------------------------------------------------------------

def _lockout_keys(email: str, client_ip: str) -> list[tuple[str, str]]:
    return [("email", f"staff-login:email:{email}"), ("ip", f"staff-login:ip:{client_ip}")]


async def _refuse_if_locked(runtime: Runtime, email: str, client_ip: str) -> None:
    s = runtime.settings
    limits = {"email": s.staff_login_failures_per_email, "ip": s.staff_login_failures_per_ip}
    for by, key in _lockout_keys(email, client_ip):
        decision = await runtime.limiter.peek(key, limit=limits[by],
                                              window_seconds=s.staff_login_lockout_minutes * 60)
        if not decision.allowed:
            raise TooManyLoginAttempts(
                f"Too many failed logins; try again in {decision.retry_after_seconds} s.",
                details={"retry_after_seconds": decision.retry_after_seconds,
                         "limited_by": by})


async def _failed(runtime: Runtime, email: str, client_ip: str) -> LoginFailed:
    s = runtime.settings
    limits = {"email": s.staff_login_failures_per_email, "ip": s.staff_login_failures_per_ip}
    for by, key in _lockout_keys(email, client_ip):
        await runtime.limiter.hit(key, limit=limits[by],
                                  window_seconds=s.staff_login_lockout_minutes * 60)
    return LoginFailed(LOGIN_FAILED)


async def log_in(runtime: Runtime, email: str, password: str, totp_code: str | None = None, *,
                 client_ip: str, user_agent: str,
                 business_id: uuid.UUID | None = None) -> SessionStarted:
    """A new session for the staff member with this email and password (in ``business_id``
    when given; else the oldest of the email's accounts whose password it is)."""
    address = email.strip().lower()[:320]
    await _refuse_if_locked(runtime, address, client_ip)
    async with runtime.db.read() as conn:
        accounts = await store.members_by_email(conn, address, business_id,
                                                limit=MAX_ACCOUNTS_PER_EMAIL)
    member: MemberRow | None = None
    if not accounts or len(password) > MAX_PASSWORD:
        await verify_password(None, password[:MAX_PASSWORD])
    else:
        for account in accounts:
            if await verify_password(account.password_hash, password):
                member = account
                break
    if member is None or member.status != ACTIVE:
        raise await _failed(runtime, address, client_ip)
    now = runtime.clock.now()
    step: int | None = None
    if member.totp_enabled:
        if not totp_code:
            raise SecondFactorRequired("Enter the code from your authenticator app.")
        step = totp_step_matched(opened_secret(runtime, member), totp_code, now=now,
                                 last_used_step=member.totp_last_step)
        if step is None:
            raise await _failed(runtime, address, client_ip)
    rehashed = await hash_password(password) if needs_rehash(member.password_hash) else None
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    row = SessionRow(id=uuid.uuid4(), business_id=member.business_id, staff_id=member.id,
                     token_hash=hash_token(token), csrf_token=csrf, created_at=now,
                     last_seen_at=now, revoked_at=None, user_agent=user_agent[:400],
                     client_ip=client_ip[:64])
    chosen = member

    async def work(conn: AsyncConnection) -> tuple[MemberRow, BusinessTerms] | None:
        if step is not None and not await store.take_totp_step(conn, chosen.id, step):
            return None  # the same code, used by another login first
        values: dict[str, object] = {"last_login_at": now}
        if rehashed is not None:
            values["password_hash"] = rehashed
        updated = await store.update_member(conn, chosen.business_id, chosen.id, values)
        terms = await store.business_terms(conn, chosen.business_id)
        if updated is None or updated.status != ACTIVE or terms is None:
            return None  # removed or disabled meanwhile
        await store.insert_session(conn, row)
        return updated, terms

    started = await runtime.db.run(work)
    if started is None:
        raise await _failed(runtime, address, client_ip)
    updated, terms = started
    return SessionStarted(token=token, csrf_token=csrf, staff=updated,
                          session=_staff_session(runtime, row, updated, terms, now))


# --- sessions ----------------------------------------------------------------------------------

async def resume_session(runtime: Runtime, token: str | None) -> StaffSession:
    """The live session of this token, its idle timeout slid; else ``session_expired``."""
    if not token:
        raise SessionExpired("Log in to the console.")
    now = runtime.clock.now()
    async with runtime.db.read() as conn:
        row = await store.session_by_token(conn, hash_token(token))
        member = None if row is None else await store.get_member(conn, row.business_id,
                                                                 row.staff_id)
        terms = None if row is None else await store.business_terms(conn, row.business_id)
    if row is None or member is None or terms is None or member.status != ACTIVE:
        raise SessionExpired("Your session has ended; log in again.",
                             details={"reason": "unknown"})
    verdict = judge_session(SessionTimes(row.created_at, row.last_seen_at, row.revoked_at),
                            now=now, idle=_idle(runtime), absolute=_absolute(runtime))
    if not verdict.alive:
        raise SessionExpired("Your session has ended; log in again.",
                             details={"reason": verdict.reason})
    seen = row.last_seen_at
    if verdict.touch:
        async def touch(conn: AsyncConnection) -> None:
            await store.touch_session(conn, row.id, row.last_seen_at, now)

        await runtime.db.run(touch)
        seen = now
    return _staff_session(runtime, row, member, terms, seen)


async def log_out(runtime: Runtime, token: str | None) -> bool:
    """End this session (a token already logged out, or unknown, changes nothing: False)."""
    if not token:
        return False
    now = runtime.clock.now()
    token_hash = hash_token(token)
    return await runtime.db.run(lambda conn: store.revoke_session(conn, token_hash, now))


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """One of a staff member's logins as they may see it (never its token or CSRF token)."""

    session_id: uuid.UUID
    logged_in_at: datetime
    last_seen_at: datetime
    live: bool
    ended: str  # why it ended: "logged_out", "idle", "absolute"; "" while live
    logged_out_at: datetime | None
    user_agent: str
    client_ip: str


SESSIONS_SHOWN = 20


async def my_sessions(runtime: Runtime, principal: Principal, *,
                      limit: int = SESSIONS_SHOWN) -> list[SessionSummary]:
    """The calling staff member's latest logins (newest first): when and from where, and
    whether each is still live, so they can spot one that is not theirs."""
    if principal.staff_id is None:
        raise Forbidden("Only a staff member has console sessions.")
    staff_id = principal.staff_id
    now = runtime.clock.now()
    async with runtime.db.read() as conn:
        rows = await store.sessions_of(conn, principal.business_id, staff_id,
                                       limit=max(1, min(limit, 100)))
    summaries = []
    for row in rows:
        verdict = judge_session(SessionTimes(row.created_at, row.last_seen_at, row.revoked_at),
                                now=now, idle=_idle(runtime), absolute=_absolute(runtime))
        summaries.append(SessionSummary(
            session_id=row.id, logged_in_at=row.created_at, last_seen_at=row.last_seen_at,
            live=verdict.alive, ended=verdict.reason, logged_out_at=row.revoked_at,
            user_agent=row.user_agent, client_ip=row.client_ip))
    return summaries


async def log_out_everywhere(runtime: Runtime, principal: Principal) -> int:
    """End every session of the calling staff member (this one too); how many ended."""
    if principal.staff_id is None:
        raise Forbidden("Only a staff member's session can log out everywhere.")
    staff_id = principal.staff_id
    now = runtime.clock.now()
    return await runtime.db.run(
        lambda conn: store.revoke_sessions_of(conn, principal.business_id, staff_id, now))
