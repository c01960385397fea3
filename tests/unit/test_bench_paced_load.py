"""``bench.load.drive_paced``: arrivals at a rate that does not wait for earlier answers."""

from __future__ import annotations

import asyncio

import pytest

from orderline.bench.load import drive_paced


def test_an_arrival_does_not_wait_for_the_answers_before_it() -> None:
    # The first order is answered only once the third has arrived: a closed loop (one
    # requester waiting for each answer before the next order) would never finish.
    third_arrived = asyncio.Event()
    answered: list[int] = []

    async def place(n: int) -> None:
        if n == 0:
            await third_arrived.wait()
        if n == 2:
            third_arrived.set()
        answered.append(n)

    result = asyncio.run(asyncio.wait_for(
        drive_paced([0, 1, 2], scenario="s", path="p", rate=1000.0, place=place), 30))

    assert answered[-1] == 0 and sorted(answered) == [0, 1, 2]
    assert result.completed == 3 and result.failed == 0
    assert len(result.latencies_ms) == 3 and list(result.latencies_ms) == sorted(
        result.latencies_ms)


def test_failures_are_counted_apart_and_kept_out_of_the_latencies() -> None:
    async def place(n: int) -> None:
        if n % 2:
            raise RuntimeError(f"refused {n}")

    result = asyncio.run(drive_paced(range(5), scenario="s", path="p", rate=1000.0,
                                     place=place))

    assert (result.completed, result.failed) == (3, 2)
    assert len(result.latencies_ms) == 3
    assert result.first_failure is not None and result.first_failure.startswith("RuntimeError")


def test_a_rate_must_be_positive() -> None:
    async def place(n: int) -> None:
        return None

    with pytest.raises(ValueError):
        asyncio.run(drive_paced([1], scenario="s", path="p", rate=0, place=place))
