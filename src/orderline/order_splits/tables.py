"""The links between orders that a split or a merge leaves (``docs/guides/order-splits.md``).

One row per order and link, so each order finds its own links with one index: a split writes
``split_into`` on the original and ``split_from`` on the new order; a merge writes
``merged_from`` on the order that stays and ``merged_into`` on the one cancelled into it.
``amount`` is the money of a paid original's payment that now belongs to the new order.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from orderline.core.db.tables import Base, business_fk
from orderline.core.db.types import UTCDateTime


class OrderLink(Base):
    __tablename__ = "order_links"
    __table_args__ = (
        UniqueConstraint("order_id", "kind", "change_id"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        Index("ix_order_links_order", "order_id", "created_at"),
    )
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    other_order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    # The split or the merge that made the link (both of its rows share it).
    change_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    amount: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # The units that moved: [{"sku": ..., "quantity": ...}].
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
