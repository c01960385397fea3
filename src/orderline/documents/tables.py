"""The documents table: each order's invoice as issued. The relay's handler writes the row
(its number and what it will print, ``snapshot``) when the invoice number is given; the
worker's drawing job fills ``content`` with the PDF, off the relay's path. An invoice never
changes once issued; only erasing the buyer's personal data draws it again without them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from orderline.core.db.tables import Base
from orderline.core.db.types import UTCDateTime


class OrderDocument(Base):
    """One document of one order (``kind``: ``invoice``), keyed by its business first so the
    table distributes with its shop on Citus; ``number`` is what the document is known by
    (the invoice number), unique within the business and kind.

    ``snapshot``: what the document prints (the order as the ``invoiced`` change showed it,
    and the business's name and address then). ``content``: the PDF, null until the worker
    has drawn it; ``draw_after``: when a worker may (next) take it, moved on by the worker
    that claims it, so several workers never draw the same document at once."""

    __tablename__ = "order_documents"
    __table_args__ = (
        UniqueConstraint("business_id", "kind", "number"),
        Index("ix_order_documents_to_draw", "drawn_at", "draw_after"),
    )
    business_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("businesses.id", ondelete="CASCADE"), primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    number: Mapped[str] = mapped_column(String(20))
    media_type: Mapped[str] = mapped_column(String(40))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    content: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    draw_after: Mapped[datetime] = mapped_column(UTCDateTime)
    drawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
