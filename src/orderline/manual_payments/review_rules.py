"""Rules of reviewing manual payments: the buyer's payment reference, how long an order is
held while its proof waits, the proof settings' bounds, and the queue's figures.

Pure: randomness and time come in as arguments.
"""

from __future__ import annotations

import statistics
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from orderline.core.errors import ValidationFailed

# No 0/O, 1/I/L, 5/S, 8/B, 9 or J: a reference is typed by hand into a banking app and read back
# by OCR, so characters that look alike are left out.
REFERENCE_ALPHABET = "23467ACDEFGHKMNPQRTUVWXYZ"
REFERENCE_LENGTH = 8
# A score at or above this counts as "the reader thought it genuine" when the business has
# no auto-approval threshold of its own (for the agreement figure only).
AGREEMENT_THRESHOLD_BP = 7000
FINAL_ORDER_STATUSES = ("delivered", "cancelled", "returned")


def new_reference(choose: Callable[[str], str]) -> str:
    """A short payment reference, e.g. ``K7M2XQ9D`` (``choose`` picks one character, such
    as ``secrets.choice``)."""
    return "".join(choose(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


def held_until(*, proof_deadline: datetime, now: datetime, review_hours: int,
               proof_pending: bool) -> datetime:
    """How long the order's stock stays held: to the proof deadline, and while a proof waits
    for a person, at least ``review_hours`` after it arrived (a proof sent in time is never
    lost to a slow review)."""
    if not proof_pending:
        return proof_deadline
    return max(proof_deadline, now + timedelta(hours=review_hours))


def score_to_bp(score: float) -> int:
    if not 0.0 <= score <= 1.0:
        raise ValidationFailed("A score is between 0 and 1.", details={"score": score})
    return round(score * 10_000)


def bp_to_score(bp: int | None) -> float | None:
    return None if bp is None else bp / 10_000


@dataclass(frozen=True, slots=True)
class ProofSettings:
    deadline_minutes: int
    review_hours: int
    max_bytes: int
    retention_days: int
    auto_approve_bp: int | None


def check_proof_settings(s: ProofSettings, *, upload_cap_bytes: int) -> ProofSettings:
    """Each bound is named in the refusal; the largest file cannot pass what the server reads."""
    problems = []
    if not 5 <= s.deadline_minutes <= 30 * 24 * 60:
        problems.append(("proof_deadline_minutes", "between 5 minutes and 30 days"))
    if not 1 <= s.review_hours <= 30 * 24:
        problems.append(("proof_review_hours", "between 1 hour and 30 days"))
    if not 10_000 <= s.max_bytes <= upload_cap_bytes:
        problems.append(("proof_max_bytes", f"between 10000 and {upload_cap_bytes} bytes"))
    if not 1 <= s.retention_days <= 3650:
        problems.append(("proof_retention_days", "between 1 and 3650 days"))
    if s.auto_approve_bp is not None and not 5_000 <= s.auto_approve_bp <= 10_000:
        problems.append(("auto_approve_threshold", "between 0.5 and 1, or null for never"))
    if problems:
        field, rule = problems[0]
        raise ValidationFailed(f"{field} must be {rule}.",
                               details={"field": field, "rule": rule})
    return s


@dataclass(frozen=True, slots=True)
class Decided:
    approved: bool
    uploaded_at: datetime
    decided_at: datetime
    score_bp: int | None
    auto: bool


@dataclass(frozen=True, slots=True)
class QueueFigures:
    decided: int
    approved: int
    rejected: int
    auto_approved: int
    approval_rate: float | None
    median_seconds_to_decision: float | None
    scored_decisions: int
    score_agreement_rate: float | None  # how often the score's side matched the person's
    agreement_threshold: float


def queue_figures(decided: Sequence[Decided], *, threshold_bp: int) -> QueueFigures:
    """Only decisions by a person count for agreement: an auto-approval agrees by design."""
    approved = sum(d.approved for d in decided)
    waits = [(d.decided_at - d.uploaded_at).total_seconds() for d in decided]
    judged = [d for d in decided if d.score_bp is not None and not d.auto]
    agreed = sum((d.score_bp is not None and d.score_bp >= threshold_bp) == d.approved
                 for d in judged)
    return QueueFigures(
        decided=len(decided), approved=approved, rejected=len(decided) - approved,
        auto_approved=sum(d.auto for d in decided),
        approval_rate=round(approved / len(decided), 4) if decided else None,
        median_seconds_to_decision=round(statistics.median(waits), 1) if waits else None,
        scored_decisions=len(judged),
        score_agreement_rate=round(agreed / len(judged), 4) if judged else None,
        agreement_threshold=threshold_bp / 10_000)


class Period(StrEnum):
    """How the queue's figures are cut over time (UTC calendar days, ISO weeks from Monday,
    calendar months)."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


# The window a period looks back over when the caller names none: 30 days, 12 weeks, a year.
PERIOD_DEFAULT_DAYS = {Period.DAY: 30, Period.WEEK: 84, Period.MONTH: 365}


def period_start(at: datetime, period: Period) -> datetime:
    """The start (UTC midnight) of the day, ISO week or month ``at`` falls in."""
    day = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == Period.WEEK:
        return day - timedelta(days=day.weekday())
    if period == Period.MONTH:
        return day.replace(day=1)
    return day


def next_period(start: datetime, period: Period) -> datetime:
    if period == Period.DAY:
        return start + timedelta(days=1)
    if period == Period.WEEK:
        return start + timedelta(weeks=1)
    return (start.replace(year=start.year + 1, month=1) if start.month == 12
            else start.replace(month=start.month + 1))


def figures_by_period(decided: Sequence[Decided], *, period: Period, since: datetime,
                      now: datetime, threshold_bp: int
                      ) -> list[tuple[datetime, QueueFigures]]:
    """Each period from the one holding ``since`` to the one holding ``now``, oldest first,
    with the figures of the decisions made in it (by ``decided_at``); a period without
    decisions is there with zeros, so a chart has no gaps."""
    buckets: dict[datetime, list[Decided]] = {}
    start = period_start(since, period)
    last = period_start(now, period)
    while start <= last:
        buckets[start] = []
        start = next_period(start, period)
    for d in decided:
        key = period_start(d.decided_at, period)
        if key in buckets:
            buckets[key].append(d)
    return [(start, queue_figures(rows, threshold_bp=threshold_bp))
            for start, rows in buckets.items()]


@dataclass(frozen=True, slots=True)
class Waiting:
    """When a proof came, and when it left the queue (decided, replaced by a newer proof, or
    its order cancelled); ``left_at`` is None while it still waits."""

    uploaded_at: datetime
    left_at: datetime | None


def pending_by_period(waiting: Sequence[Waiting], *, period: Period, since: datetime,
                      now: datetime) -> list[tuple[datetime, int]]:
    """How many proofs were waiting at the end of each period, from the one holding ``since``
    to the one holding ``now``, oldest first: for a past period, the proofs that came before
    its end and had not left before it (one that came exactly at midnight belongs to the next
    day); for the current one, the proofs waiting ``now``.

    ``waiting`` must hold every proof that may have waited at one of these instants (those
    that left at or after the first period's start, or never); a proof that left earlier came
    earlier too, so it would count once in each sum below and cancel out anyway.
    """
    uploads = sorted(w.uploaded_at for w in waiting)
    lefts = sorted(w.left_at for w in waiting if w.left_at is not None)
    result = []
    start = period_start(since, period)
    last = period_start(now, period)
    while start <= last:
        end = next_period(start, period)
        if end > now:
            waiting_now = bisect_right(uploads, now) - bisect_right(lefts, now)
            result.append((start, waiting_now))
        else:
            result.append((start, bisect_left(uploads, end) - bisect_left(lefts, end)))
        start = end
    return result
