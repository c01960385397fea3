"""The overview's answer: one named model for the console's dashboard."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field


class SalesFiguresOut(BaseModel):
    orders: int = Field(description="orders created (any status)")
    paid_orders: int = Field(description="of them, those whose money came in (paid, or cash "
                                         "collected)")
    revenue: dict[str, int] = Field(description="money received, by currency, in minor units")
    average_order_value: dict[str, int] = Field(
        description="revenue per paid order, by currency, in minor units (rounded half up)")
    checkouts_started: int = Field(description="carts that started a checkout")
    checkouts_converted: int = Field(description="of them, those that became an order")
    conversion_rate: float | None = Field(
        description="checkouts converted per checkout started; null without checkouts")


class SalesOut(BaseModel):
    total: SalesFiguresOut
    by_channel: dict[str, SalesFiguresOut]


class DayOut(BaseModel):
    date: date
    orders: int
    paid_orders: int
    revenue: dict[str, int] = Field(description="by currency, in minor units")


class WaitingOrderOut(BaseModel):
    id: uuid.UUID
    number: str
    status: str
    customer_name: str
    total: int
    currency: str
    since: datetime = Field(description="when it started waiting: placed (unpaid), paid "
                                        "(to ship), shipped (cash to collect), proof sent")
    due_at: datetime | None = Field(description="the payment deadline of an unpaid order")


class WaitingListOut(BaseModel):
    count: int
    first: list[WaitingOrderOut] = Field(description="the first few, most urgent first")


class WaitingOut(BaseModel):
    payment_due: WaitingListOut = Field(
        description="unpaid, the payment deadline within the next due_within_hours")
    to_ship: WaitingListOut = Field(
        description="paid (or cash on delivery, confirmed) and not shipped")
    cash_to_collect: WaitingListOut = Field(
        description="cash on delivery, shipped, the cash not recorded")
    proofs_to_verify: WaitingListOut = Field(
        description="payment proofs waiting for a person (deciding needs the verify scope)")


class LowStockLevelOut(BaseModel):
    sku: str
    name: str
    location: str
    available: int
    threshold: int


class LowStockOut(BaseModel):
    count: int = Field(description="SKUs at a location with free units at or below the "
                                   "SKU's low-stock threshold")
    first: list[LowStockLevelOut] = Field(description="the first few, fewest free units first")


class WebhooksHealthOut(BaseModel):
    endpoints: int
    endpoints_failing: int = Field(description="enabled, their last attempts failing")
    endpoints_disabled: int
    deliveries_retrying: int
    deliveries_dead: int


class OutboxHealthOut(BaseModel):
    pending: int = Field(description="events of the business waiting for the relay")
    oldest_pending_seconds: float | None = Field(
        description="how long the oldest pending event has waited; null when none waits")
    dead: int = Field(description="events the relay gave up on")


class HealthOut(BaseModel):
    webhooks: WebhooksHealthOut
    outbox: OutboxHealthOut


class OverviewOut(BaseModel):
    """Everything the dashboard shows, as of ``as_of``. Days are UTC calendar days."""

    period: str
    first_day: date = Field(description="the period's first UTC day")
    today: date = Field(description="the UTC day of as_of, the period's last")
    as_of: datetime
    currency: str = Field(description="the business's currency")
    sales_today: SalesOut
    sales_in_period: SalesOut
    series: list[DayOut] = Field(description="each UTC day of the period, oldest first; days "
                                             "without orders as zeros")
    due_within_hours: int
    waiting: WaitingOut
    low_stock: LowStockOut
    health: HealthOut
