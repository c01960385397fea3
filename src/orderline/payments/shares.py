"""An order's own share of the money its payments hold, when an order was split
(``docs/guides/order-splits.md``, "Refunds of a split order").

A paid order split in two keeps its money on the original's payment intents; the link pair
the split wrote (``orders.tables.OrderLink``, kinds ``split_into`` / ``split_from``) says how
much of it still belongs to the new order (``amount``). So every refund, whichever way it is
asked (an amount, lines, a partial or full cancellation, a return, an order change), draws on
an order's *purse*:

- the original's purse is its intents, and its own share is what they hold (received minus
  refunded) minus what the orders split from it still own;
- an order split off has no intent: its purse is the original's intents (found by following
  its ``split_from`` links up to the order that holds them), and its own share is its link's
  amount minus what orders split from *it* own in turn.

A refund of an order split off is taken on the original's intent (one conditional UPDATE,
``payments.store.take_refund``) and, in the same transaction, off every link of the chain
(one conditional UPDATE per link pair), so the original's own share does not move; its ledger
row names the order refunded, so each order's ledger shows its own refunds. Both orders are
locked first (the order split off, then the original, as every step that touches both), so
a check of the share and its taking see the same figures.

Which payment a refund is taken on, and whether it goes back through the provider or by
hand, is decided here too (``refund_source``), for every way a refund is asked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.db.tables import table_of
from orderline.core.errors import RefundExceedsCaptured, RefundExceedsShare
from orderline.orders import store as order_store
from orderline.orders.store import OrderRow
from orderline.orders.tables import OrderLink
from orderline.payments import store as payment_store
from orderline.payments.rules import OFFLINE_PROVIDERS, RefundMethod
from orderline.payments.store import IntentRow

links = table_of(OrderLink)
SPLIT_KINDS = ("split_into", "split_from")


@dataclass(frozen=True, slots=True)
class Purse:
    """Where an order's money is, and how much of it is the order's own to give back."""

    order_id: uuid.UUID
    # The intents that hold the money: the order's own, then (an order split off) its
    # original's.
    intents: list[IntentRow]
    # Money this order may give back.
    own: int
    # Money of the purse's intents owned by orders split from this one.
    moved_out: int
    # The split link pairs from this order up to the order holding the intents (nearest
    # first); empty for an order that holds its own payment.
    chain: tuple[uuid.UUID, ...] = ()

    @property
    def borrowed(self) -> bool:
        """The money is on another order's intents (this order was split from it)."""
        return bool(self.chain)

    def chain_for(self, intent: IntentRow) -> tuple[uuid.UUID, ...]:
        """The links a refund on ``intent`` also comes off: the chain for the original's
        intent, none for the order's own (a payment request it paid itself)."""
        return () if intent.order_id == self.order_id else self.chain


def held(intent: IntentRow) -> int:
    """The buyer's money one intent holds and has not given back."""
    return max(0, intent.amount_captured + intent.amount_collected - intent.amount_refunded)


def held_by(intents: list[IntentRow]) -> int:
    """The buyer's money the intents hold and have not given back."""
    return sum(held(i) for i in intents)


def through_ledger(purse: Purse) -> bool:
    """The order's money came through its payments (some intent received it); if not, it
    was paid outside the ledger (an order confirmed as paid by hand)."""
    return any(i.amount_captured + i.amount_collected > 0 for i in purse.intents)


@dataclass(frozen=True, slots=True)
class RefundSource:
    """Where a refund comes from: the intent it is taken on (None: given back by hand outside
    the ledger, or nothing to give) and how it reaches the buyer."""

    method: RefundMethod
    intent: IntentRow | None = None
    # The split links it also comes off (``Purse.chain_for``).
    chain: tuple[uuid.UUID, ...] = ()


def refund_source(purse: Purse, amount: int, *,
                  spread_by_hand: bool = False) -> RefundSource:
    """How ``amount`` goes back to the buyer: nothing for no amount; else from the first of
    the purse's payments that holds that much, through its provider (a card) or by hand
    (cash, a transfer, an exchange's credit); by hand outside the ledger when no payment
    holds anything (the order was confirmed as paid by hand).

    When the payments hold money but none of them that much, the refund is refused
    (``RefundExceedsCaptured``), unless ``spread_by_hand``: then it is given back by hand,
    outside the ledger, which is what cancellations and order changes do."""
    if amount <= 0:
        return RefundSource(RefundMethod.NONE)
    for intent in purse.intents:
        if held(intent) >= amount:
            return RefundSource(RefundMethod.BY_HAND if intent.provider in OFFLINE_PROVIDERS
                                else RefundMethod.CARD, intent, purse.chain_for(intent))
    if not spread_by_hand and any(held(i) for i in purse.intents):
        raise RefundExceedsCaptured(
            f"A refund of {amount} is more than any payment of this order has left to "
            "refund.", details={"amount": amount})
    return RefundSource(RefundMethod.BY_HAND)


async def _split_from(conn: AsyncConnection,
                      order_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID, int] | None:
    row = (await conn.execute(
        select(links.c.change_id, links.c.other_order_id, links.c.amount)
        .where(links.c.order_id == order_id, links.c.kind == "split_from",
               links.c.amount > 0).order_by(links.c.created_at).limit(1))).first()
    return None if row is None else (row.change_id, row.other_order_id, int(row.amount))


async def moved_out_of(conn: AsyncConnection, order_id: uuid.UUID) -> int:
    """Money of this order's purse that belongs to orders split from it (their links)."""
    stmt = select(func.coalesce(func.sum(links.c.amount), 0)).where(
        links.c.order_id == order_id, links.c.kind == "split_into")
    return int((await conn.execute(stmt)).scalar_one())


async def purse_of(conn: AsyncConnection, order: OrderRow, *, lock: bool = False) -> Purse:
    """The order's purse (module docstring). ``lock``: the orders up the chain are locked too
    (the caller holds this order's lock), before any refund is taken."""
    chain: list[uuid.UUID] = []
    share: int | None = None
    payer = order.id
    while (up := await _split_from(conn, payer)) is not None:
        change_id, payer, amount = up
        chain.append(change_id)
        if share is None:
            share = amount
        if lock:
            await order_store.load_order(conn, order.business_id, payer, lock=True)
    intents = await payment_store.intents_of_order(conn, order.business_id, order.id)
    start = held_by(intents)
    if share is not None:
        # Its own payments first (an order change it paid), then its share of the original's.
        start += share
        intents += await payment_store.intents_of_order(conn, order.business_id, payer)
    moved_out = await moved_out_of(conn, order.id)
    return Purse(order_id=order.id, intents=intents, own=max(0, start - moved_out),
                 moved_out=moved_out, chain=tuple(chain))


def check_share(purse: Purse, amount: int, currency: str) -> None:
    """Refuse a refund of more than the order's own share, when the purse is shared."""
    if amount <= purse.own or not (purse.borrowed or purse.moved_out):
        return
    whose = ("this order was split from another and its money is on that order's payment"
             if purse.borrowed else
             f"{purse.moved_out} {currency} of this order's payment belongs to orders split "
             "from it (refund those there)")
    raise RefundExceedsShare(
        f"A refund of {amount} {currency} is more than this order's own share of the payment "
        f"({purse.own} {currency}): {whose}.",
        details={"amount": amount, "share": purse.own, "moved_out": purse.moved_out})


async def take_from_chain(conn: AsyncConnection, chain: tuple[uuid.UUID, ...],
                          amount: int) -> bool:
    """The refund comes off every link of the chain (each pair, only if it still owns that
    much: one conditional UPDATE per pair). False if one did not."""
    for change_id in chain:
        done = await conn.execute(
            update(links).where(links.c.change_id == change_id,
                                links.c.kind.in_(SPLIT_KINDS), links.c.amount >= amount)
            .values(amount=links.c.amount - amount))
        if done.rowcount != 2:
            return False
    return True


async def give_back_to_chain(conn: AsyncConnection, chain: tuple[uuid.UUID, ...],
                             amount: int) -> None:
    """The provider refused a refund taken by ``take_refund``: the shares are whole again."""
    for change_id in chain:
        await conn.execute(update(links).where(links.c.change_id == change_id,
                                               links.c.kind.in_(SPLIT_KINDS))
                           .values(amount=links.c.amount + amount))


async def take_refund(conn: AsyncConnection, intent_id: uuid.UUID, amount: int, now: datetime,
                      *, chain: tuple[uuid.UUID, ...] = ()) -> IntentRow | None:
    """Take ``amount`` on the intent and, for an order split off, off its ``chain`` of shares
    (``Purse.chain``); None if the intent has not that much left."""
    taken = await payment_store.take_refund(conn, intent_id, amount, now)
    if taken is None:
        return None
    if chain and not await take_from_chain(conn, chain, amount):
        # Only if the orders' locks were not honoured: refused, the transaction rolls back.
        raise RefundExceedsShare(
            f"A refund of {amount} is more than this order's share of the payment has left.",
            details={"amount": amount})
    return taken
