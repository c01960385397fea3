"""The verification figures page and the console as an installable app, in Chromium against
a real ``orderline serve`` on SQLite and PostgreSQL: the charts drawn, the table with the
right numbers, the period switch, axe at desktop width and at 375 px; the manifest and its
icons, the service worker registered, and the offline page shown when the browser goes
offline, without any console page or proof in the worker's cache. Screenshots are in
``test-artifacts/screenshots/<test>/``.

The proofs are sent and decided by the test's process on a manual clock, the day before
yesterday and yesterday (UTC), so the server (on the real clock) reads known figures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from orderline.api.app import create_app
from orderline.core.clock import ManualClock
from orderline.core.runtime import Runtime
from orderline.manual_payments.files.configured import PROOF_STORAGE
from orderline.tenancy import service as tenancy
from tests.conftest import Merchant
from tests.support.browser import PHONE, BrowserPage, Browsing, browser_fixture  # noqa: F401
from tests.support.console import (
    ConsoleLogin,
    ConsoleShop,
    console_login,
    console_server_fixture,  # noqa: F401
    console_shop,
    log_in_fast,
)
from tests.support.manual import (
    manual_order,
    manual_shop,
    master_keys,
    ok,
    receipt_for,
    sealed_storage,
    upload,
)

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class FiguresShop:
    shop: ConsoleShop
    verifier: ConsoleLogin
    first_day: date  # the day before yesterday
    second_day: date  # yesterday


@pytest.fixture
async def api(runtime: Runtime, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    runtime.put(PROOF_STORAGE, sealed_storage(tmp_path / "proofs", master_keys("k1")))
    app = create_app(runtime=runtime)
    app.state.runtime = runtime
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as client:
        yield client


@pytest.fixture
async def figures_shop(runtime: Runtime, api: httpx.AsyncClient) -> FiguresShop:
    """The day before yesterday at 09:00 a proof is approved after 10 minutes and another
    comes at 10:00; that one is rejected yesterday at 11:00 (25 h later), and yesterday at
    12:00 a third comes and still waits."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - timedelta(days=2) + timedelta(hours=9)
    clock = ManualClock(first)
    runtime.clock = clock
    shop = await console_shop(runtime, currency="PHP", roles=("verifier",))
    merchant = Merchant(principal=await tenancy.authenticate(runtime, shop.api_key),
                        key=shop.api_key)
    await manual_shop(api, merchant)

    async def proof(n: int) -> str:
        order = await manual_order(api, merchant, phone=f"+63 917 555 {n:04d}")
        return str(ok(await upload(api, order, receipt_for(order)), 201)["id"])

    quick = await proof(1)
    clock.advance(600)
    ok(await api.post(f"/v1/verifications/{quick}/approve", headers=merchant.headers))
    clock.advance(3000)  # 10:00
    slow = await proof(2)
    clock.advance(25 * 3600)  # yesterday 11:00
    ok(await api.post(f"/v1/verifications/{slow}/reject", headers=merchant.headers,
                      json={"reason": "blurry"}))
    clock.advance(3600)
    await proof(3)
    runtime.clock = ManualClock()  # the session starts now: the server reads it on its clock
    verifier = await console_login(runtime, shop.staff["verifier"])
    return FiguresShop(shop=shop, verifier=verifier, first_day=first.date(),
                       second_day=(first + timedelta(days=1)).date())


def row_cells(page: BrowserPage, name: str) -> list[str]:
    row = page.page.locator(".stats-table tbody tr").filter(
        has=page.page.get_by_role("rowheader", name=name, exact=True))
    return [cell.strip() for cell in row.locator("td").all_inner_texts()]


def wait_for_charts(page: BrowserPage) -> None:
    page.page.locator(".chart[data-drawn] canvas").nth(2).wait_for()
    assert page.page.locator(".chart[data-drawn] .uplot").count() == 3


def test_a_verifier_reads_the_figures_as_charts_and_as_a_table_by_day_and_week(
        console_server: str, figures_shop: FiguresShop, browser: Browsing) -> None:
    page = browser.open(console_server)
    log_in_fast(page, figures_shop.verifier)
    page.goto("/console/verifications")
    page.page.get_by_role("link", name="Verification figures over time").click()
    page.page.wait_for_url(f"{console_server}/console/verifications/stats")
    wait_for_charts(page)
    assert page.page.locator("#stats-pending-now").inner_text() == "1"
    page.page.get_by_text("The same figures as a table").click()
    first, second = figures_shop.first_day.isoformat(), figures_shop.second_day.isoformat()
    # Waiting at the end, decided, approved, approval rate, median time, score agreed.
    assert row_cells(page, first) == ["1", "1", "1", "100%", "10 min", "—"]
    assert row_cells(page, second) == ["1", "1", "0", "0%", "25 h", "—"]
    summary = page.page.locator("#chart-pending-summary").inner_text()
    assert "Waiting now: 1." in summary
    page.screenshot("figures-by-day-desktop")
    page.check_accessibility()

    page.page.get_by_role("link", name="By week").click()
    page.page.wait_for_url(f"{console_server}/console/verifications/stats?period=week")
    wait_for_charts(page)
    assert page.page.locator(".period-picker [aria-current]").inner_text() == "By week"
    rows = page.page.locator(".stats-table tbody tr").count()
    assert rows in (13, 14)  # 84 days back, the first week whole
    page.page.get_by_text("The same figures as a table").click()
    page.screenshot("figures-by-week-desktop")
    page.check_accessibility()

    page.page.set_viewport_size({"width": PHONE["width"], "height": PHONE["height"]})
    page.goto("/console/verifications/stats?period=day")
    wait_for_charts(page)
    page.page.get_by_text("The same figures as a table").click()
    width = page.page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a 375 px phone"
    page.screenshot("figures-by-day-phone")
    page.check_accessibility()
    page.assert_clean()

    indonesian = browser.open(console_server, viewport=PHONE, locale="id-ID")
    log_in_fast(indonesian, figures_shop.verifier)
    indonesian.goto("/console/verifications/stats?period=month")
    wait_for_charts(indonesian)
    assert indonesian.page.get_by_role("heading", name="Angka verifikasi").is_visible()
    assert indonesian.page.locator(".period-picker [aria-current]").inner_text() == "Per bulan"
    indonesian.screenshot("figures-by-month-phone-id")
    indonesian.check_accessibility()


def test_the_console_installs_as_an_app_and_shows_the_offline_page_without_a_connection(
        console_server: str, figures_shop: FiguresShop, browser: Browsing) -> None:
    page = browser.open(console_server, viewport=PHONE)
    log_in_fast(page, figures_shop.verifier)
    page.goto("/console/verifications")
    manifest = page.page.evaluate("""async () => {
        const link = document.querySelector('link[rel="manifest"]');
        const manifest = await (await fetch(link.href)).json();
        const icons = [];
        for (const icon of manifest.icons) {
            const answer = await fetch(icon.src);
            const bitmap = await createImageBitmap(await answer.blob());
            icons.push([icon.sizes, icon.purpose, answer.status, bitmap.width, bitmap.height]);
        }
        return {scope: manifest.scope, start: manifest.start_url, display: manifest.display,
                icons: icons};
    }""")
    assert (manifest["scope"], manifest["start"], manifest["display"]) == (
        "/console", "/console", "standalone")
    assert sorted(map(tuple, manifest["icons"])) == [
        ("192x192", "any", 200, 192, 192), ("512x512", "any", 200, 512, 512),
        ("512x512", "maskable", 200, 512, 512)]

    page.page.locator("html[data-app='ready']").wait_for(state="attached")
    scope = page.page.evaluate(
        "async () => (await navigator.serviceWorker.ready).scope")
    assert scope == f"{console_server}/console"  # the start URL /console itself included
    page.goto("/console/verifications/stats")  # pages with staff data, seen while online
    wait_for_charts(page)

    page.page.context.set_offline(True)
    page.goto("/console/verifications")
    page.page.get_by_role("heading", name="You are offline").wait_for()
    assert "the queue needs a connection" in page.page.locator("main").inner_text().lower()
    page.screenshot("offline-phone")
    page.check_accessibility()
    page.goto("/console")  # the app's start URL
    page.page.get_by_role("heading", name="You are offline").wait_for()

    # The worker kept static files and the offline page only: no console page, no proof.
    kept = page.page.evaluate("""async () => {
        const urls = [];
        for (const name of await caches.keys()) {
            for (const request of await (await caches.open(name)).keys()) {
                urls.push(new URL(request.url).pathname);
            }
        }
        return urls;
    }""")
    assert "/console/offline" in kept and any(u.startswith("/static/js/console.") for u in kept)
    assert all(u.startswith("/static/") or u == "/console/offline" for u in kept), kept

    page.page.context.set_offline(False)
    page.goto("/console/verifications")
    assert page.page.get_by_role("heading", name="Payment proofs to verify").is_visible()
    page.assert_clean()
