"""The OpenAPI document: what each route declares it can refuse (``core.http.refusals``), plus
what any operation can answer, each in the one error shape with the codes it may carry.

Added to every operation: 422 (a body, query or header breaking a rule, or a control character
in the query, ``ControlCharacters``) and 500 (``UnexpectedErrors``); 404 on a path with a
parameter (a control character in it names nothing); on an operation with a body, 400
(``malformed_json``) and 413 (``BodySizeLimit``). FastAPI's own 422 schema
(``HTTPValidationError``) is not the shape the API answers, so it goes.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from fastapi import FastAPI

from orderline.api.errors import STATUS_BY_CODE
from orderline.core.http import REFUSAL_MEANINGS
from orderline.core.schemas import ErrorOut

_ERROR_REF = {"$ref": "#/components/schemas/ErrorOut"}
_ROOT_CODES = {"domain_error", "proof_refused"}  # roots of the tree, never answered


def _codes_by_status() -> dict[int, list[str]]:
    codes: dict[int, list[str]] = defaultdict(list)
    for code, status in STATUS_BY_CODE.items():
        if code not in _ROOT_CODES:
            codes[status].append(code)
    return codes


def _is_refusal(response: dict[str, Any]) -> bool:
    """In the error shape: declared by ``refusals``, added here, or FastAPI's own 422 (a
    response with a body of its own, such as /readyz's 503, keeps it)."""
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return not response.get("content") or schema.get("$ref", "").rsplit("/", 1)[-1] in {
        "ErrorOut", "HTTPValidationError"}


def _codes_sentence(codes: list[str]) -> str:
    if len(codes) > 6:
        return "`error.code` names the rule (docs/errors.md lists every code)."
    return "Codes: " + ", ".join(f"`{code}`" for code in codes) + "."


def _always(path: str, operation: dict[str, Any]) -> set[int]:
    statuses = {422, 500, 503}  # 503: the database is busy (api/unexpected.py)
    if "{" in path:
        statuses.add(404)
    if "requestBody" in operation:
        statuses |= {400, 413}
    return statuses


def document_refusals(spec: dict[str, Any]) -> dict[str, Any]:
    """Give every operation its refusals in the error shape (changes ``spec`` in place)."""
    codes = _codes_by_status()
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    error_out = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, schema in {**error_out.pop("$defs", {}), "ErrorOut": error_out}.items():
        schemas.setdefault(name, schema)
    for path, operations in spec.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status in _always(path, operation):
                responses.setdefault(str(status), {"description": REFUSAL_MEANINGS[status]})
            for key, response in responses.items():
                if key.isdigit() and int(key) >= 400 and _is_refusal(response):
                    status = int(key)
                    response["content"] = {"application/json": {"schema": dict(_ERROR_REF)}}
                    meaning = REFUSAL_MEANINGS.get(status, response.get("description", ""))
                    response["description"] = f"{meaning} {_codes_sentence(codes.get(status, []))}"
            operation["responses"] = dict(sorted(responses.items()))
    for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's, if nothing uses it
        if f'"#/components/schemas/{unused}"' not in json.dumps(spec):
            schemas.pop(unused, None)
    return spec


def install_openapi(app: FastAPI) -> None:
    """The app's ``/openapi.json`` (and ``app.openapi()``) with every refusal documented."""
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_refusals(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
