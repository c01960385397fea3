"""The overview's periods and the shaping of its sales figures: pure, no I/O, no clock.

A period is a number of UTC calendar days ending today (the day ``now`` falls in, counted
whole): ``day`` is today alone, ``week`` the last 7 days, ``month`` 30, ``quarter`` 90, ``year``
365. The figures arrive already summed by the database, by day, channel and currency; here they
are only added up into today, the period, each channel and the daily series.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from orderline.orders.rules import conversion_rate


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


PERIOD_DAYS = {Period.DAY: 1, Period.WEEK: 7, Period.MONTH: 30, Period.QUARTER: 90,
               Period.YEAR: 365}

# Unpaid orders whose payment deadline falls within this many hours are waiting for action.
DEFAULT_DUE_WITHIN_HOURS = 24
MAX_DUE_WITHIN_HOURS = 168
# How many orders (or SKUs) each waiting list shows beside its count.
FIRST_FEW = 5


@dataclass(frozen=True, slots=True)
class Window:
    """The period's UTC days, ``first_day`` to ``today``, and the instants that bound them."""

    first_day: date
    today: date
    starts_at: datetime  # midnight UTC of the first day
    today_starts_at: datetime
    ends_at: datetime  # midnight UTC after today (exclusive)

    def days(self) -> list[date]:
        count = (self.today - self.first_day).days + 1
        return [self.first_day + timedelta(days=n) for n in range(count)]


def window(now: datetime, period: Period) -> Window:
    today = now.astimezone(UTC).date()
    first_day = today - timedelta(days=PERIOD_DAYS[period] - 1)

    def midnight(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=UTC)

    return Window(first_day=first_day, today=today, starts_at=midnight(first_day),
                  today_starts_at=midnight(today), ends_at=midnight(today + timedelta(days=1)))


class Bucket(Protocol):
    """Orders of one UTC day, channel and currency, summed by the database."""

    @property
    def day(self) -> date: ...
    @property
    def channel(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def orders(self) -> int: ...
    @property
    def paid_orders(self) -> int: ...
    @property
    def revenue(self) -> int: ...


class Funnel(Protocol):
    """One channel's checkouts started in a window, and how many became orders."""

    @property
    def checkouts_started(self) -> int: ...
    @property
    def orders_placed(self) -> int: ...


def average_order_value(revenue: int, paid_orders: int) -> int:
    """Revenue per paid order, rounded half up to a whole minor unit (as the order stats)."""
    return (2 * revenue + paid_orders) // (2 * paid_orders) if paid_orders else 0


def currencies_of(buckets: Iterable[Bucket], business_currency: str) -> list[str]:
    """The business's currency and any other its orders of the period were in, sorted: every
    revenue figure names each of them (zero included), so a chart's series line up."""
    return sorted({business_currency, *(b.currency for b in buckets)})


def _figures(buckets: Sequence[Bucket], funnels: Sequence[Funnel],
             currencies: Sequence[str]) -> dict[str, Any]:
    revenue = dict.fromkeys(currencies, 0)
    paid = dict.fromkeys(currencies, 0)
    for b in buckets:
        revenue[b.currency] += b.revenue
        paid[b.currency] += b.paid_orders
    started = sum(f.checkouts_started for f in funnels)
    converted = sum(f.orders_placed for f in funnels)
    return {"orders": sum(b.orders for b in buckets), "paid_orders": sum(paid.values()),
            "revenue": revenue,
            "average_order_value": {c: average_order_value(revenue[c], paid[c])
                                    for c in currencies},
            "checkouts_started": started, "checkouts_converted": converted,
            "conversion_rate": conversion_rate(started, converted)}


def sales_figures(buckets: Sequence[Bucket], funnel: Mapping[str, Funnel], *,
                  currencies: Sequence[str]) -> dict[str, Any]:
    """In total and by channel: orders, paid orders, revenue and average order value by
    currency, and the checkout funnel (a channel with orders or checkouts is listed)."""
    channels = sorted({b.channel for b in buckets} | set(funnel))
    by_channel = {
        channel: _figures([b for b in buckets if b.channel == channel],
                          [funnel[channel]] if channel in funnel else [], currencies)
        for channel in channels}
    return {"total": _figures(buckets, list(funnel.values()), currencies),
            "by_channel": by_channel}


def daily_series(buckets: Sequence[Bucket], days: Sequence[date], *,
                 currencies: Sequence[str]) -> list[dict[str, Any]]:
    """One entry per day of the period, oldest first; a day without orders is there with
    zeros."""
    by_day: dict[date, list[Bucket]] = {day: [] for day in days}
    for b in buckets:
        if b.day in by_day:
            by_day[b.day].append(b)
    series = []
    for day, rows in by_day.items():
        revenue = dict.fromkeys(currencies, 0)
        for b in rows:
            revenue[b.currency] += b.revenue
        series.append({"date": day, "orders": sum(b.orders for b in rows),
                       "paid_orders": sum(b.paid_orders for b in rows), "revenue": revenue})
    return series
