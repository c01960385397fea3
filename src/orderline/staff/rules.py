"""The staff rules: roles and their scopes, who may grant what, passwords, and when a console
session or an invitation has run out.

Pure: no clock, no database, no randomness; time comes in as ``now``. The one rule for a key
and for a person is the scope (``tenancy.rules.Scope``): a role is only a named set of scopes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import pyotp

from orderline.core.errors import RoleNotAllowed, ValidationFailed
from orderline.tenancy.rules import Scope


class Role(StrEnum):
    OWNER = "owner"  # everything, and makes or manages owners and admins
    ADMIN = "admin"  # everything but owners and admins
    OPERATIONS = "operations"  # orders, stock, customers
    VERIFIER = "verifier"  # the payment-proof queue only
    VIEWER = "viewer"  # read-only


def _scopes(*scopes: Scope) -> frozenset[str]:
    return frozenset(s.value for s in scopes)  # plain strings, as an API key's are read


ROLE_SCOPES: dict[Role, frozenset[str]] = {
    Role.OWNER: _scopes(Scope.READ, Scope.WRITE, Scope.ADMIN, Scope.VERIFY),
    Role.ADMIN: _scopes(Scope.READ, Scope.WRITE, Scope.ADMIN, Scope.VERIFY),
    Role.OPERATIONS: _scopes(Scope.READ, Scope.WRITE),
    Role.VERIFIER: _scopes(Scope.VERIFY),
    Role.VIEWER: _scopes(Scope.READ),
}

# The roles only an owner (or the operator) may give, take away, or act on.
OWNERS_ONLY = frozenset({Role.OWNER, Role.ADMIN})
# The roles that may turn on a second factor (an authenticator app).
SECOND_FACTOR_ROLES = frozenset({Role.OWNER, Role.ADMIN})


class Granter(StrEnum):
    """Who manages staff: the operator (the CLI), an owner, or anyone else with the admin
    scope (an admin, or an API key with the admin scope: a key is not a person, so it never
    makes owners or admins)."""

    OPERATOR = "operator"
    OWNER = "owner"
    ADMIN = "admin"


def role_of(raw: str) -> Role:
    try:
        return Role(raw)
    except ValueError:
        raise ValidationFailed(
            f"'{raw}' is not a role; roles are " + ", ".join(r.value for r in Role) + ".",
            details={"role": raw}) from None


def granter_for(staff_role: Role | None) -> Granter:
    """The granter a caller is: an owner's session, else an admin (an admin's session or an
    API key with the admin scope, which the use case checks first)."""
    return Granter.OWNER if staff_role == Role.OWNER else Granter.ADMIN


def may_grant(granter: Granter, role: Role) -> bool:
    """Nobody grants a role above their own; only an owner (or the operator) makes owners
    and admins."""
    return granter in (Granter.OPERATOR, Granter.OWNER) or role not in OWNERS_ONLY


def check_grant(granter: Granter, role: Role, *, what: str = "grant") -> None:
    if not may_grant(granter, role):
        raise RoleNotAllowed(f"Only an owner may {what} the '{role}' role.",
                             details={"role": str(role), "caller": str(granter)})


def check_manage(granter: Granter, target_role: Role) -> None:
    """Changing, disabling or removing a member (or their invitation) needs the right to
    grant the role they hold."""
    check_grant(granter, target_role, what="manage staff with")


# --- passwords and emails --------------------------------------------------------------------

MIN_PASSWORD = 10
MAX_PASSWORD = 256
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def normalised_email(raw: str) -> str:
    email = raw.strip().lower()
    if len(email) > 320 or not _EMAIL.match(email):
        raise ValidationFailed("This is not an email address.", details={"field": "email"})
    return email


def check_password(password: str, email: str) -> None:
    """At least 10 characters, at most 256, and not the email."""
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(f"A password needs at least {MIN_PASSWORD} characters.",
                               details={"field": "password", "min_length": MIN_PASSWORD})
    if len(password) > MAX_PASSWORD:
        raise ValidationFailed(f"A password has at most {MAX_PASSWORD} characters.",
                               details={"field": "password", "max_length": MAX_PASSWORD})
    if password.strip().lower() == email.strip().lower():
        raise ValidationFailed("A password cannot be your email address.",
                               details={"field": "password"})


def check_name(raw: str) -> str:
    name = raw.strip()
    if not name or len(name) > 200:
        raise ValidationFailed("A name has 1 to 200 characters.", details={"field": "name"})
    return name


def hash_token(token: str) -> str:
    """Session and invitation tokens carry 256 random bits: a fast hash is enough."""
    return hashlib.sha256(token.encode()).hexdigest()


# --- sessions and invitations ----------------------------------------------------------------

# A resumed session writes its last-seen time only when the stored one is older than this, so
# a page load is not a write.
TOUCH_AFTER = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class SessionTimes:
    created_at: datetime
    last_seen_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class SessionVerdict:
    alive: bool
    reason: str = ""  # why it ended: "logged_out", "idle", "absolute"
    touch: bool = False  # slide the idle timeout: write last_seen_at = now


def judge_session(session: SessionTimes, *, now: datetime, idle: timedelta,
                  absolute: timedelta) -> SessionVerdict:
    """A session ends when logged out, when unused for ``idle``, or ``absolute`` after its
    login however much it is used. A live one is touched when its last-seen time is older
    than ``TOUCH_AFTER``."""
    if session.revoked_at is not None:
        return SessionVerdict(False, "logged_out")
    if now >= session.created_at + absolute:
        return SessionVerdict(False, "absolute")
    if now >= session.last_seen_at + idle:
        return SessionVerdict(False, "idle")
    return SessionVerdict(True, touch=now - session.last_seen_at >= TOUCH_AFTER)


def invitation_expired(expires_at: datetime, now: datetime) -> bool:
    return now >= expires_at


# --- the second factor (TOTP, RFC 6238: 30-second steps, 6 digits) ----------------------------

TOTP_ISSUER = "Orderline"
TOTP_DRIFT_STEPS = 1  # a code of the step before or after is accepted (clock drift)


def totp_step_matched(secret: str, code: str, *, now: datetime,
                      last_used_step: int | None) -> int | None:
    """The time step whose code this is (now, or one step either side), if that step is later
    than the last one used: a code is never accepted twice. None: no match."""
    code = code.strip().replace(" ", "")
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code) and (
                last_used_step is None or step > last_used_step):
            return step
    return None


def totp_uri(secret: str, email: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads (as a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=TOTP_ISSUER)
