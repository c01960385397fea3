"""The queue ``orderline bench verifications`` measures: a few proofs through the services, the
rest copied in SQL. A copied proof must be a proof the product can work with (its order, its
manual payment, its file), or the bench measures a queue no merchant has. On a PostgreSQL
database of its own."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr

from orderline.bench.verification_queue import open_verification_queue
from orderline.core.config import Settings
from orderline.core.runtime import Runtime
from orderline.manual_payments import verifications
from orderline.manual_payments.proof_store import QueueFilter
from orderline.tenancy import service as tenancy
from tests.conftest import IN_CI
from tests.support import postgres

pytestmark = pytest.mark.slow


@pytest.fixture
def own_database_url() -> Iterator[str]:
    with postgres.own_database(in_ci=IN_CI) as url:
        yield url


@pytest.fixture
async def own_database(own_database_url: str, tmp_path: Path
                       ) -> AsyncIterator[tuple[Runtime, asyncpg.Connection]]:
    key = base64.b64encode(bytes(range(32))).decode()
    async with postgres.migrated_runtime(Settings(
            database_url=own_database_url, proof_storage_dir=tmp_path / "proofs",
            proof_master_keys=SecretStr(f"bench:{key}"))) as opened:
        yield opened


async def test_copied_proofs_wait_in_the_queue_with_their_orders_payments_and_files(
        own_database: tuple[Runtime, asyncpg.Connection]) -> None:
    runtime, monitor = own_database
    said: list[str] = []
    queue = await open_verification_queue(runtime, monitor, proofs=230, decisions=3,
                                          uploads=2, say=said.append)

    b = queue.business_id
    assert queue.pending == 230 and queue.templates == 20
    assert any("copied 207 of 207" in line for line in said)
    assert await monitor.fetchval("SELECT count(*) FROM payment_proofs WHERE business_id = $1 "
                                  "AND status = 'pending'", b) == 230
    # Each pending proof has its own order awaiting payment and that order's manual payment,
    # in review, and the order's history says the proof came.
    assert await monitor.fetchval(
        "SELECT count(*) FROM payment_proofs p JOIN orders o ON o.id = p.order_id "
        "JOIN manual_payments m ON m.id = p.manual_payment_id AND m.order_id = o.id "
        "WHERE p.business_id = $1 AND p.status = 'pending' AND o.status = 'pending_payment' "
        "AND m.status = 'in_review' AND o.business_id = $1 AND m.business_id = $1", b) == 230
    assert await monitor.fetchval(
        "SELECT count(DISTINCT order_id) FROM payment_proofs WHERE business_id = $1", b) == 230
    assert await monitor.fetchval(
        "SELECT count(*) FROM payment_proofs p WHERE business_id = $1 AND NOT EXISTS "
        "(SELECT 1 FROM order_events e WHERE e.order_id = p.order_id "
        "AND e.action = 'payment_proof_submitted')", b) == 0
    assert await monitor.fetchval(
        "SELECT count(*) FROM payment_proofs p WHERE business_id = $1 AND NOT EXISTS "
        "(SELECT 1 FROM verification_audit a WHERE a.proof_id = p.id "
        "AND a.action = 'submitted')", b) == 0
    assert await monitor.fetchval(
        "SELECT count(*) FROM orders o WHERE business_id = $1 AND NOT EXISTS "
        "(SELECT 1 FROM order_lines l WHERE l.order_id = o.id)", b) == 0
    # Copies spread back over two days; every proof has a stored file and none waits for OCR
    # but the ones sent through the services.
    hours = await monitor.fetchval(
        "SELECT extract(epoch FROM max(uploaded_at) - min(uploaded_at)) / 3600 "
        "FROM payment_proofs WHERE business_id = $1", b)
    assert 40 < hours < 49
    assert await monitor.fetchval("SELECT count(*) FROM payment_proofs WHERE business_id = $1 "
                                  "AND storage_key IS NULL", b) == 0
    assert await monitor.fetchval("SELECT count(*) FROM payment_proofs WHERE business_id = $1 "
                                  "AND ocr_status = 'pending'", b) == 20 + 3

    # The product lists every one, oldest first, and opens a copy's file.
    principal = await tenancy.authenticate(runtime, queue.api_key)
    listed = await verifications.list_queue(runtime, principal, QueueFilter(), after=None,
                                            limit=1000)
    assert len(listed) == 230
    assert [p["uploaded_at"] for p in listed] == sorted(p["uploaded_at"] for p in listed)
    assert {p["order"]["status"] for p in listed} == {"pending_payment"}
    assert [p["id"] for p in listed[-3:]] == [o.proof_id for o in queue.to_decide]
    copy = listed[0]
    assert copy["order"]["number"].startswith("V")
    content, media_type = await verifications.proof_file(runtime, principal, copy["id"])
    assert media_type == "image/png" and len(content) > 1000
    # The orders to decide and to upload to are the buyers' own, with their tokens.
    assert len(queue.to_upload) == 2 and all(o.proof_id is None for o in queue.to_upload)
    assert all(o.access_token.startswith("oat_") for o in queue.to_decide + queue.to_upload)
