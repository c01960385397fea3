"""The ids every log line carries while they are known: the request, the business and the
order being worked on. Set by the API (per request) and by the worker (per event), read by the
JSON log formatter; kept apart from both so services can set them without importing either."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id",
                                                                           default=None)
# Set once the caller is known (API key) and when a request or an event names an order.
business_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("business_id",
                                                                            default=None)
order_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("order_id",
                                                                         default=None)
CONTEXT_VARS = (("request_id", request_id_var), ("business_id", business_id_var),
                ("order_id", order_id_var))


@contextlib.contextmanager
def log_context(*, business_id: object = None, order_id: object = None) -> Iterator[None]:
    """Every line logged inside the block names this business and order (a worker's job)."""
    tokens = [(var, var.set(str(value) if value is not None else None))
              for var, value in ((business_id_var, business_id), (order_id_var, order_id))]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
