"""Every /v1 operation names what it answers: a response model (a ``$ref`` to a component
schema, or a list of them), or a declared media type that is not JSON (live streams, files).
A free-form object would let any new column leave the process unnoticed."""

from __future__ import annotations

from typing import Any

from orderline.api.app import create_app
from orderline.core.config import Settings


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


def _v1_operations() -> list[tuple[str, str, dict[str, Any]]]:
    spec = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:")).openapi()
    return [(method.upper(), path, operation)
            for path, operations in spec["paths"].items() if path.startswith("/v1/")
            for method, operation in operations.items()]


def test_every_v1_operation_answers_with_a_named_schema() -> None:
    operations = _v1_operations()
    assert len(operations) > 90  # the API, not an empty app
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
