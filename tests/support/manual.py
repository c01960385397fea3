"""A shop that takes manual payments (GCash), built through the API, and receipts for it."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from orderline.bench.receipts import draw_receipt
from orderline.core.runtime import Runtime
from orderline.manual_payments.files.encryption import MasterKeys
from orderline.manual_payments.files.storage import EncryptedStorage, LocalFolderStorage
from orderline.manual_payments.methods import format_amount
from orderline.tenancy import service as tenancy
from tests.conftest import Merchant

ACCOUNT_NAME = "Juan Dela Cruz"


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def master_keys(*ids: str, seed: bytes = b"") -> MasterKeys:
    """Keys named by ``ids`` (the first current), the same bytes for the same id."""
    keys = {i: (i.encode() + seed + bytes(32))[:32] for i in ids}
    return MasterKeys(keys, current_id=ids[0])


def sealed_storage(folder: Path, keys: MasterKeys) -> EncryptedStorage:
    return EncryptedStorage(LocalFolderStorage(folder), keys)


def spec(keys: dict[str, bytes]) -> str:
    return ",".join(f"{k}:{base64.b64encode(v).decode()}" for k, v in keys.items())


async def php_merchant(runtime: Runtime, name: str = "Manila shop") -> Merchant:
    created = await tenancy.create_business(runtime, name=name, currency="PHP",
                                            reservation_ttl_seconds=None)
    principal = await tenancy.authenticate(runtime, created.api_key.key)
    return Merchant(principal=principal, key=created.api_key.key)


async def gcash(client: httpx.AsyncClient, merchant: Merchant, **extra: Any) -> dict[str, Any]:
    method: dict[str, Any] = ok(await client.post("/v1/payment-methods", headers=merchant.headers,
                                                  json={"template": "gcash",
                                                        "account_name": ACCOUNT_NAME,
                                                        "account_number": "0917 555 0101",
                                                        **extra}), 201)
    return method


async def manual_shop(client: httpx.AsyncClient, merchant: Merchant, *, sku: str = "TEE",
                      on_hand: int = 10, price: int = 125_000) -> None:
    ok(await client.post("/v1/products", headers=merchant.headers, json={
        "name": f"Product {sku}", "variants": [{"sku": sku, "name": f"Variant {sku}",
                                                "price": price, "initial_stock": on_hand}]}),
       201)
    await gcash(client, merchant)


async def manual_order(client: httpx.AsyncClient, merchant: Merchant, *, sku: str = "TEE",
                       quantity: int = 1, phone: str = "+63 917 555 0199",
                       method: str = "gcash") -> dict[str, Any]:
    order: dict[str, Any] = ok(await client.post("/v1/orders", headers=merchant.headers, json={
        "customer": {"name": "Maria Santos", "phone": phone, "email": f"m{phone[-4:]}@ex.ph"},
        "channel": "whatsapp", "payment_method": method,
        "lines": [{"sku": sku, "quantity": quantity}]}), 201)
    return order


def buyer(order: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {order['access_token']}"}


def receipt_for(order: dict[str, Any], *, amount: int | None = None,
                media_type: str = "image/png", noise: str = "") -> bytes:
    """The receipt of paying ``order`` (or ``amount`` instead of its total), dated today."""
    mp = order["manual_payment"]
    shown = format_amount(amount if amount is not None else mp["amount"], mp["currency"])
    return draw_receipt(amount=shown.split(" ", 1)[1], reference=mp["reference"],
                        date=datetime.now(UTC).strftime("%b %d, %Y 10:15 AM"),
                        recipient=ACCOUNT_NAME,
                        media_type=media_type,
                        extra_lines=[f"Note: {noise or os.urandom(3).hex()}"])


async def upload(client: httpx.AsyncClient, order: dict[str, Any], content: bytes, *,
                 headers: dict[str, str] | None = None) -> httpx.Response:
    return await client.put(f"/v1/orders/{order['id']}/payment-proof",
                            headers=headers or buyer(order), content=content)


class ReceiptText:
    """A proof reader (``PROOF_READER``) that reads every proof as a receipt of PHP 1,250.00
    to the shop's account, dated ``day`` and without a reference: a one-tee order scores 70,
    a two-tee order 30, whatever Tesseract would make of the picture (for tests of what
    scores do, not of reading)."""

    def __init__(self, day: str) -> None:
        self.day = day

    def available(self) -> bool:
        return True

    async def read_text(self, content: bytes, media_type: str) -> str:
        return f"GCash\nAmount: PHP 1,250.00\nDate: {self.day}\nSent to\nJuan Dela Cruz\n"
