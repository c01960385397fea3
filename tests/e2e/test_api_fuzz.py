"""Schemathesis over every operation of the OpenAPI document, on each database.

The app runs under uvicorn in a thread, with its own runtime on the test's database, and a
merchant (a shop with a product, shipping, a coupon, an order, a cart, a checkout and a
customer) seeded through the API. Each operation gets a bounded, derandomized number of
generated requests, valid and invalid ones, three in four sent with the merchant's key; a coin
drawn per request puts the seeded ids into the path, so some requests reach real things. A
request fails the test when the answer is a 5xx, has a status the document does not list, or
does not match the schema or media type documented for its status. Every failure of every
operation is reported at once.

Live streams (SSE) are fuzzed without the key: a valid one would stream forever, so they are
held to their refusals (401, 404, 422).
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from orderline.api.app import create_app
from orderline.core.config import Settings
from orderline.core.runtime import Runtime
from tests.conftest import Merchant, new_merchant
from tests.e2e.conftest import api_client, error_of, ok, place_order
from tests.support.checkout import new_cart, open_shop, start_checkout
from tests.support.servers import serving_in_thread

# A loaded machine can take seconds to build the OpenAPI document or a page the first
# time: these calls wait long enough never to decide a test by the clock.
SLOW_MACHINE_SECONDS = 120
slow_get = functools.partial(httpx.get, timeout=SLOW_MACHINE_SECONDS)

# Bounded so both databases take well under two minutes; raise it for a deeper local hunt.
EXAMPLES_PER_OPERATION = int(os.environ.get("ORDERLINE_FUZZ_EXAMPLES", "12"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
STREAMS = {"/v1/orders/{order_id}/events", "/v1/stream", "/v1/verifications/events"}


@dataclass
class Seeded:
    merchant: Merchant
    ids: dict[str, str]  # path parameter -> an id that names something of the merchant's


@pytest.fixture
async def seeded(runtime: Runtime) -> Seeded:
    merchant = await new_merchant(runtime, name="Fuzzed shop")
    async with api_client(runtime) as client:
        shop = await open_shop(client, merchant, products={"FUZZ-1": (1500, 50)})
        order = await place_order(client, merchant, ("FUZZ-1", 1))
        cart = await new_cart(client, merchant, ("FUZZ-1", 1))
        checkout = await start_checkout(client, cart)
        products = ok(await client.get("/v1/products", headers=merchant.headers))["data"]
        coupon = ok(await client.post("/v1/coupons", headers=merchant.headers, json={
            "code": "FUZZ10", "kind": "percentage", "percent_off": 10}), 201)
    ids = {"order_id": order["id"], "customer_id": order["customer"]["id"],
           "product_id": products[0]["id"], "sku": "FUZZ-1", "cart_id": cart.id,
           "checkout_id": checkout["id"], "zone_id": shop.zone_id,
           "method_id": shop.method_id, "coupon_id": coupon["id"], "provider": "sandbox"}
    return Seeded(merchant=merchant, ids=ids)


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """The app under uvicorn on the test's database: its base URL and its OpenAPI document."""
    app = create_app(Settings(database_url=database_url, data_dir=tmp_path, db_pool_size=4))
    with serving_in_thread(app) as port:
        base = f"http://127.0.0.1:{port}"
        yield base, slow_get(f"{base}/openapi.json").json()


def test_every_operation_answers_only_what_the_document_says(
        served: tuple[str, dict[str, Any]], seeded: Seeded) -> None:
    base, document = served
    schema = schemathesis.openapi.from_dict(document)
    key = seeded.merchant.headers
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 100
    with requests.Session() as session:
        for operation in operations:
            headers = {} if operation.path in STREAMS else key
            try:
                _fuzz(operation, base=base, session=session, headers=headers, ids=seeded.ids)
            except (Exception, BaseExceptionGroup) as failure:  # report every operation's
                failures.append(f"{operation.method.upper()} {operation.path}: {failure}")
    assert not failures, "\n\n".join(failures)


def _fuzz(operation: Any, *, base: str, session: requests.Session, headers: dict[str, str],
          ids: dict[str, str]) -> None:
    strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                         operation.as_strategy(GenerationMode.NEGATIVE))

    @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, database=None,
              deadline=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=strategy, hit=st.booleans(), keyed=st.integers(0, 3))
    def answers_as_documented(case: Any, hit: bool, keyed: int) -> None:
        if hit and case.path_parameters:
            case.path_parameters = {name: ids.get(name, value)
                                    for name, value in case.path_parameters.items()}
        # One request in four goes with whatever credential was generated (mostly none).
        case.call_and_validate(base_url=base, session=session, headers=headers if keyed else {},
                               checks=CHECKS, timeout=30)

    answers_as_documented()


def test_the_fuzzer_reaches_the_seeded_things(served: tuple[str, dict[str, Any]],
                                              seeded: Seeded) -> None:
    """The ids the fuzzer puts in paths are the merchant's (else it would only see 404s)."""
    base, _ = served
    h = seeded.merchant.headers
    assert slow_get(f"{base}/v1/orders/{seeded.ids['order_id']}", headers=h).status_code == 200
    assert slow_get(f"{base}/v1/carts/{seeded.ids['cart_id']}", headers=h).status_code == 200
    assert slow_get(f"{base}/v1/orders/{uuid.uuid4()}", headers=h).status_code == 404


# What the fuzzer found, kept as plain regression tests.

async def test_a_movement_cursor_below_every_id_is_refused_not_a_server_error(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    response = await client.get("/v1/inventory/movements", headers=merchant.headers,
                                params={"before_id": "-17487486263308848081938677760"})
    details = error_of(response, 422, "validation_error")
    assert details["errors"][0]["field"] == "before_id"


async def test_a_customer_filter_that_is_no_id_is_invalid_not_a_missing_customer(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    response = await client.get("/v1/orders", headers=merchant.headers,
                                params={"customer_id": "not-an-id"})
    details = error_of(response, 422, "validation_error")
    assert details["errors"][0]["field"] == "customer_id"
    unknown = await client.get("/v1/orders", headers=merchant.headers,
                               params={"customer_id": str(uuid.uuid4())})
    assert ok(unknown)["data"] == []


# Integer settings stored in 32-bit columns: the fuzzer found one that answered 500 on
# PostgreSQL (int32 out of range) for a number its body model let through.
SETTINGS = [("/v1/business/cod", "max_open_orders"), ("/v1/business/cod", "min_trust_score"),
            ("/v1/business", "reservation_ttl_seconds"), ("/v1/business", "max_line_quantity"),
            ("/v1/business", "price_max_age_seconds"), ("/v1/business", "confirms_per_minute"),
            ("/v1/business/manual-payments", "proof_deadline_minutes"),
            ("/v1/business/manual-payments", "proof_review_hours"),
            ("/v1/business/manual-payments", "proof_max_bytes"),
            ("/v1/business/manual-payments", "proof_retention_days")]


@pytest.mark.parametrize(("path", "field"), SETTINGS)
async def test_a_setting_larger_than_its_column_is_refused_not_a_server_error(
        client: httpx.AsyncClient, merchant: Merchant, path: str, field: str) -> None:
    response = await client.patch(path, headers=merchant.headers, json={field: 401351729346})
    error_of(response, 422, "validation_error")
