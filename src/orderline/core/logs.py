"""Structured JSON logs: one object per line, with request, business and order ids when known."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from orderline.core.log_context import CONTEXT_VARS, business_id_var, order_id_var, request_id_var

__all__ = ["JsonFormatter", "business_id_var", "configure_logging", "order_id_var",
           "request_id_var"]

# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is logged.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(), "logger": record.name,
            "message": record.getMessage()}
        for key, var in CONTEXT_VARS:
            value = var.get()
            if value:
                entry[key] = value
        for key, value in record.__dict__.items():  # an explicit ``extra=`` wins over the context
            if key not in _RECORD_ATTRIBUTES:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("orderline")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
