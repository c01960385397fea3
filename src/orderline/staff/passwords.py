"""Password hashing: argon2id (``argon2-cffi``'s defaults, RFC 9106's low-memory profile:
3 passes over 64 MiB, 4 lanes), run in a worker thread so a login does not stall the event
loop for the tens of milliseconds a hash takes.

``verify_or_dummy`` always runs one verification, against a fixed dummy hash when there is no
account, so an unknown email costs the same time as a wrong password.
"""

from __future__ import annotations

import asyncio
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

HASHER = PasswordHasher()  # argon2id


@functools.cache
def _dummy_hash() -> str:
    return HASHER.hash("orderline: no such account, the same work all the same")


def _verify(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(HASHER.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` is the one hashed; with no hash, the dummy's work and False."""
    if password_hash is None:
        await asyncio.to_thread(_verify, _dummy_hash(), password)
        return False
    return await asyncio.to_thread(_verify, password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    """The hash was made with weaker parameters than today's: store a new one at login."""
    return HASHER.check_needs_rehash(password_hash)
