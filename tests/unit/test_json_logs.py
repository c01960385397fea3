"""The JSON log line: one object per record, naming the request, business and order in whose
context it was logged."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from orderline.core.log_context import business_id_var, log_context, order_id_var, request_id_var
from orderline.core.logs import JsonFormatter


def line(message: str = "something happened", *, level: int = logging.INFO,
         extra: dict[str, Any] | None = None, exc_info: Any = None) -> dict[str, Any]:
    record = logging.LogRecord("orderline.test", level, __file__, 1, message, None, exc_info)
    record.__dict__.update(extra or {})
    parsed: dict[str, Any] = json.loads(JsonFormatter().format(record))
    return parsed


def test_a_line_outside_any_request_has_no_ids() -> None:
    entry = line("worker started")
    assert set(entry) == {"ts", "level", "logger", "message"}
    assert (entry["level"], entry["logger"], entry["message"]) == (
        "info", "orderline.test", "worker started")


def test_a_line_inside_a_request_names_its_request_business_and_order() -> None:
    tokens = [(request_id_var, request_id_var.set("req-1")),
              (business_id_var, business_id_var.set("b-1")),
              (order_id_var, order_id_var.set("o-1"))]
    try:
        entry = line()
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
    assert (entry["request_id"], entry["business_id"], entry["order_id"]) == (
        "req-1", "b-1", "o-1")


def test_log_context_names_business_and_order_only_inside_its_block() -> None:
    with log_context(business_id="b-outer"):
        with log_context(business_id="b-inner", order_id="o-inner"):
            inner = line()
        outer = line()
    after = line()
    assert (inner["business_id"], inner["order_id"]) == ("b-inner", "o-inner")
    assert outer["business_id"] == "b-outer" and "order_id" not in outer
    assert "business_id" not in after and "order_id" not in after


def test_an_explicit_extra_wins_over_the_context() -> None:
    with log_context(business_id="from-context", order_id="o-1"):
        entry = line(extra={"business_id": "from-extra", "event_id": "e-1"})
    assert (entry["business_id"], entry["order_id"], entry["event_id"]) == (
        "from-extra", "o-1", "e-1")


def test_an_access_line_keeps_its_fields_as_json_values() -> None:
    entry = line("GET /v1/orders 200", extra={"method": "GET", "path": "/v1/orders",
                                               "status": 200, "duration_ms": 3.5})
    assert (entry["method"], entry["path"], entry["status"], entry["duration_ms"]) == (
        "GET", "/v1/orders", 200, 3.5)


def test_an_exception_is_one_field_of_the_same_line() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        entry = line("failed", level=logging.ERROR, exc_info=sys.exc_info())
    assert entry["level"] == "error"
    assert "RuntimeError: boom" in entry["exception"]


def test_every_detail_passed_with_extra_is_kept_in_the_line() -> None:
    entry = line("notification", extra={"recipient": "ada@example.org", "subject": "Paid",
                                        "attempts": 2})
    assert (entry["recipient"], entry["subject"], entry["attempts"]) == (
        "ada@example.org", "Paid", 2)
