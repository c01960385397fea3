"""Staff deciding payment proofs at the same moment through four server processes on
PostgreSQL (the production database; SQLite's single process serialises every writer anyway),
and two buyers sending one receipt at once."""

from __future__ import annotations

import asyncio
import base64
import os
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from orderline.core.runtime import Runtime
from orderline.manual_payments.files.configured import PROOF_STORAGE
from orderline.manual_payments.files.encryption import MasterKeys
from orderline.manual_payments.files.storage import EncryptedStorage, LocalFolderStorage
from orderline.payments import store as payment_store
from tests.e2e.conftest import api_client, levels, ok
from tests.support.manual import manual_order, manual_shop, php_merchant, receipt_for
from tests.support.servers import running_server

pytestmark = pytest.mark.slow

PROOFS = 8
STAFF = 6  # three approve and three reject each proof, all at once
KEY = os.urandom(32)


async def test_staff_racing_on_each_proof_through_four_servers_give_one_decision_each(
        runtime: Runtime, database_url: str, tmp_path: Path) -> None:
    if runtime.db.is_sqlite:
        pytest.skip("several server processes share one database on PostgreSQL only")
    folder = tmp_path / "proofs"
    runtime.put(PROOF_STORAGE, EncryptedStorage(LocalFolderStorage(folder),
                                             MasterKeys({"race": KEY}, current_id="race")))
    merchant = await php_merchant(runtime, name="Proof race shop")
    async with api_client(runtime) as client:
        await manual_shop(client, merchant, on_hand=PROOFS + 2)
        placed, proofs = [], []
        for n in range(PROOFS):
            order = await manual_order(client, merchant, phone=f"+63 917 000 {n:04d}")
            placed.append(order)
            proofs.append(ok(await client.put(
                f"/v1/orders/{order['id']}/payment-proof", content=receipt_for(order),
                headers={"Authorization": f"Bearer {order['access_token']}"}), 201))
        twin = [await manual_order(client, merchant, phone=f"+63 917 100 {n:04d}")
                for n in range(2)]

    env = {"ORDERLINE_PROOF_STORAGE_DIR": str(folder),
           "ORDERLINE_PROOF_MASTER_KEYS": f"race:{base64.b64encode(KEY).decode()}"}
    with running_server(database_url, workers=4, extra_env=env) as base:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60,
                                     headers=merchant.headers) as http:
            def decide(proof: dict[str, Any], i: int) -> Any:
                if i % 2 == 0:
                    return http.post(f"/v1/verifications/{proof['id']}/approve")
                return http.post(f"/v1/verifications/{proof['id']}/reject",
                                 json={"reason": "not in our account"})

            answers = await asyncio.gather(*(decide(p, i) for p in proofs
                                             for i in range(STAFF)))
            receipt = receipt_for(twin[0], noise="one receipt for two orders")
            sends = await asyncio.gather(*(
                http.put(f"/v1/orders/{o['id']}/payment-proof", content=receipt,
                         headers={"Authorization": f"Bearer {o['access_token']}"})
                for o in twin))

    by_proof = [answers[i * STAFF:(i + 1) * STAFF] for i in range(PROOFS)]
    approved = 0
    for order, group in zip(placed, by_proof, strict=True):
        codes = Counter(a.status_code if a.status_code == 200 else a.json()["error"]["code"]
                        for a in group)
        assert codes == {200: 1, "already_verified": STAFF - 1}, codes
        winner = next(a.json() for a in group if a.status_code == 200)
        async with runtime.db.read() as conn:
            ledger = await payment_store.movements_of_order(conn, order["id"])
        if winner["status"] == "approved":
            approved += 1
            assert [(m.kind, m.amount) for m in ledger] == [("collect", order["total"])]
        else:
            assert ledger == []
    async with api_client(runtime) as client:
        on_hand, reserved, _ = await levels(client, merchant, "TEE")
    assert on_hand == PROOFS + 2 - approved  # each approval sold its unit, once
    assert reserved == PROOFS - approved + 2  # rejected ones still held, and the twins
    assert sorted(s.status_code for s in sends) == [201, 409]
    assert next(s for s in sends if s.status_code == 409).json()["error"]["code"] == \
        "duplicate_proof"
