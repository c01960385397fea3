from datetime import UTC, datetime, timedelta

from orderline.catalog.rules import (
    Drift,
    HeldReservation,
    ShortLine,
    available,
    shortage_message,
    whole_skus_page,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_a_reservation_past_its_deadline_never_counts() -> None:
    held = [HeldReservation(2, NOW + timedelta(seconds=1)),
            HeldReservation(3, NOW),  # deadline is now: already lapsed
            HeldReservation(4, NOW - timedelta(minutes=5))]
    assert available(10, held, NOW) == 8


def test_the_shortage_message_names_every_short_sku_with_what_is_available() -> None:
    message = shortage_message([ShortLine("A", 3, 1), ShortLine("B", 1, 0)])
    assert "A (requested 3, available 1)" in message
    assert "B (requested 1, available 0)" in message


def test_drift_is_reported_when_either_counter_disagrees_with_its_rows() -> None:
    assert not Drift("A", "main", 5, 5, 2, 2).is_drift
    assert Drift("A", "main", 5, 4, 2, 2).is_drift
    assert Drift("A", "main", 5, 5, 2, 1).is_drift


def _sku(row: tuple[str, str]) -> str:
    return row[0]


def test_a_stock_page_ends_where_a_sku_ends_and_the_next_starts_with_that_sku_whole() -> None:
    rows = [("A", "main"), ("A", "shop"), ("B", "main"), ("B", "shop")]  # limit 3, one more
    assert whole_skus_page(rows, 3, _sku) == ([("A", "main"), ("A", "shop")], "A")


def test_a_stock_page_that_ends_between_skus_keeps_every_row() -> None:
    rows = [("A", "main"), ("B", "main"), ("C", "main")]
    assert whole_skus_page(rows, 2, _sku) == ([("A", "main"), ("B", "main")], "B")


def test_the_last_stock_page_has_no_next_sku() -> None:
    assert whole_skus_page([("A", "main")], 2, _sku) == ([("A", "main")], None)
    assert whole_skus_page([], 2, _sku) == ([], None)


def test_a_sku_with_more_locations_than_a_page_is_shown_up_to_the_limit() -> None:
    rows = [("A", "l1"), ("A", "l2"), ("A", "l3")]
    assert whole_skus_page(rows, 2, _sku) == ([("A", "l1"), ("A", "l2")], "A")
