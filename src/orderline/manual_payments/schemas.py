"""Request bodies and answers of manual payment methods, proof settings, payment proofs and
the verification queue.

A proof is shown in two ways: the buyer sees its fate (``ProofOut`` without the merchant's
fields, which those routes leave out rather than send as null); the merchant sees everything.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictBool, StrictInt

from orderline.core.schemas import Body, PatchBody

ShortText = Annotated[str, Field(min_length=1, max_length=200)]


class MethodCreate(Body):
    """From a template (``GET /v1/payment-method-templates``): only the account is needed;
    the template's name, kind, currency and instructions may be overridden."""

    template: Annotated[str | None, Field(max_length=40)] = None
    code: Annotated[str | None, Field(max_length=40)] = None
    name: Annotated[str | None, Field(max_length=100)] = None
    kind: Literal["bank_transfer", "e_wallet", "upi"] | None = None
    currency: Annotated[str | None, Field(min_length=3, max_length=3)] = None
    account_name: ShortText
    account_number: Annotated[str, Field(min_length=1, max_length=100)]
    bank_name: Annotated[str | None, Field(max_length=200)] = None
    details: dict[str, Annotated[str, Field(max_length=200)]] = Field(default_factory=dict,
                                                                       max_length=10)
    instructions: Annotated[str | None, Field(max_length=2000)] = Field(
        default=None, description="shown to the buyer; {amount} {reference} {account_name} "
                                  "{account_number} {bank_name} are filled in")
    channels: list[Annotated[str, Field(max_length=40)]] = Field(
        default_factory=list, max_length=50, description="empty: every channel")
    enabled: StrictBool = True
    position: Annotated[StrictInt, Field(ge=0, le=1000)] = 0


class MethodUpdate(PatchBody):
    clearable = frozenset({"bank_name", "details", "channels"})

    name: Annotated[str | None, Field(max_length=100)] = None
    account_name: Annotated[str | None, Field(max_length=200)] = None
    account_number: Annotated[str | None, Field(max_length=100)] = None
    bank_name: Annotated[str | None, Field(max_length=200)] = None
    details: dict[str, Annotated[str, Field(max_length=200)]] | None = None
    instructions: Annotated[str | None, Field(max_length=2000)] = None
    channels: list[Annotated[str, Field(max_length=40)]] | None = None
    enabled: StrictBool | None = None
    position: Annotated[StrictInt | None, Field(ge=0, le=1000)] = None


class ProofSettingsIn(PatchBody):
    clearable = frozenset({"auto_approve_threshold"})

    """Only the fields sent change; ``auto_approve_threshold: null`` turns it off."""

    proof_deadline_minutes: StrictInt | None = None
    proof_review_hours: StrictInt | None = None
    proof_max_bytes: StrictInt | None = None
    proof_retention_days: StrictInt | None = None
    auto_approve_threshold: Annotated[float | None, Field(ge=0, le=1)] = None


class ApproveIn(Body):
    note: Annotated[str | None, Field(max_length=500)] = None


class TransferReceivedIn(Body):
    note: Annotated[str, Field(min_length=1, max_length=500, description=(
        "where the money was seen (\"in the bank app, 6 Dec\"): kept in the order's "
        "history, never shown to the buyer"))]
    bank_reference: Annotated[str | None, Field(max_length=200, description=(
        "the bank's reference of the transfer; the order's payment reference if omitted"))] = None


class RejectIn(Body):
    reason: Annotated[str, Field(min_length=1, max_length=500,
                                 description="the buyer reads this")]


class BulkDecision(Body):
    id: uuid.UUID
    action: Literal["approve", "reject"]
    reason: Annotated[str | None, Field(max_length=500)] = None


class BulkIn(Body):
    decisions: Annotated[list[BulkDecision], Field(min_length=1, max_length=100)]


# --- answers: methods and settings -----------------------------------------------------------

class MethodTemplateOut(BaseModel):
    code: str
    name: str
    kind: str
    country: str
    currency: str
    fields: list[str]
    instructions: str


class MethodTemplateList(BaseModel):
    data: list[MethodTemplateOut]


class MethodOut(BaseModel):
    id: uuid.UUID
    code: str
    template: str | None
    name: str
    kind: str
    country: str | None
    currency: str
    account_name: str
    account_number: str
    bank_name: str | None
    details: dict[str, str]
    instructions: str
    channels: list[str] = Field(description="empty: every channel")
    enabled: bool
    position: int
    created_at: datetime
    updated_at: datetime


class MethodList(BaseModel):
    data: list[MethodOut]


class ProofSettingsOut(BaseModel):
    proof_deadline_minutes: int
    proof_review_hours: int
    proof_max_bytes: int
    proof_retention_days: int
    auto_approve_threshold: float | None = Field(description="score from 0 to 1; null: off")


# --- answers: proofs -------------------------------------------------------------------------

class ProofCheck(BaseModel):
    name: str
    passed: bool
    detail: str


class ReceiptReading(BaseModel):
    """What OCR read on the receipt."""

    amounts: list[int] = Field(description="minor units")
    dates: list[str] = Field(description="ISO dates")
    recipient: str | None


class ProofOrder(BaseModel):
    id: uuid.UUID
    number: str
    status: str
    total: int
    currency: str
    customer_name: str


class BuyerProofOut(BaseModel):
    """A payment proof as its buyer sees it: how it fared."""

    id: uuid.UUID
    version: int
    status: str
    media_type: str
    size_bytes: int
    uploaded_at: datetime
    decided_at: datetime | None
    reason: str | None = Field(description="why it was rejected (the buyer sees it only then)")
    file_url: str | None
    file_deleted_at: datetime | None
    payment_request_id: uuid.UUID | None = Field(
        default=None, description="set when the proof pays a change's payment request "
        "(POST /v1/orders/{id}/changes/{cid}/proofs), not the order's own payment")


class ProofOut(BuyerProofOut):
    """A payment proof; the fields below are the merchant's only: the buyer's answers leave
    them out."""

    order_id: uuid.UUID | None = None
    sha256: str | None = None
    width: int | None = None
    height: int | None = None
    uploaded_by: str | None = None
    ocr_status: str | None = None
    ocr_error: str | None = None
    score: float | None = None
    checks: list[ProofCheck] | None = None
    read: ReceiptReading | None = None
    scored_at: datetime | None = None
    decided_by: str | None = None
    auto_decided: bool | None = None
    file_deleted_reason: str | None = None
    order: ProofOrder | None = Field(default=None, description="just after an upload")
    method: str | None = Field(default=None, description="just after an upload")
    reference: str | None = Field(default=None, description="just after an upload")
    expected_amount: int | None = Field(default=None, description="just after an upload")
    proof_deadline: datetime | None = Field(default=None, description="just after an upload")


class ManualMethodShown(BaseModel):
    """The method's account as the order was given it."""

    code: str
    name: str
    kind: str
    account_name: str
    account_number: str
    bank_name: str | None
    details: dict[str, str]


class PaymentInstructions(BaseModel):
    """Where to pay, exactly how much, with which reference, until when, and how each proof
    sent so far fared."""

    method: ManualMethodShown
    amount: int
    currency: str
    reference: str
    instructions: str
    proof_deadline: datetime
    status: str
    proofs: list[BuyerProofOut]


class ChangePaymentInstructions(BaseModel):
    """How to pay a change's payment request by transfer: the order's method and account,
    the request's exact amount, its own reference and deadline, and each proof sent for it."""

    change_id: uuid.UUID
    change_number: int
    payment_request_id: uuid.UUID
    method: ManualMethodShown
    amount: int = Field(description="the request's amount (minor units), not the order total")
    currency: str
    reference: str = Field(description="the order's reference with -C<change number>")
    instructions: str
    proof_deadline: datetime = Field(description="the request's deadline")
    status: str = Field(description="the request's status: open, paid, lapsed, cancelled")
    proofs: list[ProofOut]


class ProofList(BaseModel):
    data: list[ProofOut]


class ProofForChange(BaseModel):
    """The change whose payment request a proof pays: its amount is what the proof should
    show (``expected_amount`` too), not the order's total."""

    id: uuid.UUID
    number: int
    payment_request_id: uuid.UUID
    amount: int
    currency: str
    deadline: datetime
    status: str = Field(description="the request's status: open, paid, lapsed, cancelled")


class VerificationOut(BaseModel):
    """A proof as the verification queue shows it, with its order (and, for a proof paying
    a change's payment request, the change)."""

    id: uuid.UUID
    version: int
    status: str
    media_type: str
    size_bytes: int
    uploaded_at: datetime
    decided_at: datetime | None
    reason: str | None
    file_url: str | None
    file_deleted_at: datetime | None
    order_id: uuid.UUID
    sha256: str
    width: int | None
    height: int | None
    uploaded_by: str
    ocr_status: str
    ocr_error: str | None
    score: float | None = Field(description="0 to 1; null until scored")
    checks: list[ProofCheck]
    read: ReceiptReading | None
    scored_at: datetime | None
    decided_by: str | None
    auto_decided: bool
    file_deleted_reason: str | None
    order: ProofOrder
    method: str
    reference: str
    expected_amount: int
    proof_deadline: datetime
    age_seconds: int
    payment_request_id: uuid.UUID | None = None
    change: ProofForChange | None = Field(
        default=None, description="the change this proof pays for; null for the order's own "
        "payment")


class VerificationPage(BaseModel):
    data: list[VerificationOut]
    next_cursor: str | None


class ProofAuditEntry(BaseModel):
    id: int
    business_id: uuid.UUID
    proof_id: uuid.UUID
    order_id: uuid.UUID
    action: str
    actor: str
    key_id: uuid.UUID | None
    before: dict[str, Any] | None = Field(description="the proof's state before the action")
    after: dict[str, Any] | None = Field(description="the proof's state after the action")
    created_at: datetime


class VerificationDetail(VerificationOut):
    ocr_text: str | None
    audit: list[ProofAuditEntry]


class DecisionFigures(BaseModel):
    """What was decided over a span of time, and how."""

    decided: int
    approved: int
    rejected: int
    auto_approved: int
    approval_rate: float | None
    median_seconds_to_decision: float | None
    score_agreement_rate: float | None
    scored_decisions: int


class PeriodFigures(DecisionFigures):
    """The decisions made in one day, week or month (by when they were decided)."""

    start: datetime = Field(description="the period's first instant (UTC midnight; weeks "
                                        "start on Monday)")
    pending_at_end: int = Field(description="proofs waiting for a person at the period's end "
                                            "(for the current period: now)")


class QueueStats(DecisionFigures):
    days: int
    pending: int
    pending_unscored: int
    oldest_pending_seconds: int | None
    agreement_threshold: float
    period: str | None = Field(description="day, week or month when asked for")
    periods: list[PeriodFigures] | None = Field(
        description="with ?period=: the figures of each period of the window, oldest first "
                    "(empty periods included)")


class BulkError(BaseModel):
    code: str
    message: str
    details: dict[str, Any]


class BulkResult(BaseModel):
    """One decision's result: ``verification`` when ``ok``, else ``error``."""

    id: uuid.UUID
    ok: bool
    verification: VerificationOut | None = None
    error: BulkError | None = None


class BulkResults(BaseModel):
    results: list[BulkResult]
