"""The audit log's table."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from orderline.core.db.tables import Base, business_fk
from orderline.core.db.types import UTCDateTime


class AuditEntry(Base):
    """One change of a merchant setting or credential. The actor is the API key that made it
    (id, prefix and name as they were), or a staff member (``actor_staff_id``); both null for
    the operator's CLI. ``before`` and ``after``
    hold the changed fields in JSON, secrets redacted; ``before`` is null for a creation,
    ``after`` for a deletion."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_business_created", "business_id", "created_at",
                            "id"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    action: Mapped[str] = mapped_column(String(40))
    actor_key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    actor_key_prefix: Mapped[str | None] = mapped_column(String(16), nullable=True)
    actor_key_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # A staff member of the console (orderline.staff) made the change; no key then.
    actor_staff_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True),
                                                           nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True),
                                                          nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
