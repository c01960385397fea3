"""Which days of a period come from rollups, and which changes make a day's rollup stale."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone

from orderline.orders.rollup_rules import (
    MAX_LIVE_RANGES,
    DayRange,
    last_day_to_roll,
    read_plan,
    stale_day,
)


@dataclass(frozen=True)
class Order:
    status: str = "pending_payment"
    payment_method: str = "card"
    paid_at: datetime | None = None
    total: int = 1000
    channel: str = "web"
    currency: str = "USD"
    created_at: datetime = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)


NOW = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)


def test_paying_an_order_of_a_closed_day_makes_its_day_stale() -> None:
    before = Order()
    assert stale_day(before, replace(before, status="paid", paid_at=NOW), now=NOW) == \
        date(2026, 3, 1)


def test_the_day_is_the_utc_day_whatever_the_zone_of_the_times() -> None:
    jakarta = timezone(timedelta(hours=7))
    before = Order(created_at=datetime(2026, 3, 2, 5, 0, tzinfo=jakarta))  # 1 March, UTC
    assert stale_day(before, replace(before, status="paid", paid_at=NOW),
                     now=datetime(2026, 3, 2, 8, 0, tzinfo=jakarta)) == date(2026, 3, 1)


def test_a_change_that_moves_no_figure_marks_nothing() -> None:
    before = Order(status="paid", paid_at=NOW)
    assert stale_day(before, replace(before, status="processing"), now=NOW) is None
    cod = Order(status="confirmed", payment_method="cod")
    assert stale_day(cod, replace(cod, status="shipped"), now=NOW) is None  # no cash yet
    assert stale_day(cod, replace(cod, status="delivered", paid_at=NOW), now=NOW) is not None


def test_a_change_to_an_order_of_the_writers_today_marks_nothing() -> None:
    before = Order(created_at=NOW - timedelta(hours=1))
    assert stale_day(before, replace(before, status="paid", paid_at=NOW), now=NOW) is None


def test_a_day_is_rolled_up_only_an_hour_after_it_ended() -> None:
    assert last_day_to_roll(datetime(2026, 3, 3, 0, 59, tzinfo=UTC)) == date(2026, 3, 1)
    assert last_day_to_roll(datetime(2026, 3, 3, 1, 0, tzinfo=UTC)) == date(2026, 3, 2)


def test_rolled_days_without_marks_come_from_rollups_and_the_rest_live() -> None:
    plan = read_plan(date(2026, 3, 1), date(2026, 3, 10), rolled_through=date(2026, 3, 7),
                     stale={date(2026, 3, 3), date(2026, 2, 1), date(2026, 3, 8)})
    assert plan.rolled == DayRange(date(2026, 3, 1), date(2026, 3, 7))
    assert plan.stale == {date(2026, 3, 3)}
    assert plan.live == [DayRange(date(2026, 3, 3), date(2026, 3, 3)),
                         DayRange(date(2026, 3, 8), date(2026, 3, 10))]


def test_today_is_always_live_and_nothing_rolled_reads_all_live() -> None:
    today = date(2026, 3, 10)
    assert read_plan(today, today, rolled_through=today, stale=set()).live == \
        [DayRange(today, today)]
    plan = read_plan(date(2026, 3, 1), today, rolled_through=None, stale=set())
    assert plan.rolled is None and plan.live == [DayRange(date(2026, 3, 1), today)]


def test_many_stale_days_are_read_as_one_live_span() -> None:
    first, today = date(2026, 1, 1), date(2026, 3, 31)
    stale = {first + timedelta(days=10 + 2 * n) for n in range(MAX_LIVE_RANGES + 1)}
    plan = read_plan(first, today, rolled_through=today - timedelta(days=1), stale=stale)
    assert plan.live == [DayRange(min(stale), today)]
    assert plan.rolled == DayRange(first, min(stale) - timedelta(days=1))
    assert plan.stale == frozenset()
