"""The ``Idempotency-Key`` request header and the ``Idempotent-Replayed`` answer header, for
the routes of creating requests."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header, Response

from orderline.idempotency.service import Answer

IdempotencyKeyHeader = Annotated[str | None, Header(
    alias="Idempotency-Key",
    description="Optional. A new random value (such as a UUID) per request, sent again "
                "unchanged on a retry: the same key and body return the first answer "
                "(Idempotent-Replayed: true) and change nothing; another body is 422 "
                "idempotency_key_reused; while the first is running, 409 "
                "request_in_progress. Kept 24 h per business.")]


def send(response: Response, answer: Answer) -> Any:
    """Set the answer's status and the replay header on ``response``; returns the body for the
    route's response model to shape."""
    response.status_code = answer.status_code
    response.headers["Idempotent-Replayed"] = "true" if answer.replayed else "false"
    return answer.body
