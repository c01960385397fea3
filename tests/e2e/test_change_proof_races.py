"""A proof of transfer for a change's payment request approved while the request closes,
through four server processes on PostgreSQL (SQLite's single process serialises every writer
anyway):

- staff approving the proof (several at once) while the merchant cancels the change;
- staff approving it while the worker's sweep lapses the request at its deadline (the sweep
  runs in this process on a clock past the deadline; the servers' clock is before it).

Each round has exactly one outcome: the change applies with the transfer booked once and
its held unit sold, or the change closes with nothing booked and the unit back. The stock
ledger sums to on hand at the end."""

from __future__ import annotations

import asyncio
import base64
import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from orderline.core.runtime import Runtime
from orderline.manual_payments.files.configured import PROOF_STORAGE
from orderline.manual_payments.files.encryption import MasterKeys
from orderline.manual_payments.files.storage import EncryptedStorage, LocalFolderStorage
from orderline.order_changes import service as order_changes
from orderline.payments import store as payment_store
from tests.conftest import Merchant
from tests.e2e.conftest import api_client, ok
from tests.support.manual import manual_order, manual_shop, php_merchant, receipt_for
from tests.support.servers import running_server

pytestmark = pytest.mark.slow

TEE = 125_000
ROUNDS = 6
APPROVERS = 3
PAUSES = (0.0, 0.01, 0.03, 0.08, 0.15, 0.3)
KEY = os.urandom(32)


class Ahead:
    """The sweeper's clock: the real time moved on by ``by``."""

    def __init__(self, by: timedelta) -> None:
        self.by = by

    def now(self) -> datetime:
        return datetime.now(UTC) + self.by


async def _waiting_changes(runtime: Runtime, merchant: Merchant,
                           tag: int) -> list[dict[str, Any]]:
    """ROUNDS orders of one TEE paid by GCash, each with a change asking one more TEE (round
    r's deadline r + 1 hours away) and a proof of transfer for it waiting in the queue."""
    made = []
    async with api_client(runtime) as client:
        for r in range(ROUNDS):
            order = await manual_order(client, merchant, phone=f"+63 917 {tag}00 {r:04d}")
            buyer = {"Authorization": f"Bearer {order['access_token']}"}
            proof = ok(await client.put(f"/v1/orders/{order['id']}/payment-proof",
                                        content=receipt_for(order), headers=buyer), 201)
            ok(await client.post(f"/v1/verifications/{proof['id']}/approve",
                                 headers=merchant.headers))
            change = ok(await client.post(
                f"/v1/orders/{order['id']}/changes", headers=merchant.headers,
                json={"change": [{"sku": "TEE", "quantity": 2}],
                      "pay_within_hours": r + 1}), 201)
            told = ok(await client.get(
                f"/v1/orders/{order['id']}/changes/{change['id']}/payment-instructions",
                headers=buyer))
            sent = ok(await client.post(
                f"/v1/orders/{order['id']}/changes/{change['id']}/proofs", headers=buyer,
                content=receipt_for({"manual_payment": told}, noise=f"{tag}-{r}")), 201)
            made.append({"order": order, "change": change, "proof": sent})
    return made


async def _outcome(runtime: Runtime, api: httpx.AsyncClient, made: dict[str, Any],
                   approvals: list[httpx.Response]) -> str:
    order, change = made["order"], made["change"]
    final = (await api.get(f"/v1/orders/{order['id']}/changes/{change['id']}")).json()
    after = (await api.get(f"/v1/orders/{order['id']}")).json()
    async with runtime.db.read() as conn:
        ledger = await payment_store.movements_of_order(conn, order["id"])
    codes = Counter(a.status_code if a.status_code == 200 else a.json()["error"]["code"]
                    for a in approvals)
    if final["status"] == "applied":
        assert codes == {200: 1, "already_verified": APPROVERS - 1}, codes
        assert final["payment_request"]["paid_by"] == "proof"
        assert after["total"] == 2 * TEE
        assert [(m.kind, m.amount) for m in ledger] == [("collect", TEE), ("collect", TEE)]
        return "applied"
    assert final["status"] in ("cancelled", "lapsed"), final
    assert 200 not in codes, codes
    assert set(codes) <= {"order_change_closed", "payment_deadline_passed"}, codes
    assert after["total"] == TEE
    assert [(m.kind, m.amount) for m in ledger] == [("collect", TEE)]  # nothing booked
    proof = (await api.get(f"/v1/verifications/{made['proof']['id']}")).json()
    # Not decided: still waiting, or taken out of the queue by the change's event.
    assert proof["status"] in ("pending", "cancelled")
    return str(final["status"])


async def test_approving_a_change_proof_against_a_cancel_or_the_lapse_sweep_has_one_outcome(
        runtime: Runtime, database_url: str, tmp_path: Path) -> None:
    if runtime.db.is_sqlite:
        pytest.skip("several server processes share one database on PostgreSQL only")
    folder = tmp_path / "proofs"
    runtime.put(PROOF_STORAGE, EncryptedStorage(LocalFolderStorage(folder),
                                             MasterKeys({"race": KEY}, current_id="race")))
    merchant = await php_merchant(runtime, name="Change proof race shop")
    async with api_client(runtime) as client:
        await manual_shop(client, merchant, on_hand=4 * ROUNDS + 2)
    cancelling = await _waiting_changes(runtime, merchant, 1)
    lapsing = await _waiting_changes(runtime, merchant, 2)
    outcomes: Counter[str] = Counter()

    env = {"ORDERLINE_PROOF_STORAGE_DIR": str(folder),
           "ORDERLINE_PROOF_MASTER_KEYS": f"race:{base64.b64encode(KEY).decode()}"}
    with running_server(database_url, workers=4, extra_env=env) as base:
        limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60,
                                     headers=merchant.headers) as api:
            def approvals(made: dict[str, Any], pause: float) -> list[Any]:
                async def approve() -> httpx.Response:
                    await asyncio.sleep(pause)
                    return await api.post(f"/v1/verifications/{made['proof']['id']}/approve")
                return [approve() for _ in range(APPROVERS)]

            def pauses(r: int) -> tuple[float, float]:
                """(the approvals', the closer's): odd rounds let the closer go first."""
                return (PAUSES[r], 0.0) if r % 2 else (0.0, PAUSES[r])

            for r, made in enumerate(cancelling):
                url = (f"/v1/orders/{made['order']['id']}/changes/{made['change']['id']}"
                       "/cancel")

                async def cancel_after(pause: float, url: str = url) -> httpx.Response:
                    await asyncio.sleep(pause)
                    return await api.post(url)

                first, then = pauses(r)
                *approved, cancelled = await asyncio.gather(*approvals(made, first),
                                                            cancel_after(then))
                outcome = await _outcome(runtime, api, made, approved)
                outcomes[outcome] += 1
                if outcome == "applied":
                    assert cancelled.status_code == 409, cancelled.text
                    assert cancelled.json()["error"]["code"] == "order_change_closed"
                else:
                    assert cancelled.status_code == 200, cancelled.text

            for r, made in enumerate(lapsing):
                # Past round r's deadline, before round r + 1's.
                runtime.clock = Ahead(timedelta(hours=r + 1, minutes=1))

                async def sweep_after(pause: float) -> int:
                    await asyncio.sleep(pause)
                    return await order_changes.lapse_due_requests(runtime)

                first, then = pauses(r)
                *approved, _ = await asyncio.gather(*approvals(made, first), sweep_after(then))
                outcomes[await _outcome(runtime, api, made, approved)] += 1

            tee = (await api.get("/v1/inventory/TEE")).json()
            report = (await api.get("/v1/inventory/reconciliation")).json()
    assert sum(outcomes.values()) == 2 * ROUNDS
    assert set(outcomes) <= {"applied", "cancelled", "lapsed"}
    # Each order sold one TEE, each applied change one more; nothing stays held.
    assert tee["on_hand"] == 4 * ROUNDS + 2 - 2 * ROUNDS - outcomes["applied"]
    assert tee["reserved"] == 0
    assert report["balanced"] and report["drift"] == [], report
