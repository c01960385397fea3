"""Browser tests: Playwright (from PyPI) driving Debian's Chromium (``/usr/bin/chromium``, or
``ORDERLINE_CHROMIUM``); Playwright's own browser download is never used.

The ``browser`` fixture opens pages on a running server (``tests/support/servers.py``) and
guards every one of them: a request to any host but this machine is refused and fails the
test, and so does a Content-Security-Policy violation or an uncaught error in the page's
console. ``BrowserPage.screenshot`` saves each step under ``test-artifacts/screenshots/<test>/``
(git-ignored) for a person to look at; ``BrowserPage.check_accessibility`` runs axe-core
(vendored in ``tests/support/vendor/axe-core``) in the page and fails on serious or critical
violations.

A module uses the ``browser`` fixture by importing ``browser_fixture``. Without Chromium or
Playwright the browser tests are skipped, and fail with ``CI=true``.

Playwright's sync API runs its own event loop, and marks it running between calls: each test
starts and stops its own Playwright (never one per session), so the suite's pytest-asyncio loop
runs the async tests in between undisturbed. Use the fixture from plain ``def`` tests.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response, Route

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
AXE = Path(__file__).with_name("vendor") / "axe-core" / "axe.min.js"
CHROMIUM = os.environ.get("ORDERLINE_CHROMIUM", "/usr/bin/chromium")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
FAILING_IMPACTS = {"serious", "critical"}
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}
STEP_TIMEOUT_MS = 90_000  # the cap on one browser step (see Browsing.open)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _chromium_or_skip() -> str:
    """Chromium's path; skip without it or Playwright (fail with ``CI=true``)."""
    reason = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "Playwright is not installed (pip install -e '.[dev]')"
    executable = shutil.which(CHROMIUM) if reason is None else None
    if reason is None and executable is None:
        reason = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    if reason is not None or executable is None:
        reason = reason or "no Chromium"
        if _in_ci():
            pytest.fail(reason + " (CI=true: the browser tests must not be skipped)")
        pytest.skip(reason)
    return executable


def is_local(url: str) -> bool:
    """Whether loading ``url`` stays on this machine (data: and blob: URLs never leave, nor
    do the browser's own chrome: and chrome-extension: files, such as its PDF viewer's)."""
    parts = urlsplit(url)
    if parts.scheme in {"data", "blob", "about", "chrome", "chrome-extension"}:
        return True
    return (parts.hostname or "") in LOCAL_HOSTS


@dataclass
class BrowserPage:
    """One page of the browser, with the guard's findings and its screenshots' folder."""
    page: Page
    base: str
    shots: Path
    problems: list[str] = field(default_factory=list)

    def goto(self, path: str, *, expect_status: int = 200) -> Response:
        response = self.page.goto(self.base + path, wait_until="load")
        assert response is not None, f"no answer for {path}"
        assert response.status == expect_status, f"{path}: {response.status}"
        return response

    def screenshot(self, step: str, *, full_page: bool = True) -> Path:
        """Save this step's picture: test-artifacts/screenshots/<test>/<step>.png."""
        path = self.shots / f"{_safe(step)}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def check_accessibility(self, *, exclude: list[str] | None = None) -> list[dict[str, Any]]:
        """Run axe-core in the page; fail on serious or critical violations. Returns every
        violation (the minor and moderate ones too) for a test that wants to look at them."""
        if not self.page.evaluate("() => typeof window.axe === 'object'"):
            # Evaluated through the DevTools protocol, so the page's CSP (no inline script)
            # does not stop it, and nothing is added to the page's own scripts.
            self.page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
        context = {"exclude": [[selector] for selector in exclude]} if exclude else None
        results: dict[str, Any] = self.page.evaluate(
            "async (context) => await window.axe.run(context || document, "
            "{resultTypes: ['violations']})", context)
        violations: list[dict[str, Any]] = results["violations"]
        failing = [v for v in violations if v.get("impact") in FAILING_IMPACTS]
        assert not failing, "accessibility (axe-core) violations:\n" + "\n".join(
            f"- {v['impact']}: {v['id']}: {v['help']} at "
            + ", ".join(str(node["target"]) for node in v["nodes"][:5]) for v in failing)
        return violations

    def wait_for_problem(self, *words: str, timeout: float = 30.0) -> str:
        """Wait (capped) until the guard has recorded a problem naming all of ``words``: the
        browser reports console messages and requests as events, a little after the fact."""
        deadline = time.monotonic() + timeout
        while True:
            for problem in self.problems:
                if all(word in problem for word in words):
                    return problem
            assert time.monotonic() < deadline, f"no problem naming {words}: {self.problems}"
            self.page.wait_for_timeout(50)  # lets Playwright deliver the browser's events

    def assert_clean(self) -> None:
        assert not self.problems, "the page broke a guard:\n" + "\n".join(self.problems)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "step"


class Browsing:
    """What the ``browser`` fixture gives a test: ``open(base, ...)`` a guarded page."""

    def __init__(self, browser: Browser, test_name: str) -> None:
        self._browser = browser
        self.shots = SCREENSHOTS / _safe(test_name)
        shutil.rmtree(self.shots, ignore_errors=True)
        self.shots.mkdir(parents=True, exist_ok=True)
        self.pages: list[BrowserPage] = []

    def open(self, base: str, *, viewport: dict[str, int] | None = None,
             locale: str | None = None) -> BrowserPage:
        """A new page in a fresh context (no cookies), ``locale`` sending its Accept-Language
        (``id-ID`` asks for Indonesian)."""
        context = self._browser.new_context(viewport=viewport or DESKTOP,  # type: ignore[arg-type]
                                            locale=locale or "en-US", reduced_motion="reduce")
        # A loaded machine (CI on two busy cores) can take seconds per step: generous caps, so
        # only a page that never gets there fails (Playwright's own defaults are 30 s and 5 s).
        context.set_default_timeout(STEP_TIMEOUT_MS)
        context.set_default_navigation_timeout(STEP_TIMEOUT_MS)
        page = context.new_page()
        opened = BrowserPage(page=page, base=base, shots=self.shots)
        _guard(opened)
        self.pages.append(opened)
        return opened


def _guard(opened: BrowserPage) -> None:
    page = opened.page

    def refuse_remote(route: Route, request: Request) -> None:
        if is_local(request.url):
            route.continue_()
        else:
            opened.problems.append(f"request to a non-local host: {request.method} {request.url}")
            route.abort("blockedbyclient")

    def on_request(request: Request) -> None:
        if not is_local(request.url):  # also what a route cannot see (a CSP-blocked image)
            problem = f"request to a non-local host: {request.method} {request.url}"
            if problem not in opened.problems:
                opened.problems.append(problem)

    def on_console(message: ConsoleMessage) -> None:
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            opened.problems.append(f"CSP violation in the console: {text}")

    page.context.route("**/*", refuse_remote)
    page.on("request", on_request)
    page.on("console", on_console)
    page.on("pageerror", lambda error: opened.problems.append(f"uncaught error: {error}"))


@pytest.fixture(name="pages_server", scope="module")
def pages_server_fixture(database_url: str, shared_db: Any) -> Iterator[str]:
    """An ``orderline serve`` process on the test's database (``shared_db`` migrates it first),
    once per module and backend: its base URL. Import ``pages_server_fixture`` to use it."""
    from tests.support.servers import running_server

    with running_server(database_url) as base:
        yield base


@pytest.fixture(name="browser")
def browser_fixture(request: pytest.FixtureRequest) -> Iterator[Browsing]:
    """Chromium for this test; on teardown every page it opened must have kept the guard.
    A test module takes it with ``from tests.support.browser import browser_fixture  # noqa:
    F401`` and a ``browser: Browsing`` argument."""
    executable = _chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    playwright = sync_playwright().start()
    try:
        expect.set_options(timeout=STEP_TIMEOUT_MS)
        chromium = playwright.chromium.launch(executable_path=executable, args=args)
        try:
            browsing = Browsing(chromium, request.node.name)
            yield browsing
            for opened in browsing.pages:
                opened.page.context.close()  # the browser's last events arrive meanwhile
            for opened in browsing.pages:
                opened.assert_clean()
        finally:
            chromium.close()
    finally:
        playwright.stop()
