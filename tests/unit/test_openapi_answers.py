"""Every operation names what it answers: a response model (a ``$ref`` to a component schema,
or a list of them), or a declared media type that is not JSON (live streams, files). A
free-form object would let any new column leave the process unnoticed. And every refusal it can
give is documented, in the one error shape (``ErrorOut``): what the fuzzer
(``tests/e2e/test_api_fuzz.py``) holds the running API to."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from orderline.api.app import create_app
from orderline.core.config import Settings
from orderline.core.http import refusals


def _success_responses(operation: dict[str, Any]) -> dict[str, Any]:
    return {code: r for code, r in operation["responses"].items() if code.startswith("2")}


def _is_named(response: dict[str, Any]) -> bool:
    content = response.get("content", {})
    if not content:
        return False
    for media_type, body in content.items():
        if media_type != "application/json":
            continue  # a stream or a file, declared by its media type
        schema = body.get("schema", {})
        if schema.get("type") == "array":  # a list of named things (an order's history)
            schema = schema.get("items", {})
        # One of several named things (an order, as its merchant or its buyer sees it).
        choices = schema.get("anyOf", [schema])
        if not all("$ref" in choice for choice in choices):
            return False
    return True


@functools.cache
def _spec() -> dict[str, Any]:
    return create_app(Settings(database_url="sqlite+aiosqlite:///:memory:")).openapi()


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, operation)
            for path, operations in _spec()["paths"].items()
            for method, operation in operations.items()]


def _v1_operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for method, path, op in _operations() if path.startswith("/v1/")]


# The provider's webhook is signed by the provider, not sent with an API key.
# Called by providers, not merchants: signed (401 when not) or a verify token (403).
KEYLESS = {"POST /v1/payments/webhooks/{provider}", "POST /v1/messaging/twilio/status",
           "GET /v1/messaging/whatsapp/webhook", "POST /v1/messaging/whatsapp/webhook"}
ERROR_REF = {"$ref": "#/components/schemas/ErrorOut"}


def test_every_operation_answers_with_a_named_schema() -> None:
    operations = _operations()
    assert len(operations) > 100  # the API, not an empty app
    unnamed = [f"{method} {path}" for method, path, operation in operations
               if not (successes := _success_responses(operation))
               or not all(_is_named(r) for r in successes.values())]
    assert unnamed == []


def test_streams_and_files_declare_their_media_types() -> None:
    declared = {f"{method} {path}": set(r.get("content", {}))
                for method, path, operation in _v1_operations()
                for r in _success_responses(operation).values()}
    assert "text/event-stream" in declared["GET /v1/orders/{order_id}/events"]
    assert "application/pdf" in declared["GET /v1/verifications/{proof_id}/file"]
    assert "image/png" in declared["GET /v1/orders/{order_id}/payment-proofs/{proof_id}/file"]


def _statuses(operation: dict[str, Any]) -> set[int]:
    return {int(code) for code in operation["responses"] if code.isdigit()}


def test_every_refusal_is_documented_in_the_one_error_shape() -> None:
    not_in_shape = [f"{method} {path} {code}" for method, path, operation in _operations()
                    for code, response in operation["responses"].items()
                    if int(code) >= 400 and (method, path, code) != ("GET", "/readyz", "503")
                    and response["content"] != {"application/json": {"schema": ERROR_REF}}]
    assert not_in_shape == []
    assert "HTTPValidationError" not in str(_spec())  # FastAPI's 422, not what the API sends


def test_every_operation_documents_what_any_request_can_be_refused_with() -> None:
    missing = []
    for method, path, operation in _operations():
        expected = {422, 500, 503}  # 503: a database too busy to give a connection
        if "{" in path:
            expected.add(404)  # an id naming nothing in this business
        if "requestBody" in operation:
            expected |= {400, 413}  # malformed JSON, a body past the limit
        if any(p["name"].lower() == "if-match" for p in operation.get("parameters", [])):
            expected.add(412)  # a stale version
        if path.startswith("/v1/") and f"{method} {path}" not in KEYLESS:
            expected |= {401, 403}  # no key, or a key without the scope
        if expected - _statuses(operation):
            missing.append(f"{method} {path}: {sorted(expected - _statuses(operation))}")
    assert missing == []


def test_each_refusal_says_what_it_means_and_which_codes_it_carries() -> None:
    put_order = _spec()["paths"]["/v1/orders/{order_id}"]["put"]["responses"]
    assert "`version_conflict`" in put_order["412"]["description"]
    assert "`unauthorized`" in put_order["401"]["description"]
    assert "`forbidden`" in put_order["403"]["description"]
    assert "docs/errors.md" in put_order["409"]["description"]  # too many codes to list


def test_refusals_are_only_statuses_with_a_meaning() -> None:
    assert set(refusals(404, 401, 404)) == {401, 404}
    with pytest.raises(ValueError, match="418"):
        refusals(418)
