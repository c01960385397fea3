"""CSV exports and imports over HTTP, on both databases: what an accountant's spreadsheet or a
warehouse's stock file sees and sends.

Exports are read back as a spreadsheet would (UTF-8 with its byte-order mark, then CSV); the
page size is set to 2 so every export here spans several keyset pages. Imports are checked by
what the API then says about stock, variants and the stock ledger; on PostgreSQL, imports race
orders through four ``orderline serve`` processes.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from orderline.catalog import import_rules
from orderline.core.runtime import Runtime
from orderline.exports import service as exports
from orderline.payments.providers.configured import providers_of
from orderline.payments.providers.sandbox import SandboxGateway
from tests.conftest import Merchant, new_merchant
from tests.e2e.conftest import (
    add_product,
    balanced,
    error_of,
    levels,
    movements,
    ok,
    place_order,
)
from tests.e2e.test_api_scopes import key_with
from tests.support.catalog import stock_sku
from tests.support.servers import running_server

SANDBOX_SECRET = "whsec_e2e_csv"


@pytest.fixture(autouse=True)
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two rows per page: every export below is read in several batches."""
    monkeypatch.setattr(exports, "EXPORT_BATCH", 2)


def table(response: httpx.Response) -> list[dict[str, str]]:
    """The CSV answer as a spreadsheet reads it: checked to be UTF-8 with a byte-order mark."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.content.startswith("\ufeff".encode())
    text = response.content.decode("utf-8").removeprefix("\ufeff")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def csv_file(*rows: str) -> bytes:
    return ("\r\n".join(rows) + "\r\n").encode()


async def export(client: httpx.AsyncClient, merchant: Merchant, name: str,
                 **params: Any) -> list[dict[str, str]]:
    return table(await client.get(f"/v1/exports/{name}", headers=merchant.headers,
                                  params=params))


# --- exports -----------------------------------------------------------------------------------

async def test_the_orders_export_has_every_filtered_order_across_pages_with_its_money(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 50, price=1250)
    placed = [await place_order(client, merchant, ("MUG", n), name=f"Buyer {n}")
              for n in range(1, 6)]
    for order in placed[:2]:
        ok(await client.delete(f"/v1/orders/{order['id']}", headers=merchant.headers))

    everything = await export(client, merchant, "orders.csv")
    pending = await export(client, merchant, "orders.csv", status="pending_payment")
    lines = await export(client, merchant, "order-lines.csv", status="pending_payment")

    assert [r["number"] for r in everything] == [o["number"] for o in reversed(placed)]
    assert [r["customer_name"] for r in pending] == ["Buyer 5", "Buyer 4", "Buyer 3"]
    fifth = pending[0]
    assert (fifth["currency"], fifth["total_minor"], fifth["total"]) == ("USD", "6250", "62.50")
    assert fifth["order_id"] == placed[4]["id"] and fifth["status"] == "pending_payment"
    assert [(r["number"], r["sku"], r["quantity"], r["unit_price"]) for r in lines] == [
        (placed[n]["number"], "MUG", str(n + 1), "12.50") for n in (4, 3, 2)]
    one = await export(client, merchant, "orders.csv", q=placed[3]["number"])
    assert [r["number"] for r in one] == [placed[3]["number"]]


async def test_names_in_any_script_come_out_whole_and_formulas_come_out_as_text(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "TEA", 20)
    names = ["=HYPERLINK(\"http://evil.test\",\"Click\")", "สมชาย ใจดี", "Nguyễn Văn Ánh",
             "+6281234", "@SUM(A1:A2)", "-2+3"]
    for name in names:
        await place_order(client, merchant, ("TEA", 1), name=name, phone=None,
                          email=f"{len(name)}x@example.com")

    rows = await export(client, merchant, "customers.csv")
    orders = await export(client, merchant, "orders.csv")

    assert sorted(r["name"] for r in rows) == sorted([
        "'=HYPERLINK(\"http://evil.test\",\"Click\")", "สมชาย ใจดี", "Nguyễn Văn Ánh",
        "'+6281234", "'@SUM(A1:A2)", "'-2+3"])
    assert {r["customer_name"] for r in orders} == {r["name"] for r in rows}
    assert all(r["orders_placed"] == "1" and r["currency"] == "USD" for r in rows)
    assert not any(cell.startswith(("=", "+", "@", "-")) for r in orders for cell in r.values())


async def test_the_payment_ledger_export_has_each_entry_of_each_card_payment(
        client: httpx.AsyncClient, runtime: Runtime, merchant: Merchant,
        rival: Merchant) -> None:
    async def deliver(headers: dict[str, str], body: bytes) -> None:
        answer = await client.post("/v1/payments/webhooks/sandbox", headers=headers,
                                   content=body)
        assert answer.status_code == 200, answer.text

    gateway = SandboxGateway(secret=SANDBOX_SECRET, deliver=deliver, db=runtime.db)
    providers_of(runtime)["sandbox"] = gateway
    await add_product(client, merchant, "CUP", 10, price=750)
    paid = []
    for _ in range(2):
        order = await place_order(client, merchant, ("CUP", 2))
        ok(await client.post(f"/v1/orders/{order['id']}/payments", headers=merchant.headers,
                             json={"provider": "sandbox", "payment_method": "pm_card_visa"}),
           201)
        paid.append(order)
    await gateway.wait_for_deliveries()

    ledger = await export(client, merchant, "payments.csv")
    captures = await export(client, merchant, "payments.csv", kind="capture")

    assert sorted((r["order_number"], r["kind"], r["amount_minor"], r["amount"])
                  for r in ledger) == sorted(
        (o["number"], kind, "1500", "15.00") for o in paid for kind in ("authorize", "capture"))
    assert [r["order_id"] for r in captures] == [paid[1]["id"], paid[0]["id"]]
    assert {r["provider"] for r in ledger} == {"sandbox"}
    assert await export(client, rival, "payments.csv") == []  # another business's: none


async def test_the_stock_ledger_export_is_the_ledger_of_the_business_or_of_one_sku(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "PEN", 5)
    await add_product(client, merchant, "INK", 7)
    await place_order(client, merchant, ("PEN", 1))
    ok(await client.post("/v1/inventory/adjustments", headers=merchant.headers,
                         json={"sku": "PEN", "delta": -2, "reason": "damage",
                               "note": "=cmd|' /C calc'!A0"}))

    pen = await export(client, merchant, "stock-movements.csv", sku="PEN")
    every = await export(client, merchant, "stock-movements.csv")

    assert [(r["sku"], r["delta"], r["reason"], r["note"]) for r in pen] == [
        ("PEN", "-2", "damage", "'=cmd|' /C calc'!A0"), ("PEN", "5", "receipt", "initial stock")]
    assert [r["movement_id"] for r in every] == [str(m["id"]) for m in
                                                 await movements(client, merchant)]
    assert {r["sku"] for r in every} == {"PEN", "INK"}
    error_of(await client.get("/v1/exports/stock-movements.csv", headers=merchant.headers,
                              params={"sku": "NOPE"}), 404, "not_found")


async def test_a_business_exports_only_its_own_rows(
        client: httpx.AsyncClient, merchant: Merchant, rival: Merchant) -> None:
    await add_product(client, merchant, "A-ONLY", 5)
    order = await place_order(client, merchant, ("A-ONLY", 1), name="Alice Aonly")
    await add_product(client, rival, "B-ONLY", 5)
    await place_order(client, rival, ("B-ONLY", 1), name="Bob Bonly")

    for name in ("orders.csv", "order-lines.csv", "customers.csv", "payments.csv",
                 "stock-movements.csv"):
        answer = await client.get(f"/v1/exports/{name}", headers=rival.headers)
        text = answer.content.decode()
        assert answer.status_code == 200 and "A-ONLY" not in text and "Aonly" not in text
        assert order["id"] not in text and order["customer"]["id"] not in text
    assert [r["customer_name"] for r in await export(client, rival, "orders.csv")] == [
        "Bob Bonly"]
    error_of(await client.get("/v1/exports/stock-movements.csv", headers=rival.headers,
                              params={"sku": "A-ONLY"}), 404, "not_found")


EXPORTS = ("orders.csv", "order-lines.csv", "customers.csv", "payments.csv",
           "stock-movements.csv")


async def test_exports_need_the_read_scope_and_imports_the_write_scope(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "S-1", 4)
    verifier = await key_with(client, merchant, "verify")
    reader = await key_with(client, merchant, "read")

    for name in EXPORTS:
        details = error_of(await client.get(f"/v1/exports/{name}", headers=verifier),
                           403, "forbidden")
        assert details["required_scope"] == "read"
        assert (await client.get(f"/v1/exports/{name}", headers=reader)).status_code == 200
        error_of(await client.get(f"/v1/exports/{name}"), 401, "unauthorized")
    for kind, body in (("stock", csv_file("sku,on_hand", "S-1,9")),
                       ("variants", csv_file("sku,price_minor", "S-1,1"))):
        details = error_of(await client.post(f"/v1/imports/{kind}", headers=reader,
                                             content=body), 403, "forbidden")
        assert details["required_scope"] == "write"
    assert await levels(client, merchant, "S-1") == (4, 0, 4)


# --- imports -----------------------------------------------------------------------------------

async def test_a_stock_file_sets_each_level_with_one_import_movement_per_changed_row(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "RED", 3)
    await add_product(client, merchant, "BLUE", 8)
    ok(await client.post("/v1/locations", headers=merchant.headers,
                         json={"code": "shop", "name": "The shop"}), 201)
    body = csv_file("\ufeffSKU,On_Hand,Location,Note", "RED,10,,delivery 7", "BLUE,8,,",
                    "BLUE,4,shop,first count")

    done = ok(await client.post("/v1/imports/stock", headers=merchant.headers,
                                files={"file": ("stock.csv", body, "text/csv")}))
    again = ok(await client.post("/v1/imports/stock", headers=merchant.headers, content=body))

    assert (done["rows"], done["changed"], done["dry_run"]) == (3, 2, False)
    assert [(c["row"], c["sku"], c["location"], c["delta"]) for c in done["changes"]] == [
        (2, "RED", "main", 7), (3, "BLUE", "main", 0), (4, "BLUE", "shop", 4)]
    assert again["changed"] == 0
    assert await levels(client, merchant, "RED") == (10, 0, 10)
    assert await levels(client, merchant, "BLUE") == (12, 0, 12)
    imported = [(m["sku"], m["location"], m["delta"], m["note"])
                for m in await movements(client, merchant) if m["reason"] == "import"]
    assert sorted(imported) == [("BLUE", "shop", 4, "first count"),
                                ("RED", "main", 7, "delivery 7")]
    assert await balanced(client, merchant)


async def test_a_dry_run_answers_what_would_change_and_changes_nothing(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "DRY", 3)
    answer = ok(await client.post("/v1/imports/stock", headers=merchant.headers,
                                  params={"dry_run": "true"},
                                  content=csv_file("sku,on_hand", "DRY,9")))
    assert answer["dry_run"] is True and answer["changes"][0]["on_hand_after"] == 9
    assert await levels(client, merchant, "DRY") == (3, 0, 3)
    assert [m["reason"] for m in await movements(client, merchant, "DRY")] == ["receipt"]


async def test_a_file_with_bad_rows_is_refused_whole_with_every_bad_row_and_nothing_changes(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "OK-1", 5)
    await add_product(client, merchant, "HELD", 5)
    await place_order(client, merchant, ("HELD", 4))
    body = csv_file("sku,on_hand,location", "OK-1,50,", "NOPE,3,", "OK-1,-2,", "OK-1,x,",
                    "HELD,2,", "OK-1,1,nowhere", ",4,", "OK-1,7,,extra")

    details = error_of(await client.post("/v1/imports/stock", headers=merchant.headers,
                                         content=body), 422, "import_rejected")

    # What the file says and what only the database knows, every bad row at once.
    assert [(r["row"], r["column"], r["reason"]) for r in details["rows"]] == [
        (3, "sku", "unknown_sku"), (4, "on_hand", "not_a_whole_number"),
        (4, "sku", "duplicate"), (5, "on_hand", "not_a_whole_number"),
        (5, "sku", "duplicate"), (6, "on_hand", "below_reserved"),
        (7, "location", "unknown_location"), (8, "sku", "missing"),
        (9, "", "too_many_cells"), (9, "sku", "duplicate")]
    assert all(r["message"] for r in details["rows"])
    assert await levels(client, merchant, "OK-1") == (5, 0, 5)
    assert await levels(client, merchant, "HELD") == (5, 4, 1)
    assert not [m for m in await movements(client, merchant) if m["reason"] == "import"]


async def test_files_too_large_too_long_or_not_utf8_are_refused_with_their_codes(
        client: httpx.AsyncClient, merchant: Merchant, monkeypatch: pytest.MonkeyPatch) -> None:
    await add_product(client, merchant, "BIG", 1)
    post = client.post
    huge = b"sku,on_hand\r\n" + b"BIG,1\r\n" * (import_rules.MAX_IMPORT_BYTES // 7 + 10)
    details = error_of(await post("/v1/imports/stock", headers=merchant.headers, content=huge),
                       413, "import_too_large")
    assert details["max_bytes"] >= import_rules.MAX_IMPORT_BYTES
    monkeypatch.setattr(import_rules, "MAX_IMPORT_ROWS", 3)
    details = error_of(await post("/v1/imports/stock", headers=merchant.headers,
                                  content=csv_file("sku,on_hand", *["BIG,2"] * 4)),
                       422, "import_too_many_rows")
    assert details["max_rows"] == 3
    thai_874 = "sku,on_hand,note\r\nBIG,2,สินค้า\r\n".encode("cp874")
    details = error_of(await post("/v1/imports/stock", headers=merchant.headers,
                                  content=thai_874), 422, "import_unreadable")
    assert details["reason"] == "not_utf8"
    details = error_of(await post("/v1/imports/stock", headers=merchant.headers,
                                  content=b"sku;on_hand\r\nBIG;2\r\n"), 422, "import_unreadable")
    assert details["missing"] == ["sku", "on_hand"]
    error_of(await post("/v1/imports/stock", headers=merchant.headers, content=b""),
             422, "import_unreadable")
    assert await levels(client, merchant, "BIG") == (1, 0, 1)


async def test_a_variant_file_creates_new_skus_and_changes_existing_ones(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    product = await add_product(client, merchant, "SHIRT-S", 2, price=1000)
    body = csv_file("sku,product,name,price,low_stock_threshold",
                    "SHIRT-S,,,12.50,3", "SHIRT-M,Product SHIRT-S,Shirt M,12.50,",
                    "HAT-1,Hats,Sun hat,'=9,", "HAT-2,Hats,Rain hat,8,")

    refused = error_of(await client.post("/v1/imports/variants", headers=merchant.headers,
                                         content=body), 422, "import_rejected")
    assert [(r["row"], r["column"], r["reason"]) for r in refused["rows"]] == [
        (4, "price", "invalid_price")]
    body = body.replace(b"'=9", b"9")
    keyed = {**merchant.headers, "Idempotency-Key": "variants-1"}
    done = ok(await client.post("/v1/imports/variants", headers=keyed, content=body))
    assert ok(await client.post("/v1/imports/variants", headers=keyed, content=body)) == done
    error_of(await client.post("/v1/imports/variants", headers=keyed, content=body + b"X,,,,\r\n"),
             422, "idempotency_key_reused")

    assert [(c["sku"], c["action"]) for c in done["changes"]] == [
        ("SHIRT-S", "updated"), ("SHIRT-M", "created"), ("HAT-1", "created"),
        ("HAT-2", "created")]
    shirts = ok(await client.get(f"/v1/products/{product['id']}", headers=merchant.headers))
    assert sorted((v["sku"], v["price_minor"]) for v in shirts["variants"]) == [
        ("SHIRT-M", 1250), ("SHIRT-S", 1250)]
    hats = ok(await client.get("/v1/products", headers=merchant.headers,
                               params={"q": "HAT"}))["data"]
    assert [(p["name"], len(p["variants"])) for p in hats] == [("Hats", 2)]
    again = ok(await client.post("/v1/imports/variants", headers=merchant.headers,
                                 content=body))
    assert again["changed"] == 0
    new_sku = csv_file("sku,name", "SOCK-1,Sock")
    refused = error_of(await client.post("/v1/imports/variants", headers=merchant.headers,
                                         content=new_sku), 422, "import_rejected")
    assert {(r["column"], r["reason"]) for r in refused["rows"]} == {
        ("product", "needed_for_new_sku"), ("price", "needed_for_new_sku")}


@pytest.fixture(scope="module")
def four_servers(database_url: str, shared_db: Any) -> Iterator[str]:
    """``orderline serve --workers 4`` on PostgreSQL: requests land in four processes."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite runs one writer at a time: the race is PostgreSQL's")
    with running_server(database_url, workers=4) as base:
        yield base


@pytest.mark.slow
async def test_imports_racing_orders_in_four_processes_never_leave_less_on_hand_than_held(
        runtime: Runtime, four_servers: str) -> None:
    merchant = await new_merchant(runtime)
    await stock_sku(runtime, merchant, "LAST", 10)
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(base_url=four_servers, headers=merchant.headers,
                                 limits=limits, timeout=60) as http:
        async def buy(n: int) -> int:
            answer = await http.post("/v1/orders", json={
                "customer": {"name": f"Racer {n}", "phone": f"+1 555 {n:04d}"}, "channel": "web",
                "payment_method": "card", "lines": [{"sku": "LAST", "quantity": 1}]})
            assert answer.status_code in (201, 409), answer.text
            return answer.status_code

        async def count(to: int) -> str:
            answer = await http.post("/v1/imports/stock",
                                     content=csv_file("sku,on_hand", f"LAST,{to}"))
            if answer.status_code == 200:
                return "set"
            assert answer.status_code == 422, answer.text
            (problem,) = answer.json()["error"]["details"]["rows"]
            assert problem["reason"] == "below_reserved"
            return problem["reason"]

        placed = 0
        outcomes: Counter[str] = Counter()
        for counts in ((4, 3, 8, 2), (6, 1, 5, 9), (3, 7, 2, 4)):
            results = await asyncio.gather(*(buy(n) for n in range(6)),
                                           *(count(to) for to in counts))
            placed += sum(1 for r in results[:6] if r == 201)
            outcomes.update(str(r) for r in results)
            level = ok(await http.get("/v1/inventory/LAST"))
            assert level["on_hand"] >= level["reserved"] == placed
            assert level["available"] >= 0
        report = ok(await http.get("/v1/inventory/reconciliation"))
    assert report["balanced"] and report["drift"] == []
    assert outcomes["201"] > 0 and outcomes["set"] > 0, outcomes  # both sides took part
