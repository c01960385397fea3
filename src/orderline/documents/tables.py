"""The documents table: each order's invoice PDF as the worker drew it when the invoice was
issued, kept as it was (an invoice never changes once issued)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from orderline.core.db.tables import Base
from orderline.core.db.types import UTCDateTime


class OrderDocument(Base):
    """One document of one order (``kind``: ``invoice``), keyed by its business first so the
    table distributes with its shop on Citus; ``number`` is what the document is known by
    (the invoice number), unique within the business and kind."""

    __tablename__ = "order_documents"
    __table_args__ = (UniqueConstraint("business_id", "kind", "number"),)
    business_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("businesses.id", ondelete="CASCADE"), primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    number: Mapped[str] = mapped_column(String(20))
    media_type: Mapped[str] = mapped_column(String(40))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
