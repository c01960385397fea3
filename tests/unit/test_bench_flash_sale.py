"""The flash-sale bench's answer parsing and invariants (``bench.flash_buyers``,
``bench.flash_report``): a sale that broke one must make the command fail."""

from __future__ import annotations

from orderline.bench.flash_buyers import Answer, parse_answer, request_bytes
from orderline.bench.flash_report import FlashReport, StockAfter


def answer(status: int, code: str | None = None, done: float = 1.0) -> Answer:
    return Answer(status, code, 0.5, done)


def sale(answers: list[Answer], *, units: int = 2, stock: StockAfter | None = None,
         ) -> FlashReport:
    report = FlashReport(database="x", settings={"buyers": len(answers), "units": units,
                                                 "workers": 1})
    report.answers = tuple(answers)
    created = sum(1 for a in answers if a.status == 201)
    report.stock = stock or StockAfter(on_hand=units, reserved=created,
                                       active_reservations=created, orders=created,
                                       units_ordered=created)
    report.drifting_levels = 0
    return report


def test_a_refusal_answer_gives_its_status_and_error_code() -> None:
    raw = (b"HTTP/1.1 409 Conflict\r\ncontent-type: application/json\r\n\r\n"
           b'{"error": {"code": "out_of_stock", "message": "m", "details": {}}}')
    assert parse_answer(raw) == (409, "out_of_stock")
    chunked = (b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n"
               b'1b\r\n{"error": {"code": "busy"}}\r\n0\r\n\r\n')
    assert parse_answer(chunked) == (503, "busy")
    assert parse_answer(b"HTTP/1.1 201 Created\r\n\r\n{}") == (201, None)


def test_the_request_is_one_post_that_closes_its_connection() -> None:
    raw = request_bytes(host="127.0.0.1", port=80, api_key="k", body={"a": 1})
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"POST /v1/orders HTTP/1.1\r\n")
    assert b"Connection: close" in head and b"Content-Length: 8" in head
    assert body == b'{"a": 1}'


def test_a_sale_of_every_unit_with_the_rest_out_of_stock_keeps_its_invariants() -> None:
    report = sale([answer(201, done=1.0), answer(201, done=2.0), answer(409, "out_of_stock")])
    assert report.broken() == []
    assert report.sell_out_seconds == 2.0
    assert report.refusals == {"out_of_stock": 1}


def test_a_5xx_another_refusal_code_or_a_missing_order_breaks_the_sale() -> None:
    report = sale([answer(201), answer(503, "database_busy"), answer(422, "validation_failed")])
    broken = report.broken()
    assert "1 orders created, not 2" in broken
    assert "1 answers were 5xx" in broken
    assert "refusals other than out_of_stock: {'validation_failed': 1}" in broken
    assert report.server_error_codes == {"database_busy": 1}
    assert report.sell_out_seconds is None


def test_an_oversold_unit_or_a_stock_row_out_of_step_breaks_the_sale() -> None:
    oversold = sale([answer(201), answer(201), answer(201)], stock=StockAfter(
        on_hand=2, reserved=3, active_reservations=3, orders=3, units_ordered=3))
    assert "1 units oversold" in oversold.broken()
    drifted = sale([answer(201), answer(201)], stock=StockAfter(
        on_hand=2, reserved=1, active_reservations=2, orders=2, units_ordered=2))
    assert any(b.startswith("reserved 1") for b in drifted.broken())
