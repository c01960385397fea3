"""The per-process memo of API key uses (``tenancy.key_use.KeyUseMemo``): a key is recorded
at most once per interval by a process, and the memo never grows past its size."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from orderline.tenancy.key_use import RECORD_EVERY, KeyUseMemo

NOON = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_a_key_is_claimed_once_per_interval() -> None:
    memo = KeyUseMemo()
    key = uuid.uuid4()
    assert memo.claim(key, NOON)
    assert not memo.claim(key, NOON)
    assert not memo.claim(key, NOON + RECORD_EVERY - timedelta(seconds=1))
    assert memo.claim(key, NOON + RECORD_EVERY)
    assert not memo.claim(key, NOON + RECORD_EVERY + timedelta(minutes=1))


def test_each_key_has_its_own_interval() -> None:
    memo = KeyUseMemo()
    first, second = uuid.uuid4(), uuid.uuid4()
    assert memo.claim(first, NOON)
    assert memo.claim(second, NOON + timedelta(seconds=1))
    assert not memo.claim(first, NOON + timedelta(seconds=2))


def test_the_memo_stays_within_its_size_forgetting_the_least_recently_recorded() -> None:
    memo = KeyUseMemo(size=3)
    keys = [uuid.uuid4() for _ in range(5)]
    for i, key in enumerate(keys):
        assert memo.claim(key, NOON + timedelta(seconds=i))
    assert len(memo) == 3
    assert not memo.claim(keys[4], NOON + timedelta(seconds=10))  # still remembered
    assert memo.claim(keys[0], NOON + timedelta(seconds=10))  # forgotten: asked again
    assert len(memo) == 3
