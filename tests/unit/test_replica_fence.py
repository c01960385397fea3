"""The pieces of the read replica's fence that need no server: WAL positions as numbers, and
write marks that only move forward."""

from __future__ import annotations

import uuid

from orderline.core.db.replica import MemoryWriteMarks, lsn_number


def test_wal_positions_compare_as_numbers_across_the_slash() -> None:
    assert lsn_number("0/0") == 0
    assert lsn_number("0/16B3748") == 0x16B3748
    assert lsn_number("1/0") == 1 << 32
    assert lsn_number("1/0") > lsn_number("0/FFFFFFFF")
    assert lsn_number("16/B374D848") == (0x16 << 32) | 0xB374D848


async def test_a_business_mark_only_moves_forward_and_marks_no_other_business() -> None:
    marks = MemoryWriteMarks()
    shop, other = uuid.uuid4(), uuid.uuid4()
    await marks.note([shop], 200)
    await marks.note([shop], 100)  # a slower process noting an older write
    assert await marks.latest(shop) == 200
    assert await marks.latest(other) is None
    await marks.note([shop, other], 300)
    assert (await marks.latest(shop), await marks.latest(other)) == (300, 300)
