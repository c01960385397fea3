"""Inventory rules: what counts as available, what a shortage report says, ledger drift."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

T = TypeVar("T")


class MovementReason(StrEnum):
    RECEIPT = "receipt"
    SALE = "sale"
    RETURN = "return"
    CORRECTION = "correction"
    DAMAGE = "damage"
    TRANSFER_IN = "transfer_in"
    TRANSFER_OUT = "transfer_out"
    CANCELLATION = "cancellation"  # sold units put back when a paid order is cancelled
    IMPORT = "import"  # a stock level set by a CSV import (catalog.stock_import)
    # An order's sold units moved to the location that ships them: put back where they were
    # sold (+), taken where they leave (-), both naming the order.
    REALLOCATION = "reallocation"
    # Sold units that moved with their lines to the order split from theirs: put back on the
    # original (+), taken by the new order (-), on_hand unchanged.
    SPLIT = "split"


# Reasons a merchant may give when adjusting stock by hand (sales and returns come from orders).
MANUAL_REASONS = frozenset({MovementReason.RECEIPT, MovementReason.CORRECTION,
                            MovementReason.DAMAGE, MovementReason.RETURN})


class ReservationStatus(StrEnum):
    ACTIVE = "active"
    CONSUMED = "consumed"  # became a sale when the order was paid
    RELEASED = "released"  # given back: order cancelled or edited
    EXPIRED = "expired"  # deadline passed


@dataclass(frozen=True, slots=True)
class HeldReservation:
    quantity: int
    expires_at: datetime


def counts_as_held(reservation: HeldReservation, now: datetime) -> bool:
    """A reservation holds stock only until its deadline, whether or not a sweeper ran."""
    return reservation.expires_at > now


def available(on_hand: int, reservations: Iterable[HeldReservation], now: datetime) -> int:
    return on_hand - sum(r.quantity for r in reservations if counts_as_held(r, now))


@dataclass(frozen=True, slots=True)
class ShortLine:
    sku: str
    requested: int
    available: int

    def as_dict(self) -> dict[str, object]:
        return {"sku": self.sku, "requested": self.requested, "available": self.available}


def shortage_message(short: list[ShortLine]) -> str:
    parts = [f"{s.sku} (requested {s.requested}, available {s.available})" for s in short]
    return "Not enough stock for " + ", ".join(parts) + ". Nothing was reserved."


@dataclass(frozen=True, slots=True)
class Drift:
    """A stock level whose counters disagree with the rows that should explain them."""

    sku: str
    location: str
    on_hand: int
    ledger_sum: int
    reserved: int
    active_reservations: int

    @property
    def is_drift(self) -> bool:
        return self.on_hand != self.ledger_sum or self.reserved != self.active_reservations

    def as_dict(self) -> dict[str, object]:
        return {"sku": self.sku, "location": self.location, "on_hand": self.on_hand,
                "ledger_sum": self.ledger_sum, "reserved": self.reserved,
                "active_reservations": self.active_reservations}


def whole_skus_page(rows: Sequence[T], limit: int,
                    sku_of: Callable[[T], str]) -> tuple[list[T], str | None]:
    """A page of stock rows (one per SKU and location, by SKU) cut where a SKU ends.

    ``rows`` holds up to ``limit + 1`` rows; the page is the first ``limit``, less the last
    SKU's rows when that SKU goes on past the page (the next page, after the SKU before it,
    starts with that SKU whole). Returns the page and the SKU to page after, None at the end.
    A single SKU with more than ``limit`` locations cannot be cut whole; its rows are shown up
    to ``limit`` and the next page starts after it.
    """
    if len(rows) <= limit:
        return list(rows), None
    page = list(rows[:limit])
    last = sku_of(page[-1])
    if sku_of(rows[limit]) == last:
        whole = [r for r in page if sku_of(r) != last]
        if whole:
            return whole, sku_of(whole[-1])
    return page, last


@dataclass(frozen=True, slots=True)
class LevelStock:
    """A SKU's stock at one location, as allocation weighs it: the units its counters leave
    free (on hand less held)."""

    stock_level_id: uuid.UUID
    location_code: str
    is_default: bool
    free: int


def choose_level(quantity: int, levels: Sequence[LevelStock]) -> LevelStock | None:
    """Where a line of an order placed without a location takes its units (docs/guides/
    catalog-and-stock.md, "Which location an order takes from"): the business's default
    location when it has enough free units; else the location with the most free units
    (ties: the smaller location code) when it has enough; else None (the line is short
    everywhere, and is refused at the default location as before). A line is never split
    across locations."""
    default = next((s for s in levels if s.is_default), None)
    if default is not None and default.free >= quantity:
        return default
    best = min(levels, key=lambda s: (-s.free, s.location_code), default=None)
    return best if best is not None and best.free >= quantity else None
