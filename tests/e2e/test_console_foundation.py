"""The console's foundation in the test's process (the real app over ASGI, on each database):
who may open a console page, the CSRF check of every form, the login page, the session
cookie's flags and the live stream's refusal without a session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import unquote

import httpx
import pytest

from orderline.core.clock import ManualClock
from orderline.core.runtime import Runtime
from tests.support.console import (  # noqa: F401
    SESSION_COOKIE,
    ConsoleShop,
    console_login,
    console_owner_fixture,
    console_shop,
    console_transport_fixture,
    logged_in,
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def shop(runtime: Runtime, clock: ManualClock) -> ConsoleShop:
    runtime.clock = clock
    return await console_shop(runtime, roles=("verifier",))


@pytest.fixture
async def stranger(transport: httpx.ASGITransport) -> AsyncIterator[httpx.AsyncClient]:
    async with logged_in(transport, None) as client:
        yield client


async def test_a_page_without_a_session_redirects_to_the_login_page_and_back(
        stranger: httpx.AsyncClient) -> None:
    response = await stranger.get("/console?period=7d")
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/console/login?next=")
    assert unquote(location.split("next=", 1)[1]) == "/console?period=7d"
    assert (await stranger.get("/console")).headers["location"] == "/console/login"


async def test_an_htmx_request_without_a_session_is_told_where_to_go(
        stranger: httpx.AsyncClient) -> None:
    response = await stranger.get("/console", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["hx-redirect"].startswith("/console/login")


async def test_a_logged_in_owner_sees_the_console_with_the_csrf_token_and_every_area(
        owner: httpx.AsyncClient, shop: ConsoleShop) -> None:
    response = await owner.get("/console")
    assert response.status_code == 200, response.text
    html = response.text
    assert f'<meta name="csrf-token" content="{shop.owner_login.csrf_token}">' in html
    assert f'name="csrf_token" value="{shop.owner_login.csrf_token}"' in html
    for link in ("/console/orders", "/console/stock", "/console/verifications",
                 "/console/settings"):
        assert f'href="{link}"' in html, link
    assert "Olivia Owner" in html and shop.name in html
    assert response.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_a_verifier_sees_only_the_verification_queue_in_the_navigation(
        runtime: Runtime, transport: httpx.ASGITransport, shop: ConsoleShop) -> None:
    login = await console_login(runtime, shop.staff["verifier"])
    async with logged_in(transport, login) as verifier:
        html = (await verifier.get("/console/account")).text
    assert 'href="/console/verifications"' in html
    for link in ("/console/orders", "/console/stock", "/console/settings"):
        assert f'href="{link}"' not in html, link


async def test_a_form_without_the_sessions_csrf_token_is_refused_and_changes_nothing(
        owner: httpx.AsyncClient, shop: ConsoleShop) -> None:
    del owner.headers["X-CSRF-Token"]
    assert (await owner.post("/console/logout")).status_code == 403
    wrong = await owner.post("/console/logout", data={"csrf_token": "not-the-token"})
    assert wrong.status_code == 403
    assert "You cannot open this page" in wrong.text
    assert (await owner.post("/console/logout", headers={"X-CSRF-Token": "x"})).status_code == 403
    assert (await owner.get("/console")).status_code == 200  # still logged in
    right = await owner.post("/console/logout",
                             data={"csrf_token": shop.owner_login.csrf_token})
    assert right.status_code == 303
    assert (await owner.get("/console")).status_code == 303  # logged out


async def test_a_session_idle_past_its_timeout_redirects_to_login_and_drops_the_cookie(
        runtime: Runtime, owner: httpx.AsyncClient, clock: ManualClock) -> None:
    assert (await owner.get("/console")).status_code == 200
    clock.advance(runtime.settings.staff_session_idle_hours * 3600 + 60)
    response = await owner.get("/console")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login"
    assert f'{SESSION_COOKIE}=""' in response.headers["set-cookie"]


async def test_the_login_form_starts_a_new_session_with_a_strict_cookie(
        stranger: httpx.AsyncClient, shop: ConsoleShop) -> None:
    form = await stranger.get("/console/login")
    assert form.status_code == 200
    token = form.text.split('name="login_token" value="', 1)[1].split('"', 1)[0]
    stranger.cookies.set(SESSION_COOKIE, shop.owner_login.token)  # an old session's cookie
    answer = await stranger.post("/console/login", data={
        "email": shop.owner.email, "password": shop.owner.password, "login_token": token,
        "next": "/console?period=30d"})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/console?period=30d"
    cookie = next(value for value in answer.headers.get_list("set-cookie")
                  if value.startswith(SESSION_COOKIE + "="))
    new_token = cookie.split(";", 1)[0].split("=", 1)[1]
    assert new_token and new_token != shop.owner_login.token
    flags = [part.strip().lower() for part in cookie.split(";")[1:]]
    assert "httponly" in flags and "samesite=lax" in flags and "path=/console" in flags
    assert "secure" not in flags  # plain HTTP here; HTTPS adds it


async def test_a_login_posted_without_the_forms_own_token_is_refused(
        stranger: httpx.AsyncClient, shop: ConsoleShop) -> None:
    answer = await stranger.post("/console/login", data={
        "email": shop.owner.email, "password": shop.owner.password})
    assert answer.status_code == 403
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")


async def test_a_login_never_sends_you_to_another_site(
        stranger: httpx.AsyncClient, shop: ConsoleShop) -> None:
    form = await stranger.get("/console/login?next=https://evil.example/console")
    assert 'name="next" value="/console"' in form.text


async def test_the_live_stream_refuses_a_request_without_a_session(
        stranger: httpx.AsyncClient) -> None:
    response = await stranger.get("/console/stream", headers={"Accept": "text/event-stream"})
    assert response.status_code == 401
