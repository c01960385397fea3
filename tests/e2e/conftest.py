"""End-to-end fixtures: the real FastAPI app over ASGI, on each database.

``httpx.ASGITransport`` does not run the app's lifespan, so the fixture puts the test's runtime
on ``app.state`` itself. The helpers below talk to the API only, so every assertion checks what
a merchant's integration would see.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from orderline.api.app import create_app
from orderline.core.clock import ManualClock
from orderline.core.config import Settings
from orderline.core.db.engine import Database
from orderline.core.runtime import Runtime
from orderline.manual_payments.files.configured import PROOF_STORAGE
from orderline.payments.providers.configured import providers_of
from orderline.payments.providers.sandbox import SandboxGateway
from orderline.wiring import provide_parts
from tests.conftest import IN_CI, Merchant, new_merchant
from tests.support import postgres
from tests.support.manual import manual_shop, master_keys, php_merchant, sealed_storage
from tests.support.servers import running_server


@asynccontextmanager
async def api_client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a fresh app on ``runtime``, without a network or a server process."""
    app = create_app(runtime=runtime)
    app.state.runtime = runtime  # ASGITransport does not run the lifespan that would set it
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(runtime) as http:
        yield http


@pytest.fixture(scope="module")
def module_runtime(shared_db: Database, database_url: str) -> Runtime:
    """A runtime for data built once per test module (and database), then only read."""
    return provide_parts(Runtime(settings=Settings(database_url=database_url), db=shared_db))


@pytest.fixture(scope="module")
def racing_server(database_url: str, shared_db: Any) -> Iterator[str]:
    """``orderline serve`` for the race tests, once per module and backend: ``--workers 4`` on
    PostgreSQL, so racing requests land in four processes with their own connection pools;
    the one embedded process on SQLite. ``shared_db`` makes sure the database is migrated
    first."""
    workers = 1 if database_url.startswith("sqlite") else 4
    with running_server(database_url, workers=workers) as base:
        yield base


@pytest.fixture
async def rival(runtime: Runtime) -> Merchant:
    """A second business on the same database, to prove the first one's data stays its own."""
    return await new_merchant(runtime, name="Rival shop")


@pytest.fixture
def sandbox(request: pytest.FixtureRequest, runtime: Runtime,
            client: httpx.AsyncClient) -> SandboxGateway:
    """The sandbox card provider of the test's runtime, signing with the module's ``SECRET``
    (when it has one, to sign webhooks of its own), its webhooks delivered to the app
    (``client``) as the provider's servers would send them."""
    async def deliver(headers: dict[str, str], body: bytes) -> None:
        answer = await client.post("/v1/payments/webhooks/sandbox", headers=headers,
                                   content=body)
        assert answer.status_code == 200, answer.text

    secret = getattr(request.module, "SECRET", "whsec_e2e_sandbox")
    gateway = SandboxGateway(secret=secret, deliver=deliver, db=runtime.db)
    providers_of(runtime)["sandbox"] = gateway
    return gateway


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert the one error shape with this status and code; returns the details."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    details: dict[str, Any] = body["error"]["details"]
    assert isinstance(details, dict)
    return details


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def add_product(client: httpx.AsyncClient, merchant: Merchant, sku: str, on_hand: int, *,
                      price: int = 1000) -> dict[str, Any]:
    """One product with one variant of ``sku`` and ``on_hand`` units in the main location."""
    product: dict[str, Any] = ok(await client.post("/v1/products", headers=merchant.headers, json={
        "name": f"Product {sku}",
        "variants": [{"sku": sku, "name": f"Variant {sku}", "price": price,
                      "initial_stock": on_hand}]}), 201)
    return product


def order_body(*lines: tuple[str, int], channel: str = "web", name: str = "Ada Buyer",
               phone: str | None = "+1 555 0100", email: str | None = None) -> dict[str, Any]:
    customer: dict[str, Any] = {"name": name}
    if phone is not None:
        customer["phone"] = phone
    if email is not None:
        customer["email"] = email
    return {"customer": customer, "channel": channel, "payment_method": "card",
            "lines": [{"sku": sku, "quantity": qty} for sku, qty in lines]}


async def place_order(client: httpx.AsyncClient, merchant: Merchant, *lines: tuple[str, int],
                      **contact: Any) -> dict[str, Any]:
    order: dict[str, Any] = ok(await client.post("/v1/orders", headers=merchant.headers,
                                                 json=order_body(*lines, **contact)), 201)
    return order


async def pay(client: httpx.AsyncClient, merchant: Merchant,
              order: dict[str, Any]) -> dict[str, Any]:
    paid: dict[str, Any] = ok(await client.patch(
        f"/v1/orders/{order['id']}/payment", headers=merchant.headers,
        json={"reference": "pay-1", "amount": order["total"]}))
    return paid


async def ship(client: httpx.AsyncClient, merchant: Merchant,
               order: dict[str, Any]) -> dict[str, Any]:
    shipped: dict[str, Any] = ok(await client.patch(
        f"/v1/orders/{order['id']}/shipping", headers=merchant.headers,
        json={"carrier": "DHL", "tracking_number": "JD0001"}))
    return shipped


async def levels(client: httpx.AsyncClient, merchant: Merchant, sku: str) -> tuple[int, int, int]:
    """(on_hand, reserved, available) of ``sku`` as the API reports it."""
    level = ok(await client.get(f"/v1/inventory/{sku}", headers=merchant.headers))
    return level["on_hand"], level["reserved"], level["available"]


async def all_orders(client: httpx.AsyncClient, merchant: Merchant) -> list[dict[str, Any]]:
    orders: list[dict[str, Any]] = ok(await client.get(
        "/v1/orders", headers=merchant.headers, params={"limit": 200}))["data"]
    return orders


async def movements(client: httpx.AsyncClient, merchant: Merchant,
                    sku: str | None = None) -> list[dict[str, Any]]:
    params = {"sku": sku} if sku else {}
    rows: list[dict[str, Any]] = ok(await client.get(
        "/v1/inventory/movements", headers=merchant.headers, params=params))["data"]
    return rows


async def balanced(client: httpx.AsyncClient, merchant: Merchant) -> bool:
    report = ok(await client.get("/v1/inventory/reconciliation", headers=merchant.headers))
    return bool(report["balanced"]) and report["drift"] == []


# --- a shop that takes manual payments (GCash), with sealed proof storage -------------------

@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def shop_runtime(runtime: Runtime, tmp_path: Path, clock: ManualClock) -> Runtime:
    runtime.clock = clock
    runtime.put(PROOF_STORAGE, sealed_storage(tmp_path / "proofs", master_keys("k1")))
    return runtime


@pytest.fixture
def page_runtime(shop_runtime: Runtime) -> Runtime:
    """The runtime a page test's app runs on (``transport``); a module may override it."""
    return shop_runtime


@pytest.fixture
def transport(page_runtime: Runtime) -> httpx.ASGITransport:
    """The app on ``page_runtime``, for an ``httpx`` client of its pages (ASGI, no socket)."""
    app = create_app(runtime=page_runtime)
    app.state.runtime = page_runtime
    return httpx.ASGITransport(app=app)


@pytest.fixture
async def http(shop_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(shop_runtime) as client:
        yield client


@pytest.fixture
async def shop(shop_runtime: Runtime, http: httpx.AsyncClient) -> Merchant:
    """A PHP business with 10 units of TEE at PHP 1,250.00 and a GCash method."""
    merchant = await php_merchant(shop_runtime)
    await manual_shop(http, merchant)
    return merchant


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[postgres.PostgresServer]:
    """A PostgreSQL server for the benches' commands, which make and drop their own
    databases on it (failed, not skipped, without one under CI=true)."""
    server = postgres.server_or_skip(in_ci=IN_CI)
    try:
        yield server
    finally:
        server.stop()
