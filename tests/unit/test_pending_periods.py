"""How many proofs were waiting at the end of each day, week or month (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from orderline.manual_payments.review_rules import Period, Waiting, pending_by_period


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_a_proof_counts_at_the_end_of_each_day_it_was_still_waiting() -> None:
    waiting = [
        Waiting(uploaded_at=at(2026, 11, 1, 10), left_at=at(2026, 11, 3, 9)),  # two nights
        Waiting(uploaded_at=at(2026, 11, 2, 8), left_at=at(2026, 11, 2, 9)),  # same day
        Waiting(uploaded_at=at(2026, 11, 3, 23), left_at=None),  # still waits
    ]
    days = pending_by_period(waiting, period=Period.DAY, since=at(2026, 11, 1, 6),
                             now=at(2026, 11, 4, 12))
    assert days == [(at(2026, 11, 1), 1), (at(2026, 11, 2), 1), (at(2026, 11, 3), 1),
                    (at(2026, 11, 4), 1)]


def test_midnight_belongs_to_the_next_day_and_the_current_day_counts_now() -> None:
    waiting = [
        Waiting(uploaded_at=at(2026, 11, 2), left_at=None),  # exactly at midnight
        Waiting(uploaded_at=at(2026, 11, 1, 12), left_at=at(2026, 11, 2)),  # left at midnight
        Waiting(uploaded_at=at(2026, 11, 2, 10), left_at=at(2026, 11, 2, 11)),  # left before now
        Waiting(uploaded_at=at(2026, 11, 2, 11), left_at=at(2026, 11, 2, 13)),  # leaves later
    ]
    days = pending_by_period(waiting, period=Period.DAY, since=at(2026, 11, 1),
                             now=at(2026, 11, 2, 12))
    # At the end of the 1st: only the one that left at midnight had come and not yet left.
    # Now (noon on the 2nd): the midnight one and the one that will leave at 13:00.
    assert days == [(at(2026, 11, 1), 1), (at(2026, 11, 2), 2)]


def test_weeks_and_months_count_at_their_own_ends_with_empty_periods_as_zero() -> None:
    waiting = [
        # Waits across the end of October (a Saturday) and of the week ending Sunday 1 Nov.
        Waiting(uploaded_at=at(2026, 10, 30, 15), left_at=at(2026, 11, 2, 9)),
        Waiting(uploaded_at=at(2026, 9, 10), left_at=at(2026, 9, 11)),  # left inside September
    ]
    weeks = pending_by_period(waiting, period=Period.WEEK, since=at(2026, 10, 20),
                              now=at(2026, 11, 10))
    assert weeks == [(at(2026, 10, 19), 0), (at(2026, 10, 26), 1), (at(2026, 11, 2), 0),
                     (at(2026, 11, 9), 0)]
    months = pending_by_period(waiting, period=Period.MONTH, since=at(2026, 9, 1),
                               now=at(2026, 11, 10))
    assert months == [(at(2026, 9, 1), 0), (at(2026, 10, 1), 1), (at(2026, 11, 1), 0)]


def test_nothing_waiting_gives_zeros_for_every_period() -> None:
    assert pending_by_period([], period=Period.DAY, since=at(2026, 11, 1, 5),
                             now=at(2026, 11, 3, 1)) == [
        (at(2026, 11, 1), 0), (at(2026, 11, 2), 0), (at(2026, 11, 3), 0)]
