"""The overview's periods and the adding up of the database's daily sums."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from orderline.overview.rules import (
    PERIOD_DAYS,
    Period,
    average_order_value,
    currencies_of,
    daily_series,
    sales_figures,
    window,
)


@dataclass(frozen=True)
class Sum:
    day: date
    channel: str
    currency: str
    orders: int
    paid_orders: int
    revenue: int


@dataclass(frozen=True)
class Funnel:
    checkouts_started: int
    orders_placed: int


LATE_EVENING = datetime(2026, 11, 3, 23, 59, 59, tzinfo=UTC)


def test_a_period_is_whole_utc_days_ending_with_today() -> None:
    week = window(LATE_EVENING, Period.WEEK)
    assert (week.first_day, week.today) == (date(2026, 10, 28), date(2026, 11, 3))
    assert week.starts_at == datetime(2026, 10, 28, tzinfo=UTC)
    assert week.today_starts_at == datetime(2026, 11, 3, tzinfo=UTC)
    assert week.ends_at == datetime(2026, 11, 4, tzinfo=UTC)
    assert len(week.days()) == 7


@pytest.mark.parametrize("period", list(Period))
def test_each_period_has_its_number_of_days(period: Period) -> None:
    assert len(window(LATE_EVENING, period).days()) == PERIOD_DAYS[period]


def test_today_follows_utc_not_the_callers_offset() -> None:
    manila_morning = datetime(2026, 11, 4, 7, 0, tzinfo=timezone(timedelta(hours=8)))
    assert window(manila_morning, Period.DAY).today == date(2026, 11, 3)


def test_the_average_order_value_rounds_half_up_and_is_zero_without_paid_orders() -> None:
    assert average_order_value(1001, 2) == 501
    assert average_order_value(1000, 3) == 333
    assert average_order_value(0, 0) == 0


def test_every_revenue_names_the_business_currency_and_those_seen() -> None:
    sums = [Sum(date(2026, 11, 3), "web", "USD", 1, 1, 500)]
    assert currencies_of(sums, "PHP") == ["PHP", "USD"]
    assert currencies_of([], "PHP") == ["PHP"]


def test_sales_add_up_by_channel_and_in_total_with_the_funnel_beside_them() -> None:
    day = date(2026, 11, 3)
    sums = [Sum(day, "web", "PHP", 3, 2, 3000), Sum(day, "web", "USD", 1, 1, 700),
            Sum(day, "pos", "PHP", 2, 1, 1001)]
    funnel = {"web": Funnel(4, 2), "instagram": Funnel(1, 0)}
    figures = sales_figures(sums, funnel, currencies=["PHP", "USD"])
    assert figures["total"] == {
        "orders": 6, "paid_orders": 4, "revenue": {"PHP": 4001, "USD": 700},
        "average_order_value": {"PHP": 1334, "USD": 700}, "checkouts_started": 5,
        "checkouts_converted": 2, "conversion_rate": 0.4}
    assert sorted(figures["by_channel"]) == ["instagram", "pos", "web"]
    assert figures["by_channel"]["pos"] == {
        "orders": 2, "paid_orders": 1, "revenue": {"PHP": 1001, "USD": 0},
        "average_order_value": {"PHP": 1001, "USD": 0}, "checkouts_started": 0,
        "checkouts_converted": 0, "conversion_rate": None}
    assert figures["by_channel"]["instagram"]["orders"] == 0
    assert figures["by_channel"]["instagram"]["conversion_rate"] == 0.0


def test_the_series_has_every_day_with_zeros_where_nothing_sold() -> None:
    days = window(LATE_EVENING, Period.WEEK).days()
    sums = [Sum(date(2026, 11, 1), "web", "PHP", 2, 1, 900),
            Sum(date(2026, 11, 1), "pos", "PHP", 1, 1, 100),
            Sum(date(2026, 10, 1), "web", "PHP", 9, 9, 9)]  # outside the period: ignored
    series = daily_series(sums, days, currencies=["PHP"])
    assert [s["date"] for s in series] == days
    assert series[4] == {"date": date(2026, 11, 1), "orders": 3, "paid_orders": 2,
                         "revenue": {"PHP": 1000}}
    assert all(s == {"date": s["date"], "orders": 0, "paid_orders": 0, "revenue": {"PHP": 0}}
               for i, s in enumerate(series) if i != 4)
