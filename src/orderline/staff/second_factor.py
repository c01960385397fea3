"""The optional second factor of owners and admins: a TOTP authenticator app (RFC 6238, 30 s
steps, 6 digits, one step of drift either way).

- ``set_up_second_factor(runtime, principal) -> SecondFactorSetup``: a new secret and its
  ``otpauth://`` URI, returned this once; not in use until confirmed.
- ``confirm_second_factor(runtime, principal, code)``: a right code turns it on.
- ``disable_second_factor(runtime, principal, code)``: a right code turns it off.

Each is the staff member's own (a staff ``Principal``). A code is accepted once: the step it
belongs to is recorded by one conditional statement, and a code of that step or an earlier one
is refused afterwards (``store.take_totp_step``), at login too.

Where the secret lives: sealed with the deployment's master keys (``ORDERLINE_PROOF_MASTER_KEYS``,
the envelope encryption payment proofs and the messaging providers' secrets use:
AES-256-GCM under a per-value data key wrapped by the current master key), bound to the staff
member's id, so a sealed value copied onto another member does not open. A database dump alone
does not give the secrets away. Rotating the master keys keeps older keys configured until
everything sealed with them is re-sealed; these secrets are re-sealed the next time they are
set up.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pyotp
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.audit import service as audit
from orderline.audit.rules import Action, EntityType
from orderline.core.errors import (
    Conflict,
    Forbidden,
    RoleNotAllowed,
    SecondFactorInvalid,
    SessionExpired,
)
from orderline.core.runtime import Part, Runtime
from orderline.manual_payments.files.configured import master_keys
from orderline.manual_payments.files.encryption import MasterKeys, open_sealed, seal
from orderline.staff import store
from orderline.staff.rules import SECOND_FACTOR_ROLES, Role, totp_step_matched, totp_uri
from orderline.staff.store import ACTIVE, MemberRow
from orderline.tenancy.rules import Principal

STAFF_KEYS: Part[MasterKeys] = Part("staff secret keys",
                                    build=lambda runtime: master_keys(runtime.settings))


@dataclass(frozen=True, slots=True)
class SecondFactorSetup:
    secret: str  # base32, shown this once
    uri: str  # otpauth://totp/...: what the authenticator app scans


def _bound(staff_id: uuid.UUID) -> bytes:
    return f"staff-totp:{staff_id}".encode()


def sealed_secret(runtime: Runtime, staff_id: uuid.UUID, secret: str) -> bytes:
    return seal(secret.encode(), runtime.get(STAFF_KEYS), associated_data=_bound(staff_id))


def opened_secret(runtime: Runtime, member: MemberRow) -> str:
    assert member.totp_secret_sealed is not None
    return open_sealed(member.totp_secret_sealed, runtime.get(STAFF_KEYS),
                       associated_data=_bound(member.id)).decode()


async def _me(conn: AsyncConnection, principal: Principal) -> MemberRow:
    if principal.staff_id is None:
        raise Forbidden("A second factor belongs to a staff member: log in to the console.")
    me = await store.get_member(conn, principal.business_id, principal.staff_id, lock=True)
    if me is None or me.status != ACTIVE:
        raise SessionExpired("Your staff account is no longer active; log in again.")
    return me


async def set_up_second_factor(runtime: Runtime, principal: Principal) -> SecondFactorSetup:
    """A new secret for the caller's authenticator app (replacing one set up but never
    confirmed). Refused while one is on: turn it off first."""
    secret = pyotp.random_base32()
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> str:
        me = await _me(conn, principal)
        if Role(me.role) not in SECOND_FACTOR_ROLES:
            raise RoleNotAllowed("A second factor is for owners and admins.",
                                 details={"role": me.role})
        if me.totp_enabled:
            raise Conflict("Your second factor is already on: turn it off first.")
        await store.update_member(conn, me.business_id, me.id, {
            "totp_secret_sealed": sealed_secret(runtime, me.id, secret), "updated_at": now})
        return me.email

    email = await runtime.db.run(work)
    return SecondFactorSetup(secret=secret, uri=totp_uri(secret, email))


async def _switch(runtime: Runtime, principal: Principal, code: str, *, on: bool) -> MemberRow:
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> MemberRow:
        me = await _me(conn, principal)
        if me.totp_enabled == on:
            raise Conflict(f"Your second factor is already {'on' if on else 'off'}.")
        if me.totp_secret_sealed is None:
            raise Conflict("Set up your second factor first.")
        step = totp_step_matched(opened_secret(runtime, me), code, now=now,
                                 last_used_step=me.totp_last_step)
        if step is None or not await store.take_totp_step(conn, me.id, step):
            raise SecondFactorInvalid("This code is not right (or was already used); enter "
                                      "the code your app shows now.")
        values: dict[str, object] = {"totp_enabled": on, "updated_at": now}
        if not on:
            values["totp_secret_sealed"] = None
        after = await store.update_member(conn, me.business_id, me.id, values)
        assert after is not None
        await audit.record(conn, principal, business_id=me.business_id,
                           entity_type=EntityType.STAFF_MEMBER, entity_id=me.id,
                           action=(Action.SECOND_FACTOR_ENABLED if on
                                   else Action.SECOND_FACTOR_DISABLED),
                           before=me.shown(), after=after.shown(), now=now)
        return after

    return await runtime.db.run(work)


async def confirm_second_factor(runtime: Runtime, principal: Principal,
                                code: str) -> MemberRow:
    """Turn the second factor on with a code from the app just set up."""
    return await _switch(runtime, principal, code, on=True)


async def disable_second_factor(runtime: Runtime, principal: Principal,
                                code: str) -> MemberRow:
    """Turn it off with a current code (the secret is forgotten)."""
    return await _switch(runtime, principal, code, on=False)
