from datetime import UTC, datetime, timedelta

from orderline.catalog.rules import Drift, HeldReservation, ShortLine, available, shortage_message

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
