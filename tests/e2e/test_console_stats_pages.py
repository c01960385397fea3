"""The verification figures page and the console's app files (manifest, service worker,
offline page) in the test's process (the real app over ASGI, on each database): who may open
the figures, the numbers in its table on a manual clock, the period switch, and the headers
the installable console needs."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from html import unescape
from typing import Any

import httpx
import pytest

from orderline.core.clock import ManualClock
from orderline.core.runtime import Runtime
from orderline.tenancy import service as tenancy
from tests.conftest import Merchant
from tests.support.console import (
    ConsoleShop,
    async_console_client,
    console_login,
    console_shop,
)
from tests.support.manual import (
    manual_order,
    manual_shop,
    ok,
    receipt_for,
    upload,
)

BASE = "http://test"
# Wednesday 28 October 2026, 09:00 UTC.
OCTOBER_28 = datetime(2026, 10, 28, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(OCTOBER_28)


@pytest.fixture
async def console(page_runtime: Runtime) -> ConsoleShop:
    return await console_shop(page_runtime, currency="PHP", roles=("verifier", "operations"))


@pytest.fixture
async def api(transport: httpx.ASGITransport) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


def set_time(clock: ManualClock, when: datetime) -> None:
    clock.advance((when - clock.now()).total_seconds())


async def proofs_decided_over_two_days(page_runtime: Runtime, api: httpx.AsyncClient,
                                       console: ConsoleShop, clock: ManualClock) -> None:
    """28 Oct: one proof approved after 10 minutes, one left waiting overnight; 29 Oct 10:00
    that one is rejected (25 h after it came); 29 Oct 11:00 a third arrives and waits. Now:
    29 Oct 12:00."""
    merchant = Merchant(principal=await tenancy.authenticate(page_runtime, console.api_key),
                        key=console.api_key)
    await manual_shop(api, merchant)
    first = await manual_order(api, merchant, phone="+63 917 555 0001")
    quick = ok(await upload(api, first, receipt_for(first)), 201)
    set_time(clock, datetime(2026, 10, 28, 9, 10, tzinfo=UTC))
    ok(await api.post(f"/v1/verifications/{quick['id']}/approve", headers=merchant.headers))
    second = await manual_order(api, merchant, phone="+63 917 555 0002")
    slow = ok(await upload(api, second, receipt_for(second)), 201)
    set_time(clock, datetime(2026, 10, 29, 10, 10, tzinfo=UTC))
    ok(await api.post(f"/v1/verifications/{slow['id']}/reject", headers=merchant.headers,
                      json={"reason": "blurry"}))
    set_time(clock, datetime(2026, 10, 29, 11, 0, tzinfo=UTC))
    third = await manual_order(api, merchant, phone="+63 917 555 0003")
    ok(await upload(api, third, receipt_for(third)), 201)
    set_time(clock, datetime(2026, 10, 29, 12, 0, tzinfo=UTC))


def table_rows(html: str) -> dict[str, list[str]]:
    """The figures table: the period's name -> its cells as text."""
    body = html.split('<table>', 1)[1].split("</table>", 1)[0].split("<tbody>", 1)[1]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S):
        cells = [unescape(re.sub(r"<[^>]+>", "", c)).strip()
                 for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.S)]
        rows[cells[0]] = cells[1:]
    return rows


def chart(html: str, caption_id: str) -> dict[str, Any]:
    match = re.search(rf'aria-labelledby="{caption_id}"[^>]*data-chart="([^"]*)"', html)
    assert match is not None, caption_id
    data: dict[str, Any] = json.loads(unescape(match.group(1)))
    return data


async def test_the_figures_page_shows_each_day_s_waiting_proofs_times_and_rates(
        page_runtime: Runtime, transport: httpx.ASGITransport, api: httpx.AsyncClient,
        console: ConsoleShop, clock: ManualClock) -> None:
    await proofs_decided_over_two_days(page_runtime, api, console, clock)
    login = await console_login(page_runtime, console.staff["verifier"])
    async with async_console_client(transport, BASE, login) as verifier:
        page = await verifier.get("/console/verifications/stats")
        assert page.status_code == 200, page.text
        assert page.headers["cache-control"] == "no-store"
        html = page.text
        rows = table_rows(html)
        # Waiting at the end, decided, approved, approval rate, median time, score agreed.
        assert rows["2026-10-28"] == ["1", "1", "1", "100%", "10 min", "—"]
        assert rows["2026-10-29"] == ["1", "1", "0", "0%", "25 h", "—"]
        assert rows["2026-10-27"][:3] == ["0", "0", "0"]
        assert len(rows) == 31  # 30 days back from the 29th's noon, the first day whole
        pending = chart(html, "chart-pending-title")
        assert pending["series"][0]["values"][-3:] == [0, 1, 1]
        assert chart(html, "chart-time-title")["series"][0]["values"][-2:] == [0.2, 25.0]
        assert "Median time to a decision, in hours" in html
        assert chart(html, "chart-rates-title")["series"][0]["values"][-2:] == [100.0, 0.0]
        assert 'id="stats-pending-now">1<' in html

        weekly = await verifier.get("/console/verifications/stats?period=week")
        week_rows = table_rows(weekly.text)
        assert week_rows["2026-10-26"][:4] == ["1", "2", "1", "50%"]
        assert 'aria-current="true" class="chosen">By week' in weekly.text
        monthly = table_rows((await verifier.get(
            "/console/verifications/stats?period=month")).text)
        assert monthly["2026-10"][:3] == ["1", "2", "1"] and len(monthly) == 13
        unknown = await verifier.get("/console/verifications/stats?period=year")
        assert unknown.status_code == 200 and len(table_rows(unknown.text)) == 31

        queue = await verifier.get("/console/verifications")
        assert 'href="/console/verifications/stats"' in queue.text


async def test_staff_without_the_verify_scope_may_not_open_the_figures(
        page_runtime: Runtime, transport: httpx.ASGITransport, console: ConsoleShop) -> None:
    login = await console_login(page_runtime, console.staff["operations"])
    async with async_console_client(transport, BASE, login) as operations:
        refused = await operations.get("/console/verifications/stats")
        assert refused.status_code == 403
        assert "data-chart" not in refused.text
    async with async_console_client(transport, BASE, None) as stranger:
        answer = await stranger.get("/console/verifications/stats")
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/console/login")
    async with async_console_client(transport, BASE, console.owner_login) as owner:
        assert (await owner.get("/console/verifications/stats")).status_code == 200


# --- the console as an app on a phone ---------------------------------------------------------

async def test_the_manifest_names_the_console_with_icons_that_are_served(
        transport: httpx.ASGITransport) -> None:
    async with async_console_client(transport, BASE, None) as stranger:
        answer = await stranger.get("/console/manifest.webmanifest")
        assert answer.status_code == 200  # no session: a browser fetches it without cookies
        assert answer.headers["content-type"] == "application/manifest+json"
        manifest = json.loads(answer.text)
        assert (manifest["scope"], manifest["start_url"], manifest["display"]) == (
            "/console", "/console", "standalone")
        assert manifest["name"] == "Orderline console" and manifest["theme_color"]
        purposes = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
        assert purposes == {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")}
        for icon in manifest["icons"]:
            image = await stranger.get(icon["src"])
            assert image.status_code == 200 and image.headers["content-type"] == "image/png"
            size = int(icon["sizes"].split("x")[0])
            # A PNG's width and height are bytes 16-24 of its header.
            assert image.content[:8] == b"\x89PNG\r\n\x1a\n"
            assert (int.from_bytes(image.content[16:20]), int.from_bytes(image.content[20:24])
                    ) == (size, size)
        indonesian = await stranger.get("/console/manifest.webmanifest",
                                        headers={"Accept-Language": "id-ID"})
        assert json.loads(indonesian.text)["name"] == "Konsol Orderline"


async def test_the_service_worker_keeps_only_static_files_and_the_offline_page(
        transport: httpx.ASGITransport) -> None:
    async with async_console_client(transport, BASE, None) as stranger:
        worker = await stranger.get("/console/sw.js")
        assert worker.status_code == 200
        assert worker.headers["content-type"].startswith("text/javascript")
        assert worker.headers["service-worker-allowed"] == "/console"
        assert worker.headers["cache-control"] == "no-cache"
        first_line = worker.text.split("\n", 1)[0]
        shell = json.loads(first_line.removeprefix("var ORDERLINE_SHELL = ").rstrip(";"))
        assert shell["offline"] == "/console/offline"
        assert shell["files"] and all(f.startswith("/static/") for f in shell["files"])
        assert any("/static/js/console." in f for f in shell["files"])
        assert not any("console-sw" in f or "LICENSE" in f for f in shell["files"])
        for path in shell["files"]:  # each is served, fingerprinted, for the install to keep
            assert (await stranger.get(path)).status_code == 200, path
        offline = await stranger.get("/console/offline")
        assert offline.status_code == 200 and "You are offline" in offline.text
        assert "the queue needs a connection" in offline.text.lower()
        assert offline.headers["cache-control"] == "no-cache"


async def test_console_pages_link_the_manifest_and_stay_no_store(
        transport: httpx.ASGITransport, console: ConsoleShop) -> None:
    async with async_console_client(transport, BASE, console.owner_login) as owner:
        page = await owner.get("/console/verifications")
        assert '<link rel="manifest" href="/console/manifest.webmanifest">' in page.text
        assert '<meta name="theme-color"' in page.text and 'rel="apple-touch-icon"' in page.text
        assert "js/console-app." in page.text
        assert page.headers["cache-control"] == "no-store"
