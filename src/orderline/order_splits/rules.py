"""Splitting an order and merging two: which units may move, and what each order is after.

Pure: the orders' stored figures and lines (and, for a merge, the coupon terms) come in, the
plan goes out. The rules (``docs/guides/order-splits.md``):

Split. Each moved line takes its share of the line's stored discount and tax by units, with
the same exact share a refund by lines uses (``payments.rules.line_refund_amount``: the
first ``m`` of ``q`` units of an amount ``x`` are ``x * m // q``), and the original keeps the
rest. Nothing is priced again: the buyer paid (or will pay) exactly what was agreed, only
divided. Shipping (its price, its discount and its tax) stays on the original, whose parcel
still goes. So the new order's figures are the sums of its moved shares, the original's are
what it had minus those, and the two add up to the original's in every figure, to the minor
unit. The price snapshot's coupon and tax amounts are divided the same way (largest
remainder, by the discount and the tax that moved), so each also adds up.

Merge. The other order's lines join the surviving order's (a SKU on both adds its units; it
must have one unit price on both), and everything is priced again by the one pricing engine
with the survivor's coupons first, then the other's that the survivor lacks (a code on both
counts once), and the survivor's tax rates. The other order's shipping is dropped: its lines
go in the survivor's parcel, whose shipping stays as agreed. As in a partial cancellation, a
coupon's minimum spend is not checked again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orderline.cancellations.rules import LineNow, OrderFigures, tax_rates_of
from orderline.core.errors import (
    LinePartlyRefunded,
    OrdersNotMergeable,
    SplitExceedsRemaining,
    SplitTakesEverything,
)
from orderline.core.money import allocate
from orderline.orders.rules import MAX_LINES_PER_ORDER, OrderStatus, check_line_units
from orderline.payments.rules import line_refund_amount
from orderline.pricing.engine import (
    CouponKind,
    CouponTerms,
    PriceLine,
    PricingInput,
    Quote,
    price,
)

# Before all of it ships: the statuses whose unshipped units may move to a new order.
SPLITTABLE = frozenset({OrderStatus.PENDING_PAYMENT, OrderStatus.CONFIRMED, OrderStatus.PAID,
                        OrderStatus.PROCESSING, OrderStatus.PARTIALLY_SHIPPED})


@dataclass(frozen=True, slots=True)
class UnitsToMove:
    """``quantity`` units of the order's line with this SKU go to the new order."""

    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class MovedLine:
    """One line of the original: what it had, what moves, and what stays."""

    sku: str
    name: str
    unit_price: int
    quantity_before: int
    moved: int
    line_total_moved: int
    discount_moved: int
    tax_moved: int
    line_total_before: int
    discount_before: int
    tax_before: int

    @property
    def kept(self) -> int:
        return self.quantity_before - self.moved


@dataclass(frozen=True, slots=True)
class SplitPlan:
    """The original's lines and figures before, what the original keeps and what the new
    order gets; ``kept`` and ``moved`` add up to ``before`` in every figure."""

    lines: tuple[MovedLine, ...]
    before: OrderFigures
    kept: OrderFigures
    moved: OrderFigures

    def moved_lines(self) -> list[dict[str, Any]]:
        return [{"sku": line.sku, "quantity": line.moved} for line in self.lines if line.moved]


def check_units(wanted: Sequence[UnitsToMove]) -> None:
    """1..MAX lines, each SKU once, each quantity at least 1."""
    check_line_units(wanted, verb="move", per="split",
                     none_named="Name at least one line to move to the new order.")


def _share(amount: int, quantity: int, units: int) -> int:
    """The share of ``units`` of ``quantity`` units in ``amount``: a refund by lines' share."""
    if units == 0 or amount == 0:
        return 0
    return line_refund_amount(net=amount, quantity=quantity, refunded_before=0, units=units)


def plan_split(before: OrderFigures, lines: Sequence[LineNow], wanted: Sequence[UnitsToMove],
               *, shipped: Mapping[str, int]) -> SplitPlan:
    """What moves and what stays (module docstring). Refuses a line the order does not have,
    more units than a line has left unshipped (``shipped`` by SKU), a line partly refunded
    and a split that would leave the original with nothing."""
    check_units(wanted)
    by_sku = {line.sku: line for line in lines}
    moving: dict[str, int] = {}
    for want in wanted:
        line = by_sku.get(want.sku)
        if line is None or line.quantity == 0:
            raise SplitExceedsRemaining(f"This order has no line {want.sku} to move.",
                                        details={"sku": want.sku})
        if line.refunded_quantity:
            raise LinePartlyRefunded(
                f"{line.refunded_quantity} units of {want.sku} were refunded already; a line "
                "partly refunded stays on its order.",
                details={"sku": want.sku, "refunded_quantity": line.refunded_quantity})
        free = line.quantity - shipped.get(want.sku, 0)
        if want.quantity > free:
            raise SplitExceedsRemaining(
                f"Only {max(free, 0)} units of {want.sku} are left unshipped to move "
                f"({shipped.get(want.sku, 0)} shipped already).",
                details={"sku": want.sku, "quantity": want.quantity, "left": max(free, 0),
                         "shipped": shipped.get(want.sku, 0)})
        moving[want.sku] = want.quantity
    if sum(line.quantity for line in lines) <= sum(moving.values()):
        raise SplitTakesEverything("A split leaves at least one unit on this order; every "
                                   "unit left was named.",
                                   details={"lines": [dict(sku=s, quantity=q)
                                                      for s, q in moving.items()]})
    planned = tuple(
        MovedLine(sku=line.sku, name=line.name, unit_price=line.unit_price,
                  quantity_before=line.quantity, moved=moving.get(line.sku, 0),
                  line_total_moved=line.unit_price * moving.get(line.sku, 0),
                  discount_moved=_share(line.discount, line.quantity, moving.get(line.sku, 0)),
                  tax_moved=_share(line.tax, line.quantity, moving.get(line.sku, 0)),
                  line_total_before=line.line_total, discount_before=line.discount,
                  tax_before=line.tax)
        for line in lines)
    subtotal = sum(line.line_total_moved for line in planned)
    discount = sum(line.discount_moved for line in planned)
    tax = sum(line.tax_moved for line in planned)
    total = subtotal - discount + (0 if before.prices_include_tax else tax)
    moved = OrderFigures(currency=before.currency, subtotal=subtotal, discount_total=discount,
                         shipping_total=0, shipping_discount=0, tax_total=tax, total=total,
                         prices_include_tax=before.prices_include_tax,
                         pricing=_divided(before.pricing, discount, before.discount_total,
                                          tax, before.tax_total, take=True))
    kept = OrderFigures(currency=before.currency, subtotal=before.subtotal - subtotal,
                        discount_total=before.discount_total - discount,
                        shipping_total=before.shipping_total,
                        shipping_discount=before.shipping_discount,
                        tax_total=before.tax_total - tax, total=before.total - total,
                        prices_include_tax=before.prices_include_tax,
                        pricing=_divided(before.pricing, discount, before.discount_total,
                                         tax, before.tax_total, take=False))
    return SplitPlan(lines=planned, before=before, kept=kept, moved=moved)


def _divided(snapshot: Mapping[str, Any] | None, discount: int, discount_total: int,
             tax: int, tax_total: int, *, take: bool) -> dict[str, Any] | None:
    """The price snapshot's share that moves (``take``) or stays: each merchandise coupon's
    amount and each tax rate's divided by largest remainder in proportion to the discount
    (the tax) that moved; free shipping stays with the shipping, on the original."""
    if snapshot is None:
        return None
    part = 1 if take else 0

    def split(amount: int, moved: int, whole: int) -> int:
        return allocate(amount, [max(whole - moved, 0), moved])[part]

    coupons = []
    for c in snapshot.get("coupons", ()):
        amount = int(c["amount"])
        if c["kind"] == CouponKind.FREE_SHIPPING.value:
            coupons.append({**c, "amount": 0 if take else amount})
        else:
            coupons.append({**c, "amount": split(amount, discount, discount_total)})
    taxes = [{**t, "amount": split(int(t["amount"]), tax, tax_total)}
             for t in snapshot.get("taxes", ())]
    return {**snapshot, "coupons": coupons, "taxes": taxes}


@dataclass(frozen=True, slots=True)
class MergedLine:
    """A line of the merged order: the survivor's units, the other's, and its new shares."""

    sku: str
    name: str
    product_id: str
    unit_price: int
    quantity_here: int
    quantity_joining: int
    line_total: int
    discount: int
    tax: int

    @property
    def quantity(self) -> int:
        return self.quantity_here + self.quantity_joining


@dataclass(frozen=True, slots=True)
class MergePlan:
    lines: tuple[MergedLine, ...]
    survivor: OrderFigures
    other: OrderFigures
    after: OrderFigures
    coupons: tuple[str, ...]

    def joining_lines(self) -> list[dict[str, Any]]:
        return [{"sku": line.sku, "quantity": line.quantity_joining} for line in self.lines
                if line.quantity_joining]


def merged_coupons(survivor: tuple[CouponTerms, ...],
                   other: tuple[CouponTerms, ...]) -> tuple[CouponTerms, ...]:
    """The survivor's merchandise coupons in their order, then the other's that it lacks;
    free shipping is the survivor's (its shipping stays as agreed), so none is re-priced."""
    seen = {c.code for c in survivor}
    return tuple(c for c in (*survivor, *(c for c in other if c.code not in seen))
                 if c.kind != CouponKind.FREE_SHIPPING)


def plan_merge(survivor: OrderFigures, here: Sequence[LineNow], other: OrderFigures,
               joining: Sequence[LineNow], *, coupons: tuple[CouponTerms, ...],
               survivor_coupons: tuple[CouponTerms, ...]) -> MergePlan:
    """The survivor with the other's lines joined, priced again (module docstring)."""
    if survivor.currency != other.currency:
        raise OrdersNotMergeable("Orders in different currencies cannot be merged.",
                                 details={"currencies": [survivor.currency, other.currency]})
    if survivor.prices_include_tax != other.prices_include_tax:
        raise OrdersNotMergeable("One order's prices include tax and the other's do not.",
                                 details={"reason": "tax_basis"})
    by_sku = {line.sku: line for line in here}
    joined = {line.sku: line for line in joining if line.quantity > 0}
    for sku, line in joined.items():
        mine = by_sku.get(sku)
        if mine is not None and mine.quantity and mine.unit_price != line.unit_price:
            raise OrdersNotMergeable(
                f"{sku} costs {mine.unit_price} on one order and {line.unit_price} on the "
                "other; cancel one of those lines first.",
                details={"reason": "price_differs", "sku": sku})
    skus = [line.sku for line in here] + [s for s in joined if s not in by_sku]
    if len([s for s in skus if _units(by_sku, joined, s)]) > MAX_LINES_PER_ORDER:
        raise OrdersNotMergeable(f"The merged order would have more than "
                                 f"{MAX_LINES_PER_ORDER} lines.",
                                 details={"reason": "too_many_lines"})
    first = {**{s: joined[s] for s in joined}, **by_sku}
    rates = tax_rates_of(survivor.pricing)
    priced = [s for s in skus if _units(by_sku, joined, s)]
    quote = price(PricingInput(
        currency=survivor.currency,
        lines=tuple(PriceLine(sku=s, product_id=first[s].product_id,
                              unit_price=(joined[s] if s in joined else by_sku[s]).unit_price,
                              quantity=_units(by_sku, joined, s)) for s in priced),
        coupons=coupons, tax_rates=rates, prices_include_tax=survivor.prices_include_tax))
    quoted = {q.sku: q for q in quote.lines}
    present = [line for line in here if line.quantity]
    quote_before = price(PricingInput(
        currency=survivor.currency,
        lines=tuple(PriceLine(sku=line.sku, product_id=line.product_id,
                              unit_price=line.unit_price, quantity=line.quantity)
                    for line in present),
        coupons=survivor_coupons, tax_rates=rates,
        prices_include_tax=survivor.prices_include_tax)) if present else None
    lines = tuple(
        MergedLine(sku=s, name=first[s].name, product_id=first[s].product_id,
                   unit_price=(joined[s] if s in joined else by_sku[s]).unit_price,
                   quantity_here=by_sku[s].quantity if s in by_sku else 0,
                   quantity_joining=joined[s].quantity if s in joined else 0,
                   line_total=((joined[s] if s in joined else by_sku[s]).unit_price
                               * _units(by_sku, joined, s)),
                   discount=quoted[s].discount if s in quoted else 0,
                   tax=quoted[s].tax if s in quoted else 0)
        for s in skus)
    shipping_tax = survivor.tax_total - sum(line.tax for line in here)
    subtotal = sum(line.line_total for line in lines)
    discount_total = sum(line.discount for line in lines)
    tax_total = sum(line.tax for line in lines) + shipping_tax
    total = (subtotal - discount_total + survivor.shipping_total
             + (0 if survivor.prices_include_tax else tax_total))
    after = OrderFigures(currency=survivor.currency, subtotal=subtotal,
                         discount_total=discount_total, shipping_total=survivor.shipping_total,
                         shipping_discount=survivor.shipping_discount, tax_total=tax_total,
                         total=total, prices_include_tax=survivor.prices_include_tax,
                         pricing=_merged_pricing(survivor.pricing, quote_before, quote,
                                                 coupons))
    return MergePlan(lines=lines, survivor=survivor, other=other, after=after,
                     coupons=tuple(c.code for c in coupons))


def _units(here: Mapping[str, LineNow], joining: Mapping[str, LineNow], sku: str) -> int:
    return ((here[sku].quantity if sku in here else 0)
            + (joining[sku].quantity if sku in joining else 0))


def _merged_pricing(snapshot: Mapping[str, Any] | None, quote_before: Quote | None,
                    quote_after: Quote, coupons: tuple[CouponTerms, ...]) -> dict[str, Any]:
    """The merged order's snapshot: the engine's coupons (the survivor's free shipping kept as
    it was), and each tax rate moved by what the merchandise's tax under it moved (so the
    survivor's shipping tax stays), as a partial cancellation does."""
    base = dict(snapshot or {})
    taken = {c.code: c.amount for c in quote_after.coupons}
    listed = [{"code": c.code, "kind": c.kind.value, "amount": taken.get(c.code, 0)}
              for c in coupons]
    kept_free = [c for c in base.get("coupons", ())
                 if c["kind"] == CouponKind.FREE_SHIPPING.value]
    before_rate = {t.name: t.amount for t in (quote_before.taxes if quote_before else ())}
    after_rate = {t.name: t.amount for t in quote_after.taxes}
    taxes = [{**t, "amount": max(0, int(t["amount"]) - before_rate.get(t["name"], 0)
                                 + after_rate.get(t["name"], 0))}
             for t in base.get("taxes", ())]
    return {**base, "coupons": [*listed, *kept_free], "taxes": taxes}
