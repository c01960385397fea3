"""A buyer's path over HTTP: a shop with shipping and tax, a cart, a checkout, a confirm.

Everything goes through the API, as a storefront would: the merchant key sets the shop up and
creates the cart; the buyer then uses only the cart's token.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests.conftest import Merchant

ADDRESS = {"name": "Ada Buyer", "line1": "1 Main St", "city": "Springfield",
           "region": "IL", "postal_code": "62701", "country": "US"}
BUYER = {"name": "Ada Buyer", "phone": "+1 555 0100"}


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@dataclass
class Shop:
    merchant: Merchant
    zone_id: str
    method_id: str


async def open_shop(client: httpx.AsyncClient, merchant: Merchant, *,
                    products: dict[str, tuple[int, int]], shipping: int = 500,
                    tax_rate: str | None = "10", countries: tuple[str, ...] = ("US",)) -> Shop:
    """``products``: sku -> (price, units on hand). One zone, one flat method, one tax rate."""
    h = merchant.headers
    for sku, (price, on_hand) in products.items():
        _ok(await client.post("/v1/products", headers=h, json={
            "name": f"Product {sku}", "variants": [{"sku": sku, "name": f"Variant {sku}",
                                                    "price": price, "initial_stock": on_hand}]}),
            201)
    zone = _ok(await client.post("/v1/shipping-zones", headers=h, json={
        "name": "Home", "countries": list(countries)}), 201)
    method = _ok(await client.post(f"/v1/shipping-zones/{zone['id']}/methods", headers=h, json={
        "name": "Standard", "kind": "flat", "price": shipping}), 201)
    if tax_rate is not None:
        _ok(await client.post(f"/v1/shipping-zones/{zone['id']}/tax-rates", headers=h, json={
            "name": "Sales tax", "rate": tax_rate}), 201)
    return Shop(merchant=merchant, zone_id=zone["id"], method_id=method["id"])


@dataclass
class Cart:
    id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Cart-Token": self.token}


async def new_cart(client: httpx.AsyncClient, merchant: Merchant,
                   *lines: tuple[str, int]) -> Cart:
    created = _ok(await client.post("/v1/carts", headers=merchant.headers,
                                    json={"channel": "web"}), 201)
    cart = Cart(id=created["id"], token=created["token"])
    for sku, quantity in lines:
        _ok(await client.post(f"/v1/carts/{cart.id}/lines", headers=cart.headers,
                              json={"sku": sku, "quantity": quantity}))
    return cart


async def start_checkout(client: httpx.AsyncClient, cart: Cart, *, coupons: tuple[str, ...] = (),
                         address: dict[str, Any] | None = None,
                         buyer: dict[str, Any] | None = None, payment_method: str = "card",
                         expect: int = 201) -> Any:
    response = await client.post("/v1/checkouts", headers=cart.headers, json={
        "cart_id": cart.id, "address": address or ADDRESS, "customer": buyer or BUYER,
        "payment_method": payment_method, "coupon_codes": list(coupons)})
    if expect != 201:
        return response
    return _ok(response, 201)


async def confirm(client: httpx.AsyncClient, cart: Cart, checkout: dict[str, Any], *,
                  key: str | None = None, totals: dict[str, int] | None = None,
                  headers: dict[str, str] | None = None) -> httpx.Response:
    """Confirm at the review's totals (or ``totals``) with a new key unless one is given."""
    sent = {**(headers or cart.headers), "Idempotency-Key": key or str(uuid.uuid4())}
    return await client.post(f"/v1/checkouts/{checkout['id']}/confirm", headers=sent,
                             json={"totals": totals or checkout["totals"]})
