"""The verification queue's figures by day, week and month: UTC calendar periods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from orderline.manual_payments.review_rules import (
    Decided,
    Period,
    figures_by_period,
    next_period,
    period_start,
)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_periods_start_at_utc_midnight_on_mondays_and_first_days() -> None:
    sunday_late = at(2026, 11, 8, 23, 59)
    assert period_start(sunday_late, Period.DAY) == at(2026, 11, 8)
    assert period_start(sunday_late, Period.WEEK) == at(2026, 11, 2)
    assert period_start(sunday_late, Period.MONTH) == at(2026, 11, 1)
    # 01:00 in UTC+3 is 22:00 UTC the day before.
    east = datetime(2026, 12, 1, 1, 0, tzinfo=timezone(timedelta(hours=3)))
    assert period_start(east, Period.DAY) == at(2026, 11, 30)
    assert period_start(east, Period.MONTH) == at(2026, 11, 1)


def test_the_month_after_december_is_january() -> None:
    assert next_period(at(2026, 12, 1), Period.MONTH) == at(2027, 1, 1)
    assert next_period(at(2026, 1, 1), Period.MONTH) == at(2026, 2, 1)
    assert next_period(at(2026, 12, 28), Period.WEEK) == at(2027, 1, 4)


def test_each_period_of_the_window_is_there_even_without_decisions() -> None:
    def decided(when: datetime, approved: bool) -> Decided:
        return Decided(approved=approved, uploaded_at=when - timedelta(seconds=30),
                       decided_at=when, score_bp=None, auto=False)

    rows = [decided(at(2026, 12, 31, 23), True), decided(at(2027, 1, 1, 1), False),
            decided(at(2026, 10, 1), True)]  # before the window: left out
    buckets = figures_by_period(rows, period=Period.MONTH, since=at(2026, 11, 15),
                                now=at(2027, 1, 2), threshold_bp=7000)
    assert [(start, f.decided, f.approved) for start, f in buckets] == [
        (at(2026, 11, 1), 0, 0), (at(2026, 12, 1), 1, 1), (at(2027, 1, 1), 1, 0)]
    assert buckets[1][1].median_seconds_to_decision == 30.0
