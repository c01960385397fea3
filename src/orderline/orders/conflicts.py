"""Telling a caller with a stale version who changed the order, and what: pure words from a
history entry, no I/O (the entry is read under the order's row lock by ``orders.service``).

The console's order page shows this sentence when an action is refused with 412
``version_conflict``, and offers a reload; an integration reads ``details.latest_change``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

# What each history action did, in words after "Order OL-000042 was ...". An action not
# listed here (a new one) is still told, by its code.
_DONE = {
    "created": "placed",
    "updated": "edited",
    "payment_confirmed": "marked paid",
    "payment_received": "marked paid by hand",
    "cancelled": "cancelled",
    "status_changed": "moved to {to_status}",
    "refunded": "refunded",
    "cash_collected": "paid in cash on delivery",
    "failed_delivery": "marked undeliverable",
    "refused": "refused at the door",
    "payment_proof_submitted": "sent a payment proof",
    "payment_proof_rejected": "had its payment proof rejected",
    "invoiced": "given its invoice number",
    "lines_changed": "had its items changed",
    "change_requested": "had an item change sent to the buyer to pay",
    "change_lapsed": "had an item change lapse unpaid",
    "change_cancelled": "had an item change cancelled",
    "split": "split in two",
    "merged": "merged with another order",
}


def what_was_done(action: str, from_status: str | None, to_status: str | None,
                  changes: Mapping[str, Any]) -> str:
    """The change in a few plain words ("shipped", "edited (note, customer_email)")."""
    if action == "shipping_updated":
        if from_status != to_status and to_status == "shipped":
            return "shipped"
        return "given new tracking"
    words = _DONE.get(action, action.replace("_", " "))
    words = words.format(to_status=to_status or "another status")
    if action == "updated" and changes:
        words += " (" + ", ".join(sorted(changes)) + ")"
    return words


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def conflict_sentence(*, number: str, expected_version: int, current_version: int,
                      actor: str | None, done: str | None, at: datetime | None,
                      later_changes: int) -> str:
    """'Order OL-000042 was shipped by api_key:ol_ab12 at 2026-12-06 16:30 UTC; reload it and
    try again.' with how many other changes came since, when more than one did."""
    if actor is None or done is None or at is None:
        return (f"Order {number} changed since you read it (your version {expected_version}, "
                f"now {current_version}); reload it and try again.")
    more = ""
    if later_changes > 1:
        others = later_changes - 1
        more = f" (and {others} earlier change{'s' if others > 1 else ''} since your version)"
    return (f"Order {number} was {done} by {actor} at {_when(at)}{more}; reload it and try "
            "again.")


def latest_change_details(*, actor: str, action: str, from_status: str | None,
                          to_status: str | None, changes: Mapping[str, Any], at: datetime,
                          version: int | None) -> dict[str, Any]:
    """``details.latest_change`` of a 412: who, what (action, statuses, changed fields), when."""
    return {"actor": actor, "action": action,
            "description": what_was_done(action, from_status, to_status, changes),
            "from_status": from_status, "to_status": to_status,
            "changed_fields": sorted(changes), "at": at.astimezone(UTC).isoformat(),
            "version": version}
