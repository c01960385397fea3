"""Stream positions as the SSE ``id:`` gives them out, and as ``Last-Event-ID`` brings them back."""

from __future__ import annotations

import pytest

from orderline.core.errors import InvalidLastEventId, ValidationFailed
from orderline.events.event_types import MERCHANT_STREAM_EVENTS
from orderline.events.live import chosen_types, decode_position, decode_sequence, encode_position


@pytest.mark.parametrize("position", [(0, 1), (812, 4051), (2**63 - 1, 2**63 - 1)])
def test_a_business_stream_position_survives_the_round_trip(position: tuple[int, int]) -> None:
    assert decode_position(encode_position(position)) == position


def test_a_position_reads_transaction_then_row() -> None:
    assert encode_position((812, 4051)) == "812-4051"
    assert decode_position(" 812-4051 ") == (812, 4051)


@pytest.mark.parametrize("raw", ["", "abc", "12", "12-", "-12", "1-2-3", "-1-2", "1.5-2",
                                 "0x1-2", f"{2**63}-1", "1-" + "9" * 20, "\u0661-\u0662"])
def test_a_malformed_business_position_is_refused_with_its_own_code(raw: str) -> None:
    with pytest.raises(InvalidLastEventId) as refused:
        decode_position(raw)
    assert refused.value.code == "invalid_last_event_id"
    assert isinstance(refused.value, ValidationFailed)  # a 422, like other bad input
    assert refused.value.details == {"last_event_id": raw}


@pytest.mark.parametrize(("raw", "sequence"), [("0", 0), ("3", 3), (" 42 ", 42)])
def test_an_order_stream_position_is_the_event_sequence(raw: str, sequence: int) -> None:
    assert decode_sequence(raw) == sequence


@pytest.mark.parametrize("raw", ["", "-1", "x", "1-2", "3.0", "\u0663", str(2**63)])
def test_a_malformed_order_position_is_refused(raw: str) -> None:
    with pytest.raises(InvalidLastEventId):
        decode_sequence(raw)


def test_a_business_stream_carries_orders_and_low_stock_by_default() -> None:
    assert set(chosen_types([])) == {t.value for t in MERCHANT_STREAM_EVENTS}
    assert {"order.created", "order.paid", "stock.low"} <= set(chosen_types([]))


def test_a_merchant_may_pick_the_types_and_wildcards() -> None:
    assert chosen_types(["order.paid", "stock.low"]) == ("order.paid", "stock.low")
    assert set(chosen_types(["order.*"])) == {t for t in chosen_types([])
                                              if t.startswith("order.")}


def test_an_unknown_type_is_refused() -> None:
    with pytest.raises(ValidationFailed) as refused:
        chosen_types(["order.paid", "order.teleported"])
    assert refused.value.details == {"event_type": "order.teleported"}
