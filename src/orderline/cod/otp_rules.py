"""One-time codes: short numeric codes sent to a buyer, stored only as salted hashes.

A code expires at a fixed time and locks after ``max_attempts`` wrong tries, so guessing a
six-digit code is not worth trying. Only the hash and its salt are kept: a leaked row does not
reveal a code, and neither do reprs or logs (the hash and salt are left out of ``repr``).

``verify`` does not raise. A wrong code changes the state (one more attempt), and the caller
must store that new state even though the buyer is refused, or the attempt limit would never
bite. So ``verify`` returns an ``OtpCheck`` holding the state to store and the refusal, if
any; the caller stores ``check.state`` and then calls ``raise_for(check)``::

    check = verify(state, code, now=now)
    save(check.state)          # in the same transaction, whatever the outcome
    raise_for(check)           # raises OtpInvalid, OtpLocked, ... when not ok

Randomness comes in as arguments (an ``rng`` and a ``token_bytes`` callable): production
passes the ``secrets`` module, tests pass a seeded ``random.Random``.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from orderline.core.errors import (
    DomainError,
    OtpAlreadyUsed,
    OtpExpired,
    OtpInvalid,
    OtpLocked,
    ValidationFailed,
)

HASH_ITERATIONS = 10_000
SALT_BYTES = 16
MIN_DIGITS = 4
MAX_DIGITS = 10


class RandBelow(Protocol):
    """Anything with ``randbelow(n)``, such as the ``secrets`` module."""

    def randbelow(self, exclusive_upper_bound: int, /) -> int: ...


@dataclass(frozen=True, slots=True)
class OtpState:
    code_hash: str = field(repr=False)
    salt: bytes = field(repr=False)
    expires_at: datetime
    attempts: int = 0  # wrong codes tried so far
    max_attempts: int = 5
    verified_at: datetime | None = None

    @property
    def attempts_left(self) -> int:
        return max(0, self.max_attempts - self.attempts)


@dataclass(frozen=True, slots=True)
class OtpCheck:
    """The outcome of one ``verify``: ``state`` is what to store, whether or not ``ok``."""

    state: OtpState
    ok: bool
    error: DomainError | None = None


def new_code(rng: random.Random | RandBelow, digits: int = 6) -> str:
    """A uniformly random code of ``digits`` decimal digits, zero-padded ("004217")."""
    if isinstance(digits, bool) or not MIN_DIGITS <= digits <= MAX_DIGITS:
        raise ValidationFailed(f"A one-time code has {MIN_DIGITS} to {MAX_DIGITS} digits.",
                               details={"field": "digits", "value": digits})
    bound = 10**digits
    value = rng.randrange(bound) if isinstance(rng, random.Random) else rng.randbelow(bound)
    return str(value).zfill(digits)


def new_salt(token_bytes: Callable[[int], bytes]) -> bytes:
    """A fresh salt from ``token_bytes`` (``secrets.token_bytes`` in production)."""
    salt = token_bytes(SALT_BYTES)
    if len(salt) != SALT_BYTES:
        raise ValidationFailed(f"A salt is {SALT_BYTES} bytes; got {len(salt)}.",
                               details={"field": "salt", "length": len(salt)})
    return salt


def hash_code(code: str, *, salt: bytes) -> str:
    """The stored form of ``code``: PBKDF2-HMAC-SHA256, 10,000 rounds, as hex.

    A few milliseconds per hash: cheap for one check, costly for a million offline guesses.
    """
    return hashlib.pbkdf2_hmac("sha256", code.encode(), salt, HASH_ITERATIONS).hex()


def issue(code: str, *, salt: bytes, now: datetime, ttl: timedelta,
          max_attempts: int = 5) -> OtpState:
    """The state to store for a code just sent, valid for ``ttl`` from ``now``."""
    if ttl <= timedelta(0):
        raise ValidationFailed("A one-time code must stay valid for some time.",
                               details={"field": "ttl", "value": ttl.total_seconds()})
    if isinstance(max_attempts, bool) or max_attempts < 1:
        raise ValidationFailed("A one-time code allows at least one attempt.",
                               details={"field": "max_attempts", "value": max_attempts})
    return OtpState(code_hash=hash_code(code, salt=salt), salt=salt, expires_at=now + ttl,
                    max_attempts=max_attempts)


def verify(state: OtpState, code: str, *, now: datetime) -> OtpCheck:
    """Check ``code`` against ``state`` at ``now``; never raises for a refusal.

    Refusals, in order: already used, expired (``now >= expires_at``), locked (no attempts
    left, decided before the code is looked at so a locked code leaks nothing), invalid. Only
    an invalid code changes the state (one more attempt); success sets ``verified_at``.
    Blanks around the code are ignored, since buyers paste codes from messages.
    """
    if state.verified_at is not None:
        return _refused(state, OtpAlreadyUsed("This code was already used; ask for a new one."))
    if now >= state.expires_at:
        return _refused(state, OtpExpired("This code has expired; ask for a new one.",
                                          details={"expired_at": state.expires_at.isoformat()}))
    if state.attempts >= state.max_attempts:
        return _refused(state, OtpLocked("Too many wrong codes; ask for a new one.",
                                         details={"max_attempts": state.max_attempts}))
    given = hash_code(code.strip(), salt=state.salt)
    if hmac.compare_digest(given, state.code_hash):
        return OtpCheck(state=replace(state, verified_at=now), ok=True)
    tried = replace(state, attempts=state.attempts + 1)
    return _refused(tried, OtpInvalid("This code is not right.",
                                      details={"attempts_left": tried.attempts_left}))


def raise_for(check: OtpCheck) -> OtpState:
    """The verified state, or raise the refusal ``check`` carries (store ``check.state`` first)."""
    if check.error is not None:
        raise check.error
    return check.state


def _refused(state: OtpState, error: DomainError) -> OtpCheck:
    return OtpCheck(state=state, ok=False, error=error)
