"""Request-scoped HTTP pieces every capability's routes share: the runtime, bearer tokens, ids,
versions (ETags) and cursors. The callers (a key, a cart token, an order token) are
resolved by each capability's own ``deps`` module."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from orderline.core.errors import NotFound, ValidationFailed, VersionConflict
from orderline.core.log_context import business_id_var, order_id_var
from orderline.core.runtime import Runtime
from orderline.core.schemas import STORED_INT_MAX, ErrorOut


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def bearer_of(authorization: str | None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip() or None
    return None


def bind_business(request: Request, business_id: uuid.UUID) -> None:
    """Name the caller's business in this request's logs (RequestIds resets it after)."""
    request.state.business_id = str(business_id)
    business_id_var.set(request.state.business_id)


async def _runtime(request: Request) -> Runtime:
    # A coroutine: FastAPI runs a plain ``def`` dependency in its thread pool, a thread hand-off
    # on every request for what is an attribute read.
    return get_runtime(request)


RuntimeDep = Annotated[Runtime, Depends(_runtime)]


async def bind_order_id(request: Request) -> None:
    """Name the order of a ``/{order_id}`` route in this request's logs (a valid id only).

    async on purpose: a sync dependency runs in a thread, whose context is thrown away."""
    raw = request.path_params.get("order_id")
    with contextlib.suppress(ValueError):  # a malformed id gets parse_id's 404
        if raw is not None:
            order_id_var.set(str(uuid.UUID(raw)))


def parse_id(kind: str, raw: str) -> uuid.UUID:
    """A malformed id names nothing in this business: 404, like an id of another business."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound(kind, raw) from None


_VERSION = re.compile(r"[0-9]{1,40}")


async def expected_version(if_match: Annotated[str | None, Header()] = None) -> int | None:
    """``If-Match: "3"`` (or ``W/"3"``) names the version the caller last read. Every route
    with a version reads it here: ASCII digits only, and a number no stored version can
    reach is a stale version (412), never a database error. (A coroutine, so FastAPI does not
    hand it to a thread.)"""
    if if_match is None or if_match.strip() == "*":
        return None
    raw = if_match.strip().removeprefix("W/").strip('"')
    if not _VERSION.fullmatch(raw):
        raise ValidationFailed('If-Match must be the ETag you received, such as "3".',
                               details={"if_match": if_match})
    version = int(raw)
    if version > STORED_INT_MAX:
        raise VersionConflict("No version that large exists; fetch it again and send the ETag "
                              "you receive.", details={"if_match": if_match})
    return version


VersionDep = Annotated[int | None, Depends(expected_version)]


def etag(version: int) -> str:
    return f'"{version}"'


def encode_cursor(created_at: datetime, ident: uuid.UUID) -> str:
    raw = json.dumps({"t": created_at.isoformat(), "id": str(ident)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if not cursor:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        created_at = datetime.fromisoformat(data["t"])
        if created_at.tzinfo is None:  # every cursor we give out names UTC
            raise ValueError("cursor time without a timezone")
        return created_at, uuid.UUID(data["id"])
    except (ValueError, KeyError, TypeError):
        raise ValidationFailed("This cursor is not one the API gave out.",
                               details={"cursor": cursor}) from None


# What each refusal status means, for the API's documentation; the app lists each status's
# codes beside it (api/openapi.py) from the one code -> status table.
REFUSAL_MEANINGS: dict[int, str] = {
    400: "The request could not be read or is missing something it must carry.",
    401: "No credential, or an unknown or revoked API key or token.",
    402: "The payment provider declined the payment.",
    403: "The API key lacks the scope this needs.",
    404: "Nothing with this id (or name) in the caller's business.",
    409: "The request conflicts with the current state of what it names.",
    410: "What it names existed but is gone.",
    412: ("If-Match names an older version: fetch it again and retry. For an order, "
          "``details`` carries ``expected_version``, ``current_version``, ``order_number``, "
          "``changes_since`` (how many changes came after your version) and "
          "``latest_change``: the latest of them, ``{actor, action, description, from_status, "
          "to_status, changed_fields, at, version}`` (who, e.g. ``api_key:ol_ab12``, what, "
          "and when), or null when the history does not say; the message says it in words."),
    413: "The request body or file is larger than allowed.",
    415: "The body or file is of a type this operation does not read.",
    422: "The request is well-formed but a field breaks a rule.",
    429: "Too many attempts: retry later.",
    500: "An unexpected failure on the server's side; it was logged.",
    503: "A service this needs is unavailable: retry later.",
}


def refusals(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: each status it can refuse with, in the one error shape
    (``ErrorOut``). Declare what the route itself can answer (401 and 403 behind an API key,
    404 for an id it reads, 409, 412, ...); the app adds what every operation can answer
    (422, 500, 503; 404 on a path with a parameter; 413 with a body): see docs/architecture.md."""
    unknown = sorted(set(statuses) - set(REFUSAL_MEANINGS))
    if unknown:
        raise ValueError(f"no meaning written for refusal statuses {unknown}")
    return {status: {"model": ErrorOut, "description": REFUSAL_MEANINGS[status]}
            for status in sorted(set(statuses))}


def json_refusals(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``refusals`` for a route whose success is not JSON (a plain-text handshake, say): its
    refusals still come as JSON, which the route's own media type would otherwise hide."""
    schema = {"$ref": "#/components/schemas/ErrorOut"}
    return {status: {"description": answer["description"],
                     "content": {"application/json": {"schema": schema}}}
            for status, answer in refusals(*statuses).items()}
