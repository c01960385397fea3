"""Daily rollups of the overview's sales figures: which days may be read from a rollup and
which must be summed live, and when a change to an order makes its day's rollup stale. Pure,
no I/O, no clock.

The overview sums a period's orders by UTC day, channel and currency (orders, paid orders,
revenue). A closed day's orders are all placed, but their figures still move: an old order is
paid, its cash collected, cancelled or refunded, and ``paid_orders``/``revenue`` follow its
current status. So a rollup is exact only while no order of its day has changed since it was
summed:

- the worker sums a business's closed days (``rolled_through`` moves forward) and writes one
  row per day, channel and currency, off the order path;
- a change to an order of a day before the writer's today that alters the order's figures
  inserts a *stale mark* for that day in the same transaction (its own row: nothing is
  locked or waited on; a change of today's orders, the common case, writes nothing);
- the overview reads rollup rows for the rolled days without a mark and sums every other day
  live (today, the marked days, the days past ``rolled_through``), in one snapshot, so the
  answer is the one a live sum of the whole period would give;
- the worker sums marked days again and deletes the marks it read, and only those.

A day is rolled up only ``SETTLE`` after it ended, so a transaction that took its ``now``
before midnight (an order placed or changed at 23:59:59 that commits a little later, or a
process whose clock is a little behind) has committed by then; a writer whose day is still
the order's day writes no mark, and the settle time is what makes that safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from orderline.orders.rules import REVENUE_STATUSES

# How long after a UTC day ends the worker waits before it sums the day: far longer than any
# order transaction lasts (their statements time out in seconds) and than the clocks of the
# processes differ.
SETTLE = timedelta(hours=1)

# More separate live stretches than this (many stale days) and the live sum reads one span
# from the first of them instead: the same figures, one index range instead of many.
MAX_LIVE_RANGES = 16

_REVENUE = frozenset(s.value for s in REVENUE_STATUSES)


def utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def midnight(day: date) -> datetime:
    """The instant a UTC day starts."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def last_day_to_roll(now: datetime) -> date:
    """The last UTC day the worker may sum at ``now``: ended at least ``SETTLE`` ago."""
    return utc_day(now - SETTLE) - timedelta(days=1)


class OrderFigures(Protocol):
    """What of an order the overview's sums read."""

    @property
    def status(self) -> str: ...
    @property
    def payment_method(self) -> str: ...
    @property
    def paid_at(self) -> datetime | None: ...
    @property
    def total(self) -> int: ...
    @property
    def channel(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...


def money_received(order: OrderFigures) -> bool:
    """As ``orders.store.money_received`` says in SQL: a paid status, and for cash on
    delivery the cash collected."""
    return order.status in _REVENUE and (order.payment_method != "cod"
                                         or order.paid_at is not None)


def contribution(order: OrderFigures) -> tuple[date, str, str, bool, int]:
    """What the order adds to its day's sums: its day, channel and currency, whether its money
    came in, and that money."""
    received = money_received(order)
    return (utc_day(order.created_at), order.channel, order.currency, received,
            order.total if received else 0)


def stale_day(before: OrderFigures, after: OrderFigures, *, now: datetime) -> date | None:
    """The closed day whose rollup a change of ``before`` into ``after`` at ``now`` makes
    stale, or None: the figures did not move, or the order is of the writer's today (no
    rollup of it can exist yet, see ``SETTLE``)."""
    if contribution(before) == contribution(after):
        return None
    day = utc_day(before.created_at)
    return day if day < utc_day(now) else None


@dataclass(frozen=True, slots=True)
class DayRange:
    """UTC days ``first`` to ``last``, both included."""

    first: date
    last: date


@dataclass(frozen=True, slots=True)
class ReadPlan:
    """How to sum a period: ``rolled`` days from rollups (``stale`` days among them excluded),
    ``live`` ranges from the orders."""

    rolled: DayRange | None
    stale: frozenset[date]
    live: list[DayRange]


def read_plan(first_day: date, today: date, *, rolled_through: date | None,
              stale: frozenset[date] | set[date]) -> ReadPlan:
    """Which days of ``first_day`` to ``today`` come from rollups and which are summed live:
    rolled days before today without a stale mark from rollups, every other day live."""
    last_rolled = min(rolled_through, today - timedelta(days=1)) if rolled_through else None
    rolled = (DayRange(first_day, last_rolled)
              if last_rolled is not None and last_rolled >= first_day else None)
    stale_in = frozenset(d for d in stale if rolled and rolled.first <= d <= rolled.last)
    live: list[DayRange] = []
    day = first_day
    while day <= today:
        if rolled and rolled.first <= day <= rolled.last and day not in stale_in:
            day += timedelta(days=1)
            continue
        if live and live[-1].last == day - timedelta(days=1):
            live[-1] = DayRange(live[-1].first, day)
        else:
            live.append(DayRange(day, day))
        day += timedelta(days=1)
    if len(live) > MAX_LIVE_RANGES:
        # One span from the first live day: the rolled days inside it are read live too.
        rolled = (DayRange(rolled.first, live[0].first - timedelta(days=1))
                  if rolled and live[0].first > rolled.first else None)
        stale_in = frozenset(d for d in stale_in if rolled and d <= rolled.last)
        live = [DayRange(live[0].first, today)]
    return ReadPlan(rolled=rolled, stale=stale_in, live=live)

