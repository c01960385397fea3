"""The staff rules: roles are sets of the API scopes, who may grant what, passwords, and when
a console session or an invitation has run out; the TOTP code check and its replay rule."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from orderline.core.errors import Forbidden, RoleNotAllowed, ValidationFailed
from orderline.staff import store
from orderline.staff.rules import (
    ROLE_SCOPES,
    Granter,
    Role,
    SessionTimes,
    check_grant,
    check_manage,
    check_password,
    granter_for,
    invitation_expired,
    judge_session,
    may_grant,
    normalised_email,
    role_of,
    totp_step_matched,
    totp_uri,
)
from orderline.tenancy.rules import Principal, Scope

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
IDLE, ABSOLUTE = timedelta(hours=12), timedelta(days=14)


def staff_principal(role: Role) -> Principal:
    staff_id = uuid.uuid4()
    return Principal(business_id=uuid.uuid4(), key_id=staff_id, key_prefix="staff",
                     scopes=ROLE_SCOPES[role], currency="USD", reservation_ttl_seconds=900,
                     staff_id=staff_id)


def test_each_role_is_a_set_of_the_api_scopes() -> None:
    assert ROLE_SCOPES[Role.OWNER] == ROLE_SCOPES[Role.ADMIN] == {"read", "write", "admin",
                                                                   "verify"}
    assert ROLE_SCOPES[Role.OPERATIONS] == {"read", "write"}
    assert ROLE_SCOPES[Role.VERIFIER] == {"verify"}
    assert ROLE_SCOPES[Role.VIEWER] == {"read"}


def test_the_same_scope_rule_decides_for_a_staff_member_as_for_a_key() -> None:
    staff_principal(Role.OPERATIONS).require(Scope.WRITE)
    staff_principal(Role.VERIFIER).require(Scope.VERIFY)
    with pytest.raises(Forbidden) as refused:
        staff_principal(Role.VIEWER).require(Scope.WRITE)
    assert "staff role" in refused.value.message
    with pytest.raises(Forbidden):
        staff_principal(Role.VERIFIER).require(Scope.READ)


def test_a_staff_principal_acts_as_staff_and_its_id() -> None:
    who = staff_principal(Role.ADMIN)
    assert who.actor == f"staff:{who.staff_id}"
    key = Principal(business_id=uuid.uuid4(), key_id=uuid.uuid4(), key_prefix="ol_abc",
                    scopes=frozenset({"read"}), currency="USD", reservation_ttl_seconds=900)
    assert key.actor == "api_key:ol_abc" and key.staff_id is None


def test_only_an_owner_or_the_operator_makes_owners_and_admins() -> None:
    for granter in (Granter.OPERATOR, Granter.OWNER):
        assert all(may_grant(granter, role) for role in Role)
    assert not may_grant(Granter.ADMIN, Role.OWNER)
    assert not may_grant(Granter.ADMIN, Role.ADMIN)
    assert all(may_grant(Granter.ADMIN, r)
               for r in (Role.OPERATIONS, Role.VERIFIER, Role.VIEWER))
    with pytest.raises(RoleNotAllowed):
        check_grant(Granter.ADMIN, Role.ADMIN)
    with pytest.raises(RoleNotAllowed):
        check_manage(Granter.ADMIN, Role.OWNER)
    check_manage(Granter.OWNER, Role.OWNER)


def test_an_owners_session_grants_as_an_owner_and_anyone_else_as_an_admin() -> None:
    assert granter_for(Role.OWNER) == Granter.OWNER
    assert granter_for(Role.ADMIN) == Granter.ADMIN
    assert granter_for(None) == Granter.ADMIN  # an API key with the admin scope


def test_an_unknown_role_is_refused_by_name() -> None:
    assert role_of("verifier") == Role.VERIFIER
    with pytest.raises(ValidationFailed) as refused:
        role_of("superuser")
    assert refused.value.details == {"role": "superuser"}


def test_a_password_has_10_to_256_characters_and_is_not_the_email() -> None:
    check_password("x" * 10, "ada@example.com")
    check_password("x" * 256, "ada@example.com")
    for bad in ("x" * 9, "x" * 257, "Ada@Example.com", " ada@example.com "):
        with pytest.raises(ValidationFailed):
            check_password(bad, "ada@example.com")


def test_emails_are_trimmed_and_lowercased_and_must_look_like_one() -> None:
    assert normalised_email("  Ada@Example.COM ") == "ada@example.com"
    for bad in ("ada", "ada@", "@example.com", "a b@example.com", "a@b"):
        with pytest.raises(ValidationFailed):
            normalised_email(bad)


def test_a_session_lives_until_idle_or_absolute_expiry_or_logout() -> None:
    fresh = SessionTimes(created_at=T0, last_seen_at=T0, revoked_at=None)
    assert judge_session(fresh, now=T0 + timedelta(seconds=30), idle=IDLE,
                         absolute=ABSOLUTE).alive
    idle = judge_session(fresh, now=T0 + IDLE, idle=IDLE, absolute=ABSOLUTE)
    assert (idle.alive, idle.reason) == (False, "idle")
    used = SessionTimes(created_at=T0, last_seen_at=T0 + ABSOLUTE - timedelta(minutes=1),
                        revoked_at=None)
    absolute = judge_session(used, now=T0 + ABSOLUTE, idle=IDLE, absolute=ABSOLUTE)
    assert (absolute.alive, absolute.reason) == (False, "absolute")
    out = SessionTimes(created_at=T0, last_seen_at=T0, revoked_at=T0)
    assert judge_session(out, now=T0, idle=IDLE, absolute=ABSOLUTE).reason == "logged_out"


def test_a_session_is_touched_only_when_last_seen_over_a_minute_ago() -> None:
    fresh = SessionTimes(created_at=T0, last_seen_at=T0, revoked_at=None)
    assert not judge_session(fresh, now=T0 + timedelta(seconds=59), idle=IDLE,
                             absolute=ABSOLUTE).touch
    assert judge_session(fresh, now=T0 + timedelta(seconds=60), idle=IDLE,
                         absolute=ABSOLUTE).touch


def test_an_invitation_expires_at_its_expiry() -> None:
    assert not invitation_expired(T0, T0 - timedelta(seconds=1))
    assert invitation_expired(T0, T0)


def test_a_totp_code_matches_its_step_or_one_either_side_and_never_twice() -> None:
    secret = pyotp.random_base32()
    totp = pyotp.TOTP(secret)
    step = totp.timecode(T0)
    assert totp_step_matched(secret, totp.at(T0), now=T0, last_used_step=None) == step
    previous = totp.generate_otp(step - 1)
    assert totp_step_matched(secret, previous, now=T0, last_used_step=None) == step - 1
    assert totp_step_matched(secret, totp.generate_otp(step - 2), now=T0,
                             last_used_step=None) is None
    assert totp_step_matched(secret, totp.at(T0), now=T0, last_used_step=step) is None
    assert totp_step_matched(secret, "12345", now=T0, last_used_step=None) is None
    assert totp_step_matched(secret, "abcdef", now=T0, last_used_step=None) is None


def test_the_totp_uri_is_what_an_authenticator_app_reads() -> None:
    uri = totp_uri("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "ada@example.com")
    assert uri.startswith("otpauth://totp/") and "secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP" in uri
    assert "issuer=Orderline" in uri


def test_staff_rows_name_exactly_the_columns_of_their_tables() -> None:
    assert store.MemberRow.columns() == tuple(c.name for c in store.members.c)
    assert store.InvitationRow.columns() == tuple(c.name for c in store.invitations.c)
    assert store.SessionRow.columns() == tuple(c.name for c in store.sessions.c)
