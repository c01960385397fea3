"""The pages' foundation through a real server process on each database, and through Chromium:
the front page in English and Indonesian, the offline API docs, the security and cache
headers, the HTML error pages beside the API's JSON ones, a 375 px phone and the keyboard.

Every browser test is guarded (``tests/support/browser.py``): a request leaving this machine,
a CSP violation or an uncaught error in the page fails it. Screenshots of each step are in
``test-artifacts/screenshots/<test>/``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from playwright.sync_api import expect

from orderline.api.app import create_app
from orderline.core.runtime import Runtime
from orderline.web.assets import static_url
from orderline.web.rules import CONTENT_SECURITY_POLICY, IMMUTABLE
from tests.support.browser import (  # noqa: F401 (the fixtures browser and pages_server)
    PHONE,
    Browsing,
    browser_fixture,
    pages_server_fixture,
)

pytestmark = pytest.mark.slow

# A loaded machine can take seconds to build the OpenAPI document or a page the first
# time: these calls wait long enough never to decide a test by the clock.
SLOW_MACHINE_SECONDS = 120
slow_get = functools.partial(httpx.get, timeout=SLOW_MACHINE_SECONDS)
slow_head = functools.partial(httpx.head, timeout=SLOW_MACHINE_SECONDS)

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture(scope="module")
def server(pages_server: str) -> str:
    """An ``orderline serve`` process on this backend."""
    return pages_server


def _assets(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/static/[^"]+)"', html)


# Over HTTP: what any client sees.

def test_the_front_page_links_the_console_the_api_docs_and_the_health_checks(server: str) -> None:
    response = slow_get(f"{server}/", headers=HTML)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    for link in ("/console", "/docs", "/redoc", "/openapi.json", "/healthz", "/readyz"):
        assert f'href="{link}"' in response.text, link


def test_every_html_answer_carries_the_security_headers_and_json_is_left_alone(
        server: str) -> None:
    for path, status in (("/", 200), ("/docs", 200), ("/redoc", 200), ("/console/login", 200),
                         ("/console/nothing-here", 404)):
        response = slow_get(f"{server}{path}", headers=HTML)
        assert response.status_code == status, path
        policy = response.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "'unsafe-inline'" not in policy, path
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy, path
        assert response.headers["referrer-policy"] == "same-origin", path
        assert response.headers["x-content-type-options"] == "nosniff", path
    assert slow_get(f"{server}/", headers=HTML).headers[
        "content-security-policy"] == CONTENT_SECURITY_POLICY
    api = slow_get(f"{server}/v1/orders", headers=HTML)
    assert api.status_code == 401
    assert "content-security-policy" not in api.headers


def test_the_redoc_page_admits_only_styles_with_a_nonce_fresh_for_each_answer(
        server: str) -> None:
    nonces = []
    for _ in range(2):
        response = slow_get(f"{server}/redoc", headers=HTML)
        match = re.search(r"style-src 'self' 'nonce-([^']+)'", response.headers[
            "content-security-policy"])
        assert match is not None
        assert f'data-style-nonce="{match.group(1)}"' in response.text
        assert response.headers["cache-control"] == "no-store"
        nonces.append(match.group(1))
    assert nonces[0] != nonces[1]


def test_static_files_by_fingerprint_are_cached_for_a_year_and_by_plain_name_revalidated(
        server: str) -> None:
    page = slow_get(f"{server}/", headers=HTML).text
    assets = _assets(page)
    assert any("/vendor/htmx.org/htmx." in a for a in assets), assets
    for url in assets:
        response = slow_get(f"{server}{url}")
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == IMMUTABLE, url
        assert response.headers["x-content-type-options"] == "nosniff", url
    htmx = next(a for a in assets if "/vendor/htmx.org/" in a)
    assert "text/javascript" in slow_get(f"{server}{htmx}").headers["content-type"]
    head = slow_head(f"{server}{htmx}")
    assert head.status_code == 200 and head.headers["cache-control"] == IMMUTABLE
    plain = slow_get(f"{server}/static/vendor/htmx.org/htmx.min.js")
    assert plain.status_code == 200 and plain.headers["cache-control"] == "no-cache"
    assert plain.content == slow_get(f"{server}{htmx}").content
    for missing in ("/static/vendor/htmx.org/htmx.000000000000.min.js",
                    "/static/../pages.py", "/static/%2e%2e/rules.py"):
        assert slow_get(f"{server}{missing}").status_code == 404, missing


def test_a_browser_gets_an_html_404_and_the_api_keeps_its_json_404(server: str) -> None:
    page = slow_get(f"{server}/console/nothing-here", headers=HTML)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Page not found" in page.text
    for path, headers in (("/console/nothing-here", {}), ("/v1/nothing-here", HTML)):
        api = slow_get(f"{server}{path}", headers=headers)
        assert api.status_code == 404
        assert api.json()["error"]["code"] == "not_found"


def test_the_indonesian_front_page_is_chosen_by_accept_language(server: str) -> None:
    response = slow_get(f"{server}/", headers={**HTML, "Accept-Language": "id-ID,id;q=0.9"})
    assert response.headers["content-language"] == "id"
    assert '<html lang="id">' in response.text
    assert "Konsol penjual" in response.text and "Merchant console" not in response.text
    english = slow_get(f"{server}/", headers={**HTML, "Accept-Language": "fr, en;q=0.5"})
    assert '<html lang="en">' in english.text and "Merchant console" in english.text


def test_the_docs_pages_stay_out_of_the_openapi_document(server: str) -> None:
    paths = slow_get(f"{server}/openapi.json").json()["paths"]
    assert not {"/", "/docs", "/redoc", "/static/{path}"} & set(paths)
    assert "/v1/orders" in paths


# In Chromium: what a person sees.

def test_the_front_page_renders_passes_axe_and_works_with_the_keyboard(
        server: str, browser: Browsing) -> None:
    page = browser.open(server)
    page.goto("/")
    assert page.page.title() == "Welcome · Orderline"
    assert page.page.get_by_role("heading", name="Merchant console").is_visible()
    page.screenshot("front-page")
    page.check_accessibility()

    # The first Tab reaches the skip link, shown with a visible focus ring; it leads to <main>.
    page.page.keyboard.press("Tab")
    skip = page.page.locator(".skip-link")
    assert skip.evaluate("el => el === document.activeElement")
    box = skip.bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0
    assert skip.evaluate("el => getComputedStyle(el).outlineStyle") != "none"
    page.screenshot("skip-link-focused", full_page=False)
    page.page.keyboard.press("Enter")
    assert page.page.evaluate("() => document.activeElement.id") == "main"
    # Then on through the links, each with its focus ring.
    page.page.keyboard.press("Tab")
    focused = page.page.evaluate("() => [document.activeElement.tagName, "
                                 "getComputedStyle(document.activeElement).outlineStyle]")
    assert focused == ["A", "solid"]
    page.screenshot("first-link-focused", full_page=False)
    # htmx loaded, with its indicator <style> turned off (no CSP violation: the guard).
    assert page.page.evaluate("() => typeof window.htmx === 'object' && "
                              "window.htmx.config.includeIndicatorStyles === false")
    page.assert_clean()


def test_the_front_page_fits_a_375px_phone(server: str, browser: Browsing) -> None:
    page = browser.open(server, viewport=PHONE)
    page.goto("/")
    wide = page.page.evaluate("() => document.documentElement.scrollWidth")
    assert wide <= PHONE["width"], f"the page is {wide}px wide on a {PHONE['width']}px screen"
    button = page.page.get_by_role("button", name="Open the console")
    box = button.bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"]
    page.screenshot("front-page-375px")
    page.check_accessibility()
    page.assert_clean()


def test_the_front_page_in_indonesian(server: str, browser: Browsing) -> None:
    page = browser.open(server, locale="id-ID")
    page.goto("/")
    assert page.page.locator("html").get_attribute("lang") == "id"
    assert page.page.get_by_role("heading", name="Konsol penjual").is_visible()
    assert page.page.get_by_role("link", name="Langsung ke konten utama").count() == 1
    page.screenshot("halaman-depan")
    page.check_accessibility()
    page.assert_clean()


def test_swagger_ui_lists_the_api_operations_without_leaving_the_machine(
        server: str, browser: Browsing) -> None:
    described = httpx.get(f"{server}/openapi.json", timeout=30).json()
    operations = [op for item in described["paths"].values()
                  for method, op in item.items()
                  if method in ("get", "put", "post", "patch", "delete")]
    tags = {tag for op in operations for tag in op.get("tags", ["default"])}
    assert len(operations) > 100 and len(tags) > 10
    page = browser.open(server)
    page.goto("/docs")
    # Tags start folded (``docExpansion: "none"``): every tag of the document is listed, and
    # opening one lists its operations.
    expect(page.page.locator(".opblock-tag")).to_have_count(len(tags), timeout=60_000)
    orders = sum(1 for op in operations if "orders" in op.get("tags", ()))
    page.page.locator(".opblock-tag", has_text=re.compile(r"^orders")).first.click()
    expect(page.page.locator(".opblock")).to_have_count(orders, timeout=60_000)
    create_order = page.page.locator(".opblock-post").filter(
        has=page.page.locator(".opblock-summary-path", has_text=re.compile(r"^/v1/orders$")))
    assert create_order.count() == 1
    page.screenshot("swagger-ui", full_page=False)
    create_order.locator(".opblock-summary-control").click()
    create_order.locator(".opblock-body").wait_for(timeout=30_000)
    page.screenshot("swagger-ui-create-order", full_page=False)
    page.assert_clean()


def test_redoc_renders_the_api_reference(server: str, browser: Browsing) -> None:
    page = browser.open(server)
    page.goto("/redoc")
    heading = page.page.get_by_role("heading", name="Create Order").first
    heading.wait_for(timeout=60_000)
    assert page.page.locator(".menu-content").get_by_text("orders").first.is_visible()
    page.screenshot("redoc", full_page=False)
    page.assert_clean()


def test_the_404_page_in_the_browser(server: str, browser: Browsing) -> None:
    page = browser.open(server)
    page.goto("/nothing-here", expect_status=404)
    assert page.page.get_by_role("heading", name="Page not found").is_visible()
    page.page.get_by_role("link", name="Go to the front page").click()
    page.page.wait_for_url(f"{server}/")
    page.goto("/console/nothing-here", expect_status=404)  # inside the console: back to it
    assert page.page.get_by_role("link", name="Back to the console").is_visible()
    page.screenshot("not-found")
    page.check_accessibility()
    page.assert_clean()


# The error pages of page routes, in process (a route that fails on purpose).

@pytest.fixture
async def failing_pages(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(runtime=runtime)
    app.state.runtime = runtime

    @app.get("/console/broken", include_in_schema=False)
    async def broken() -> None:
        raise RuntimeError("a bug in a page")

    @app.get("/console/forbidden", include_in_schema=False)
    async def forbidden() -> None:
        raise HTTPException(status_code=403)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_a_failing_page_answers_the_500_page_with_the_request_id(
        failing_pages: httpx.AsyncClient) -> None:
    page = await failing_pages.get("/console/broken", headers={**HTML, "X-Request-ID": "req-42"})
    assert page.status_code == 500
    assert page.headers["content-type"].startswith("text/html")
    assert "Something went wrong" in page.text and "<code>req-42</code>" in page.text
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    indonesian = await failing_pages.get("/console/broken",
                                         headers={**HTML, "Accept-Language": "id"})
    assert indonesian.status_code == 500 and "Terjadi kesalahan" in indonesian.text
    api = await failing_pages.get("/console/broken")
    assert api.status_code == 500 and api.json()["error"]["code"] == "internal_error"


async def test_a_forbidden_page_answers_the_403_page(failing_pages: httpx.AsyncClient) -> None:
    page = await failing_pages.get("/console/forbidden", headers=HTML)
    assert page.status_code == 403
    assert "You cannot open this page" in page.text
    api = await failing_pages.get("/console/forbidden")
    assert api.status_code == 403 and api.json()["error"]["code"] == "forbidden"


def test_the_browser_guard_catches_a_csp_violation_and_a_request_leaving_the_machine(
        server: str, browser: Browsing) -> None:
    """The guard every browser test relies on does catch what it is there for."""
    page = browser.open(server)
    page.goto("/")
    page.page.evaluate("""() => {
        const style = document.createElement('style');
        style.textContent = 'body { color: red; }';
        document.head.appendChild(style);
        const image = document.createElement('img');
        image.src = 'https://cdn.example.com/tracker.png';
        document.body.appendChild(image);
    }""")
    page.wait_for_problem("CSP violation in the console", "style-src")
    page.wait_for_problem("non-local host", "cdn.example.com")
    page.problems.clear()  # caught on purpose: the teardown's guard is for the real tests


def test_the_vendored_chart_library_draws_under_the_pages_policy(
        server: str, browser: Browsing) -> None:
    """uPlot (for the console's charts) works with no inline style: loaded as files of this
    origin into a page with the pages' CSP, it draws a chart and breaks no rule."""
    page = browser.open(server, viewport=PHONE)
    page.goto("/")
    page.page.add_style_tag(url=static_url("vendor/uplot/uPlot.min.css"))
    page.page.add_script_tag(url=static_url("vendor/uplot/uPlot.iife.min.js"))
    page.page.evaluate("""() => {
        const main = document.getElementById('main');
        const holder = document.createElement('div');
        holder.id = 'chart';
        main.prepend(holder);
        new window.uPlot({title: 'Orders per day', width: 340, height: 200,
                          series: [{}, {label: 'Orders', stroke: '#1d4ed8'}]},
                         [[1, 2, 3, 4, 5], [3, 1, 4, 1, 5]], holder);
    }""")
    assert page.page.locator("#chart canvas").count() == 1
    assert page.page.locator("#chart .u-title").inner_text() == "Orders per day"
    page.screenshot("uplot-chart", full_page=False)
    page.assert_clean()
