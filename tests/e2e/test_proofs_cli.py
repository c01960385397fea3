"""``orderline proofs``: master key rotation and retention as an operator runs them."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

from orderline.bench.receipts import draw_receipt
from orderline.checkout import direct_orders
from orderline.checkout.direct_orders import NewOrder
from orderline.core.runtime import Runtime
from orderline.manual_payments import methods as manual_methods
from orderline.manual_payments import proofs as payment_proofs
from orderline.manual_payments.files.configured import PROOF_STORAGE
from orderline.manual_payments.files.encryption import MasterKeys, sealed_key_id
from orderline.manual_payments.files.storage import EncryptedStorage, LocalFolderStorage
from orderline.orders.callers import OrderCaller
from orderline.orders.rules import RequestedLine
from orderline.orders.service import Contact
from tests.support.catalog import stock_sku
from tests.support.manual import php_merchant
from tests.support.servers import ORDERLINE

K1, K2 = os.urandom(32), os.urandom(32)


def _spec(*pairs: tuple[str, bytes]) -> str:
    return ",".join(f"{name}:{base64.b64encode(key).decode()}" for name, key in pairs)


def orderline(*args: str, database_url: str, folder: Path,
              keys: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ORDERLINE_DATABASE_URL": database_url,
           "ORDERLINE_PROOF_STORAGE_DIR": str(folder), "ORDERLINE_PROOF_MASTER_KEYS": keys}
    return subprocess.run([ORDERLINE, *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


async def test_rotate_keys_rewraps_the_business_proofs_and_reports_missing_files(
        runtime: Runtime, database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "proofs"
    runtime.put(PROOF_STORAGE, EncryptedStorage(LocalFolderStorage(folder),
                                             MasterKeys({"k1": K1}, current_id="k1")))
    shop = await php_merchant(runtime)
    await stock_sku(runtime, shop, "TEE", 5, price=125_000)
    await manual_methods.create_method(
        runtime, shop.principal, template="gcash", code=None, name=None, kind=None,
        currency=None, account_name="Juan Dela Cruz", account_number="0917", bank_name=None,
        details={}, instructions=None, channels=[], enabled=True, position=0)
    sent = []
    for n in range(2):
        order = await direct_orders.create_order(runtime, shop.principal, NewOrder(
            customer=Contact(name="M", phone=f"+63 917 000 000{n}"), channel="web",
            lines=[RequestedLine("TEE", 1)], payment_method="gcash"))
        caller = OrderCaller(business_id=shop.principal.business_id, order_id=order["id"],
                             principal=None)
        sent.append(await payment_proofs.upload(runtime, caller, draw_receipt(
            amount="1,250.00", reference=f"CLI{n}", date="Dec 02, 2026", recipient="M",
            width=300)))
    business = str(shop.principal.business_id)
    done = orderline("proofs", "rotate-keys", "--business", business,
                     database_url=database_url, folder=folder,
                     keys=_spec(("k2", K2), ("k1", K1)))
    assert done.returncode == 0, done.stderr
    assert "master key 'k2': 2 re-wrapped" in done.stdout
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert {sealed_key_id(p.read_bytes()) for p in files} == {"k2"}
    files[0].unlink()
    again = orderline("proofs", "rotate-keys", "--business", business,
                      database_url=database_url, folder=folder, keys=_spec(("k2", K2)))
    assert again.returncode == 1
    assert "1 already current, 1 missing" in again.stdout
    assert "restore them" in again.stderr
