"""Shipments and transfers in the console over HTTP (the real app over ASGI, on each database):
shipping some units from a location with the order page's form, marking a parcel delivered,
who may, the stock page's transfer form, and the buyer's order page listing the parcels.
The browser journey "ship in two parts" is in ``test_console_shipment_journey.py``."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from orderline.core.runtime import Runtime
from tests.support.console import (  # noqa: F401
    CONSOLE_BASE,
    ConsoleShop,
    console_login,
    console_owner_fixture,
    console_shop,
    console_transport_fixture,
    csrf_form,
    logged_in,
)


@pytest.fixture
async def shop(runtime: Runtime) -> ConsoleShop:
    return await console_shop(runtime, roles=("viewer", "operations"))


@pytest.fixture
async def api(transport: httpx.ASGITransport, shop: ConsoleShop
              ) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=transport, base_url=CONSOLE_BASE,
                                 headers=shop.api_headers) as client:
        yield client


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def paid_order(api: httpx.AsyncClient) -> dict[str, Any]:
    ok(await api.post("/v1/products", json={"name": "Batik", "variants": [
        {"sku": "BATIK", "name": "Batik M", "price": 1250, "initial_stock": 10}]}), 201)
    ok(await api.post("/v1/locations", json={"code": "north", "name": "North store"}), 201)
    ok(await api.post("/v1/inventory/adjustments", json={
        "sku": "BATIK", "location": "north", "delta": 5, "reason": "receipt"}))
    order = ok(await api.post("/v1/orders", json={
        "customer": {"name": "Ada Buyer", "phone": "+15550100"}, "channel": "web",
        "payment_method": "card", "lines": [{"sku": "BATIK", "quantity": 3}]}), 201)
    return dict(ok(await api.patch(f"/v1/orders/{order['id']}/payment",
                                   json={"reference": "pay-1"})))


async def test_the_order_page_ships_some_units_from_a_location_then_marks_them_delivered(
        owner: httpx.AsyncClient, api: httpx.AsyncClient) -> None:
    order = await paid_order(api)
    url = f"/console/orders/{order['id']}"
    page = (await owner.get(url)).text
    assert "Ship some units" in page and "BATIK (3 left to ship)" in page
    assert 'option value="north"' in page

    answer = await owner.post(f"{url}/shipments", data=csrf_form(
        owner, version=order["version"], **{"units-BATIK": "2"}, location="north",
        carrier="JNE", tracking_number="JNE-1", tracking_url="https://track.example/1"))
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"{url}?done=shipment"
    shown = await owner.get(answer.headers["location"])
    assert "The parcel was shipped; the buyer is told." in shown.text
    assert "Parcel 1" in shown.text and "2 \N{MULTIPLICATION SIGN} BATIK (north)" in shown.text
    assert "Partly shipped" in shown.text and "BATIK (1 left to ship)" in shown.text
    stock = ok(await api.get("/v1/inventory/BATIK"))
    assert {loc["location"]: loc["on_hand"] for loc in stock["locations"]} == {
        "main": 9, "north": 3}

    version = int(re.findall(r'name="version" value="(\d+)"', shown.text)[0])
    parcel = ok(await api.get(f"/v1/orders/{order['id']}/shipments"))["data"][0]
    delivered = await owner.post(f"{url}/shipments/{parcel['id']}/delivered",
                                 data=csrf_form(owner, version=version))
    assert delivered.status_code == 303, delivered.text
    assert ok(await api.get(f"/v1/orders/{order['id']}/shipments"))["data"][0][
        "status"] == "delivered"
    assert "Parcel delivered" in (await owner.get(url)).text


async def test_nothing_typed_or_too_many_units_are_said_in_plain_words(
        owner: httpx.AsyncClient, api: httpx.AsyncClient) -> None:
    order = await paid_order(api)
    url = f"/console/orders/{order['id']}/shipments"
    empty = await owner.post(url, data=csrf_form(owner, version=order["version"],
                                            carrier="JNE", tracking_number="X"))
    assert empty.status_code == 422
    assert "Type how many units of at least one line leave in this parcel." in empty.text
    over = await owner.post(url, data=csrf_form(owner, version=order["version"],
                                           **{"units-BATIK": "4"}, carrier="JNE",
                                           tracking_number="X"))
    assert over.status_code == 409
    assert ok(await api.get(f"/v1/orders/{order['id']}"))["status"] == "paid"


async def test_a_viewer_and_a_form_without_its_csrf_token_cannot_ship(
        runtime: Runtime, transport: httpx.ASGITransport, shop: ConsoleShop,
        owner: httpx.AsyncClient, api: httpx.AsyncClient) -> None:
    order = await paid_order(api)
    url = f"/console/orders/{order['id']}"
    login = await console_login(runtime, shop.staff["viewer"])
    async with logged_in(transport, login) as viewer:
        assert "Ship some units" not in (await viewer.get(url)).text
        forced = await viewer.post(f"{url}/shipments", data=csrf_form(
            viewer, version=order["version"], **{"units-BATIK": "1"}, carrier="JNE",
            tracking_number="X"))
        assert forced.status_code == 403
        moved = await viewer.post("/console/stock/BATIK/transfer", data=csrf_form(
            viewer, from_location="main", to_location="north", quantity="1"))
        assert moved.status_code == 403
    token = owner.headers.pop("X-CSRF-Token")
    forged = await owner.post(f"{url}/shipments", data={
        "version": order["version"], "units-BATIK": "1", "carrier": "JNE",
        "tracking_number": "X"})
    owner.headers["X-CSRF-Token"] = token
    assert forged.status_code == 403
    assert ok(await api.get(f"/v1/orders/{order['id']}/shipments"))["data"] == []
    stranger = await console_shop(runtime, name="Other shop")
    async with logged_in(transport, stranger.owner_login) as other:
        assert (await other.get(url)).status_code == 404
        refused = await other.post(f"{url}/shipments", data=csrf_form(
            other, version=order["version"], **{"units-BATIK": "1"}, carrier="JNE",
            tracking_number="X"))
        assert refused.status_code == 404


async def test_the_stock_page_moves_units_between_locations(
        owner: httpx.AsyncClient, api: httpx.AsyncClient) -> None:
    await paid_order(api)  # main: 7 on hand, north: 5
    page = await owner.get("/console/stock/BATIK")
    assert "Move to another location" in page.text
    moved = await owner.post("/console/stock/BATIK/transfer", data=csrf_form(
        owner, from_location="north", to_location="main", quantity="4",
        request_key="k-1"))
    assert moved.status_code == 303, moved.text
    shown = await owner.get(moved.headers["location"])
    assert "The units were moved." in shown.text
    assert "Moved in from another location" in shown.text
    short = await owner.post("/console/stock/BATIK/transfer", data=csrf_form(
        owner, from_location="north", to_location="main", quantity="2",
        request_key="k-2"))
    assert short.status_code == 422
    assert "1 are free to remove" in short.text
    stock = ok(await api.get("/v1/inventory/BATIK"))
    assert {loc["location"]: loc["on_hand"] for loc in stock["locations"]} == {
        "main": 11, "north": 1}


async def test_the_buyer_page_lists_the_parcels_with_their_tracking_links(
        api: httpx.AsyncClient, transport: httpx.ASGITransport) -> None:
    ok(await api.post("/v1/products", json={"name": "Batik", "variants": [
        {"sku": "BATIK", "name": "Batik M", "price": 1250, "initial_stock": 10}]}), 201)
    placed = ok(await api.post("/v1/orders", json={
        "customer": {"name": "Ada Buyer", "phone": "+15550100"}, "channel": "web",
        "payment_method": "card", "lines": [{"sku": "BATIK", "quantity": 3}]}), 201)
    ok(await api.patch(f"/v1/orders/{placed['id']}/payment", json={"reference": "p"}))
    ok(await api.post(f"/v1/orders/{placed['id']}/shipments", json={
        "lines": [{"sku": "BATIK", "quantity": 1}], "carrier": "JNE",
        "tracking_number": "JNE-77", "tracking_url": "https://track.example/77"}), 201)
    async with httpx.AsyncClient(transport=transport, base_url=CONSOLE_BASE) as buyer:
        page = await buyer.get(f"/o/{placed['access_token']}")
        assert page.status_code == 200
        assert "Part of your order is on its way" in page.text
        assert "Parcel 1" in page.text and "JNE-77" in page.text
        assert 'href="https://track.example/77"' in page.text
        seen = ok(await buyer.get(f"/v1/orders/{placed['id']}", headers={
            "Authorization": f"Bearer {placed['access_token']}"}))
    assert [(s["number"], s["tracking_number"]) for s in seen["shipments"]] == [
        (1, "JNE-77")]
