"""The words a stale version is answered with: who changed the order, what, and when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from orderline.orders.conflicts import conflict_sentence, latest_change_details, what_was_done

AT = datetime(2026, 12, 6, 16, 30, 12, tzinfo=UTC)


def test_tracking_given_to_an_unshipped_order_reads_as_shipped() -> None:
    assert what_was_done("shipping_updated", "paid", "shipped", {}) == "shipped"
    assert what_was_done("shipping_updated", "shipped", "shipped", {}) == "given new tracking"


def test_an_edit_names_the_fields_it_changed_and_an_unknown_action_is_told_by_its_code() -> None:
    assert what_was_done("updated", "paid", "paid", {"note": {}, "customer_email": {}}) == \
        "edited (customer_email, note)"
    assert what_was_done("status_changed", "paid", "processing", {}) == "moved to processing"
    assert what_was_done("gift_wrapped", "paid", "paid", {}) == "gift wrapped"


def test_the_sentence_names_the_order_the_actor_and_the_time_in_utc() -> None:
    manila = AT.astimezone(timezone(timedelta(hours=8)))
    sentence = conflict_sentence(number="OL-001042", expected_version=3, current_version=4,
                                 actor="api_key:ol_ab12", done="shipped", at=manila,
                                 later_changes=1)
    assert sentence == ("Order OL-001042 was shipped by api_key:ol_ab12 at 2026-12-06 16:30 UTC; "
                        "reload it and try again.")


def test_the_sentence_counts_the_other_changes_since_the_callers_version() -> None:
    sentence = conflict_sentence(number="OL-000001", expected_version=1, current_version=4,
                                 actor="staff:7", done="cancelled", at=AT, later_changes=3)
    assert "(and 2 earlier changes since your version)" in sentence


def test_without_a_history_entry_the_sentence_still_gives_both_versions() -> None:
    sentence = conflict_sentence(number="OL-000001", expected_version=1, current_version=2,
                                 actor=None, done=None, at=None, later_changes=0)
    assert "your version 1, now 2" in sentence and "reload it" in sentence


def test_the_details_list_the_changed_fields_sorted_and_the_time_in_utc() -> None:
    details = latest_change_details(actor="api_key:ol_ab12", action="cancelled",
                                    from_status="paid", to_status="cancelled",
                                    changes={"reason": "buyer", "note": "x"}, at=AT, version=5)
    assert details == {"actor": "api_key:ol_ab12", "action": "cancelled",
                       "description": "cancelled", "from_status": "paid",
                       "to_status": "cancelled", "changed_fields": ["note", "reason"],
                       "at": "2026-12-06T16:30:12+00:00", "version": 5}
