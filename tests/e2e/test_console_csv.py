"""The console's CSV downloads and uploads: over HTTP (the real app over ASGI, on each
database) for what each role may do and what lands in the stock and the ledger, and one browser
journey (Chromium against a real ``orderline serve``) through a refused and then an accepted
stock file, checked with axe on a laptop and at 375 px."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import httpx
import pytest

from orderline.catalog import inventory
from orderline.core.runtime import Runtime
from tests.e2e.test_console_stock_pages import BASE, Shop, login_of, mug_shop, stock_of
from tests.support.browser import (  # noqa: F401 (the browser fixture)
    PHONE,
    BrowserPage,
    Browsing,
    browser_fixture,
)
from tests.support.console import (  # noqa: F401 (the console_server fixture)
    async_console_client,
    console_server_fixture,
    log_in_fast,
)

WAIT = 30_000  # ms: a generous cap on waiting for a condition, never a timing assertion
DOWNLOADS = ("/console/orders.csv", "/console/order-lines.csv", "/console/customers.csv",
             "/console/stock-movements.csv")


@pytest.fixture
async def shop(runtime: Runtime) -> Shop:
    return await mug_shop(runtime, roles=("viewer", "verifier"))


@pytest.fixture
def transport(runtime: Runtime) -> httpx.ASGITransport:
    from orderline.api.app import create_app
    app = create_app(runtime=runtime)
    app.state.runtime = runtime
    return httpx.ASGITransport(app=app)


def rows_of(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


async def test_the_order_list_downloads_what_its_filters_show(
        transport: httpx.ASGITransport, shop: Shop) -> None:
    async with async_console_client(transport, BASE, shop.console.owner_login) as owner:
        page = await owner.get("/console/orders", params={"q": "siti", "status": "cancelled"})
        link = re.search(r'href="(/console/orders\.csv\?[^"]*)"', page.text)
        assert link is not None
        assert "q=siti" in link.group(1) and "status=cancelled" in link.group(1)
        assert rows_of(await owner.get(link.group(1).replace("&amp;", "&"))) == []
        found = rows_of(await owner.get("/console/orders.csv", params={"q": "siti"}))
        lines = rows_of(await owner.get("/console/order-lines.csv"))
        people = rows_of(await owner.get("/console/customers.csv", params={"q": "siti"}))
        ledger = rows_of(await owner.get("/console/stock-movements.csv",
                                         params={"sku": "MUG-BLUE"}))

    assert [(r["customer_name"], r["total"], r["currency"]) for r in found] == [
        ("Siti Rahma", "12.00", "USD")]
    assert [(r["sku"], r["quantity"]) for r in lines] == [("MUG-RED", "1")]
    assert [r["phone"] for r in people] == ["'+62 812 5550 1234"]  # not a formula
    assert [(r["sku"], r["delta"]) for r in ledger] == [("MUG-BLUE", "2")]


async def test_who_may_download_and_import_and_another_shop_sees_none_of_it(
        transport: httpx.ASGITransport, runtime: Runtime, shop: Shop) -> None:
    rival = await mug_shop(runtime)
    viewer_login = await login_of(runtime, shop, "viewer")
    verifier_login = await login_of(runtime, shop, "verifier")
    stock_file = {"file": ("s.csv", b"sku,on_hand\r\nMUG-RED,99\r\n", "text/csv")}
    async with async_console_client(transport, BASE, viewer_login) as viewer:
        for url in DOWNLOADS:
            assert (await viewer.get(url)).status_code == 200, url
        stock_page = (await viewer.get("/console/stock")).text
        assert "/console/stock-import" not in stock_page
        assert "/console/stock-movements.csv" in stock_page
        for url in ("/console/stock-import", "/console/catalog-import"):
            assert (await viewer.get(url)).status_code == 403, url
            assert (await viewer.post(url, files=stock_file)).status_code == 403, url
    async with async_console_client(transport, BASE, verifier_login) as verifier:
        for url in (*DOWNLOADS, "/console/stock-import"):
            assert (await verifier.get(url)).status_code == 403, url
    async with async_console_client(transport, BASE, shop.console.owner_login) as owner:
        owner.headers.pop("X-CSRF-Token")
        assert (await owner.post("/console/stock-import", files=stock_file)).status_code == 403
    async with async_console_client(transport, BASE, rival.console.owner_login) as other:
        for url in DOWNLOADS:  # (the rival has a Siti Rahma of its own)
            text = (await other.get(url)).text
            assert str(shop.order_id) not in text and str(shop.customer_id) not in text, url
        seen = rows_of(await other.get("/console/orders.csv"))
        assert [r["order_id"] for r in seen] == [str(rival.order_id)]
    assert await stock_of(runtime, shop, "MUG-RED") == 10


async def test_a_stock_file_is_refused_row_by_row_then_checked_then_imported(
        transport: httpx.ASGITransport, runtime: Runtime, shop: Shop) -> None:
    bad = b"sku,on_hand\r\nMUG-RED,12\r\nMUG-GREEN,3\r\nMUG-BLUE,many\r\n"
    good = b"sku,on_hand,note\r\nMUG-RED,12,delivery\r\nMUG-BLUE,2,\r\n"
    async with async_console_client(transport, BASE, shop.console.owner_login) as owner:
        form = await owner.get("/console/stock-import")
        assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text
        refused = await owner.post("/console/stock-import",
                                   files={"file": ("s.csv", bad, "text/csv")})
        checked = await owner.post("/console/stock-import", data={"dry_run": "true"},
                                   files={"file": ("s.csv", good, "text/csv")})
        after_check = await stock_of(runtime, shop, "MUG-RED")
        done = await owner.post("/console/stock-import",
                                files={"file": ("s.csv", good, "text/csv")})
        not_utf8 = await owner.post("/console/stock-import", files={
            "file": ("s.csv", "sku,on_hand\r\nMUG-RÉD,1\r\n".encode("latin-1"), "text/csv")})

    assert refused.status_code == 422
    problems = re.findall(r'<td class="number">(\d+)</td>\s*<td>([^<]*)</td>', refused.text)
    assert problems == [("3", "sku"), ("4", "on_hand")]  # every bad row at once
    assert "Your shop has no such SKU" in refused.text
    assert checked.status_code == 200 and "Nothing was changed yet" in checked.text
    assert after_check == 10
    assert done.status_code == 200 and "File imported. Rows: 2; changed: 1." in done.text
    assert await stock_of(runtime, shop, "MUG-RED") == 12
    moved = await inventory.list_movements(runtime, shop.console.owner_login.principal,
                                           sku="MUG-RED", before_id=None, limit=5)
    assert (moved[0]["reason"], moved[0]["delta"], moved[0]["note"]) == ("import", 2,
                                                                         "delivery")
    assert not_utf8.status_code == 422 and "CSV UTF-8" in not_utf8.text


async def test_a_variant_file_adds_a_variant_from_the_catalog_page(
        transport: httpx.ASGITransport, runtime: Runtime, shop: Shop) -> None:
    body = b"sku,product,name,price\r\nMUG-GREEN,Enamel mug,Green,13.00\r\n"
    async with async_console_client(transport, BASE, shop.console.owner_login) as owner:
        assert "/console/catalog-import" in (await owner.get("/console/catalog")).text
        done = await owner.post("/console/catalog-import",
                                files={"file": ("v.csv", body, "text/csv")})
        product = await owner.get(f"/console/catalog/{shop.product_id}")
    assert done.status_code == 200 and "New variant" in done.text
    assert "MUG-GREEN" in product.text


@pytest.mark.slow
def test_an_owner_fixes_a_refused_stock_file_in_the_browser(
        shop: Shop, console_server: str, browser: Browsing, tmp_path: Path) -> None:
    bad, good = tmp_path / "bad.csv", tmp_path / "good.csv"
    bad.write_bytes(b"sku,on_hand\r\nMUG-RED,x\r\nNOPE,1\r\n")
    good.write_bytes(b"sku,on_hand\r\nMUG-RED,11\r\n")
    for viewport, name in ((None, "laptop"), (PHONE, "phone")):
        page = browser.open(console_server, viewport=viewport) if viewport else \
            browser.open(console_server)
        log_in_fast(page, shop.console.owner_login)
        p = page.page
        page.goto("/console/stock")
        p.get_by_role("button", name="Import stock levels").click()
        p.get_by_role("heading", name="Import stock levels", level=1).wait_for(timeout=WAIT)
        p.get_by_label("CSV file").set_input_files(str(bad))
        p.get_by_role("button", name="Upload").click()
        p.get_by_text("Rows to fix").wait_for(timeout=WAIT)
        assert p.locator(".error-summary").is_visible()
        page.screenshot(f"{name}-refused")
        page.check_accessibility()
        width = p.evaluate("document.documentElement.scrollWidth")
        assert viewport is None or width <= PHONE["width"]
        p.get_by_label("CSV file").set_input_files(str(good))
        p.get_by_role("button", name="Upload").click()
        p.get_by_text("What the file changed").wait_for(timeout=WAIT)
        page.screenshot(f"{name}-imported")
        page.check_accessibility()
        page.assert_clean()
