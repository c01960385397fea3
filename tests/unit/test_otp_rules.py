import hashlib
import random
import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from orderline.cod.otp_rules import (
    OtpCheck,
    OtpState,
    hash_code,
    issue,
    new_code,
    new_salt,
    raise_for,
    verify,
)
from orderline.core.errors import (
    OtpAlreadyUsed,
    OtpExpired,
    OtpInvalid,
    OtpLocked,
    OtpRejected,
    ValidationFailed,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SALT = bytes(range(16))
CODE = "042137"


def state(**changes: object) -> OtpState:
    issued = issue(CODE, salt=SALT, now=NOW, ttl=timedelta(minutes=10))
    return replace(issued, **changes)  # type: ignore[arg-type]


class FixedRandBelow:
    def __init__(self, value: int) -> None:
        self.value = value
        self.bounds: list[int] = []

    def randbelow(self, exclusive_upper_bound: int, /) -> int:
        self.bounds.append(exclusive_upper_bound)
        return self.value


def test_a_code_is_zero_padded_to_six_digits_by_default() -> None:
    rng = FixedRandBelow(42)
    assert new_code(rng) == "000042"
    assert rng.bounds == [1_000_000]


def test_a_code_can_have_another_number_of_digits() -> None:
    rng = FixedRandBelow(7)
    assert new_code(rng, digits=4) == "0007"
    assert rng.bounds == [10_000]


def test_a_seeded_random_gives_the_same_codes_every_time() -> None:
    first = [new_code(random.Random(7)) for _ in range(3)]
    assert first == [new_code(random.Random(7))] * 3
    assert first[0] == str(random.Random(7).randrange(1_000_000)).zfill(6)


def test_the_secrets_module_makes_six_digit_codes() -> None:
    code = new_code(secrets)
    assert len(code) == 6 and code.isdigit()


@pytest.mark.parametrize("digits", [3, 11, True])
def test_a_code_length_outside_four_to_ten_digits_is_refused(digits: int) -> None:
    with pytest.raises(ValidationFailed) as caught:
        new_code(FixedRandBelow(0), digits=digits)
    assert caught.value.details == {"field": "digits", "value": digits}


def test_a_code_is_hashed_with_pbkdf2_sha256_and_ten_thousand_rounds() -> None:
    expected = hashlib.pbkdf2_hmac("sha256", b"042137", SALT, 10_000).hex()
    assert hash_code(CODE, salt=SALT) == expected
    assert len(expected) == 64


def test_the_same_code_with_another_salt_hashes_differently() -> None:
    assert hash_code(CODE, salt=SALT) != hash_code(CODE, salt=bytes(16))
    assert hash_code(CODE, salt=SALT) != hash_code("042138", salt=SALT)


def test_a_salt_is_sixteen_bytes_from_the_given_source() -> None:
    asked: list[int] = []

    def token_bytes(n: int) -> bytes:
        asked.append(n)
        return b"s" * n

    assert new_salt(token_bytes) == b"s" * 16
    assert asked == [16]
    assert len(new_salt(secrets.token_bytes)) == 16


def test_a_salt_source_giving_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        new_salt(lambda n: b"short")


def test_issuing_stores_the_hash_and_the_expiry_but_never_the_code() -> None:
    issued = issue(CODE, salt=SALT, now=NOW, ttl=timedelta(minutes=10), max_attempts=3)
    assert issued == OtpState(code_hash=hash_code(CODE, salt=SALT), salt=SALT,
                              expires_at=NOW + timedelta(minutes=10), attempts=0,
                              max_attempts=3, verified_at=None)
    assert CODE not in repr(issued).replace(" ", "")
    assert issued.code_hash not in repr(issued)
    assert repr(SALT) not in repr(issued)


def test_issuing_refuses_a_lifetime_of_zero_or_no_attempts() -> None:
    with pytest.raises(ValidationFailed) as caught:
        issue(CODE, salt=SALT, now=NOW, ttl=timedelta(0))
    assert caught.value.details["field"] == "ttl"
    with pytest.raises(ValidationFailed) as caught:
        issue(CODE, salt=SALT, now=NOW, ttl=timedelta(minutes=1), max_attempts=0)
    assert caught.value.details["field"] == "max_attempts"


def test_the_right_code_verifies_and_records_when() -> None:
    at = NOW + timedelta(minutes=3)
    check = verify(state(), CODE, now=at)
    assert check == OtpCheck(state=state(verified_at=at), ok=True, error=None)
    assert raise_for(check) == state(verified_at=at)


def test_blanks_around_a_pasted_code_are_ignored() -> None:
    assert verify(state(), f"  {CODE}\n", now=NOW).ok


def test_a_wrong_code_is_refused_and_counts_an_attempt() -> None:
    check = verify(state(), "000000", now=NOW)
    assert check.ok is False
    assert check.state == state(attempts=1)
    assert isinstance(check.error, OtpInvalid)
    assert check.error.code == "otp_invalid"
    assert check.error.details == {"attempts_left": 4}
    with pytest.raises(OtpInvalid):
        raise_for(check)


def test_the_fifth_wrong_code_leaves_no_attempts_and_the_sixth_try_is_locked() -> None:
    current = state()
    for left in (4, 3, 2, 1, 0):
        check = verify(current, "999999", now=NOW)
        assert isinstance(check.error, OtpInvalid)
        assert check.error.details == {"attempts_left": left}
        current = check.state
    assert current.attempts == 5
    check = verify(current, CODE, now=NOW)
    assert isinstance(check.error, OtpLocked)
    assert check.error.code == "otp_locked"
    assert check.ok is False


def test_a_locked_code_is_refused_without_counting_more_attempts_even_when_right() -> None:
    locked = state(attempts=5)
    check = verify(locked, CODE, now=NOW)
    assert check == OtpCheck(state=locked, ok=False, error=check.error)
    assert isinstance(check.error, OtpLocked)
    assert check.error.details == {"max_attempts": 5}


def test_one_attempt_left_still_lets_the_right_code_through() -> None:
    assert verify(state(attempts=4), CODE, now=NOW).ok


def test_a_code_at_its_expiry_instant_is_expired() -> None:
    expiry = NOW + timedelta(minutes=10)
    check = verify(state(), CODE, now=expiry)
    assert isinstance(check.error, OtpExpired)
    assert check.error.code == "otp_expired"
    assert check.state == state()
    assert verify(state(), CODE, now=expiry - timedelta(microseconds=1)).ok


def test_expiry_is_reported_before_a_lock() -> None:
    check = verify(state(attempts=5), CODE, now=NOW + timedelta(hours=1))
    assert isinstance(check.error, OtpExpired)


def test_a_verified_code_cannot_be_used_again() -> None:
    used = verify(state(), CODE, now=NOW).state
    check = verify(used, CODE, now=NOW + timedelta(seconds=1))
    assert isinstance(check.error, OtpAlreadyUsed)
    assert check.error.code == "otp_already_used"
    assert check.state == used
    with pytest.raises(OtpAlreadyUsed):
        raise_for(check)


def test_every_refusal_can_be_caught_as_otp_rejected() -> None:
    checks = [verify(state(), "1", now=NOW), verify(state(attempts=5), CODE, now=NOW),
              verify(state(), CODE, now=NOW + timedelta(days=1)),
              verify(state(verified_at=NOW), CODE, now=NOW)]
    assert [type(c.error) for c in checks] == [OtpInvalid, OtpLocked, OtpExpired, OtpAlreadyUsed]
    for check in checks:
        with pytest.raises(OtpRejected):
            raise_for(check)


def test_a_check_repr_shows_neither_the_hash_nor_the_salt() -> None:
    check = verify(state(), CODE, now=NOW)
    assert check.state.code_hash not in repr(check)
    assert repr(SALT) not in repr(check)
