"""The manual payments tables."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from orderline.core.db.tables import Base, business_fk
from orderline.core.db.types import BigIntPK, UTCDateTime


class ManualPaymentMethod(Base):
    """A way to pay by hand that a merchant offers (a bank account, a GCash number, a UPI
    id), usually started from a country template; ``channels`` empty means every channel."""

    __tablename__ = "manual_payment_methods"
    __table_args__ = (UniqueConstraint("business_id", "code"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    code: Mapped[str] = mapped_column(String(40))
    template: Mapped[str | None] = mapped_column(String(40), nullable=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))  # bank_transfer | e_wallet | upi
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    currency: Mapped[str] = mapped_column(String(3))
    account_name: Mapped[str] = mapped_column(String(200))
    account_number: Mapped[str] = mapped_column(String(100))
    bank_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # ifsc, branch, ...
    instructions: Mapped[str] = mapped_column(Text)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ManualPayment(Base):
    """An order paid by a manual method: the short reference the buyer writes on the
    transfer, the exact amount, the method's account as it was shown (``method``), and the
    proof deadline. ``status``: awaiting_proof -> in_review -> approved, or rejected (and
    in_review again on a new proof)."""

    __tablename__ = "manual_payments"
    __table_args__ = (UniqueConstraint("business_id", "reference"),
                      Index("ix_manual_payments_deadline", "status", "proof_deadline"))
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id", ondelete="CASCADE"),
                                                unique=True)
    method_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("manual_payment_methods.id"))
    method_code: Mapped[str] = mapped_column(String(40))
    method: Mapped[dict[str, Any]] = mapped_column(JSON)
    reference: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    proof_deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20))
    proofs_submitted: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PaymentProof(Base):
    """One uploaded proof (version 1, 2, ... of its order). The file lives in proof storage,
    sealed, under ``storage_key`` (None once retention or erasure deleted it; the hash stays).
    ``status`` leaves ``pending`` by one conditional UPDATE, so one decision wins.
    ``ocr_status``: pending -> running (leased by a worker) -> scored, or unscored when OCR is
    missing or failed (the proof still waits in the queue)."""

    __tablename__ = "payment_proofs"
    __table_args__ = (UniqueConstraint("order_id", "version"),
                      Index("ix_payment_proofs_queue", "business_id", "status", "uploaded_at"),
                      Index("ix_payment_proofs_ocr", "ocr_status", "ocr_due_at"),
                      Index("ix_payment_proofs_request", "payment_request_id"),
                      CheckConstraint("score_bp IS NULL OR (score_bp >= 0 AND score_bp <= 10000)",
                                      name="score_in_range"))
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id", ondelete="CASCADE"))
    manual_payment_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("manual_payments.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    # A proof for a change's payment request (order_changes), not for the order's own
    # payment: its amount and reference are the request's. A plain id: the request is
    # another capability's row (read through its use cases).
    payment_request_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    status: Mapped[str] = mapped_column(String(20))  # pending|approved|rejected|superseded
    storage_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    media_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ocr_status: Mapped[str] = mapped_column(String(20))
    ocr_attempts: Mapped[int] = mapped_column(Integer, default=0)
    ocr_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ocr_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    ocr_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    score_bp: Mapped[int | None] = mapped_column(Integer, nullable=True)
    checks: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    read: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    scored_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    decided_key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    auto_decided: Mapped[bool] = mapped_column(Boolean, default=False)
    file_deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    file_deleted_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)


class ProofFingerprint(Base):
    """Which order first sent a file with this content (SHA-256 of the cleaned bytes), per
    business. Taken by one INSERT ... ON CONFLICT DO NOTHING, so of two orders sending the
    same receipt at the same instant exactly one keeps it. Outlives the file itself."""

    __tablename__ = "proof_fingerprints"
    business_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("businesses.id", ondelete="CASCADE"), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    proof_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class VerificationAudit(Base):
    """Every action on a payment proof: who (actor and API key), when, the proof before and
    after. Never updated or deleted by the product (retention deletes files, not this)."""

    __tablename__ = "verification_audit"
    __table_args__ = (Index("ix_verification_audit_proof", "proof_id", "id"),
                      Index("ix_verification_audit_business", "business_id", "id"))
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    proof_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    action: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(100))
    key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
