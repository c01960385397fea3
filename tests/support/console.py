"""The console for tests: a business with its staff made through the services, a staff member
logged in (through the login page, or fast: a session made by ``staff.sessions.log_in`` on the
same database, its cookie handed to the browser), and an HTTP client with the session cookie
and the CSRF token for page tests without a browser.

Data is made by async fixtures (on the suite's event loop) and used by plain ``def`` browser
tests (Playwright's own loop), never both at once:

```python
@pytest.fixture
async def shop(runtime: Runtime) -> ConsoleShop:
    return await console_shop(runtime, roles=("verifier",))

def test_the_queue(shop: ConsoleShop, console_server: str, browser: Browsing) -> None:
    page = browser.open(console_server)
    log_in_fast(page, shop.owner_login)      # or log_in_through_form(page, shop.owner)
    page.goto("/console/verifications")
```

The server must read the TOTP secrets with the same master keys as the test's runtime:
start it with ``CONSOLE_SERVER_ENV`` (``console_server_fixture`` does).

Page tests without a browser run the real app in the test's process: import the fixtures
``console_transport_fixture`` (``transport``: the app on the test's runtime) and
``console_owner_fixture`` (``owner``: a client logged in as the module's ``shop`` fixture's
owner), write ``shop`` in the module (which roles it needs), and log anyone else in with
``logged_in(transport, login)``; ``csrf_form`` fills a form's token:

```python
from tests.support.console import console_owner_fixture, console_transport_fixture  # noqa: F401

@pytest.fixture
async def shop(runtime: Runtime) -> ConsoleShop:
    return await console_shop(runtime, roles=("viewer",))

async def test_the_page(owner: httpx.AsyncClient) -> None:
    done = await owner.post("/console/...", data=csrf_form(owner, sku="MUG"))
```

The order-page journeys (edit, cancel, split, exchange, return, ship) share their setting up:
import ``toko_sari_fixture`` (``shop``: an owner and a viewer) and ``console_api_fixture``
(``api``: that shop's API on ``console_server``), make what the page needs with
``new_product`` and ``placed_order`` / ``paid_order`` / ``shipped_order``, and open a page
logged in with ``opened(browser, console_server, shop.owner_login, path, phone=...)``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from orderline.api.app import create_app
from orderline.core.runtime import Runtime
from orderline.staff import sessions
from orderline.tenancy import service as tenancy
from orderline.tenancy.rules import Principal
from tests.e2e.conftest import ok
from tests.support.browser import PHONE
from tests.support.manual import spec
from tests.support.staff import PASSWORD, Member, join, new_email, staff_runtime

if TYPE_CHECKING:
    from tests.support.browser import BrowserPage, Browsing

SESSION_COOKIE = "orderline_session"
# The server's master keys: the same bytes as ``tests.support.manual.master_keys("staff1")``,
# which ``staff_runtime`` gives the test's runtime, so both read the same TOTP secrets.
CONSOLE_SERVER_ENV = {"ORDERLINE_PROOF_MASTER_KEYS": spec({"staff1": (b"staff1" + bytes(32))[:32]})}
CONSOLE_CLIENT = {"client_ip": "198.51.100.20", "user_agent": "pytest console"}


@dataclass(frozen=True)
class ConsoleLogin:
    """A live console session: the cookie's value and the CSRF token its forms carry."""
    member: Member
    token: str
    csrf_token: str
    principal: Principal


@dataclass(frozen=True)
class ConsoleShop:
    business_id: uuid.UUID
    name: str
    api_key: str  # the business's first (all-scope) API key, for setting up through the API
    owner: Member
    owner_login: ConsoleLogin
    staff: dict[str, Member] = field(default_factory=dict)  # by role, besides the owner

    @property
    def api_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


async def console_login(runtime: Runtime, member: Member,
                        totp_code: str | None = None) -> ConsoleLogin:
    """A new session of ``member``, as the login page would make it."""
    started = await sessions.log_in(runtime, member.email, member.password, totp_code,
                                    **CONSOLE_CLIENT)
    return ConsoleLogin(member=member, token=started.token, csrf_token=started.csrf_token,
                        principal=sessions.principal_for(started.session))


async def console_shop(runtime: Runtime, *, name: str | None = None, currency: str = "USD",
                       roles: tuple[str, ...] = ()) -> ConsoleShop:
    """A business with an owner (logged in) and one member of each of ``roles``, all joined
    the way people do (an invitation, then its acceptance)."""
    staff_runtime(runtime)
    shop_name = name or f"Console shop {uuid.uuid4().hex[:6]}"
    created = await tenancy.create_business(runtime, name=shop_name, currency=currency)
    owner = await join(runtime, created.id, "owner", email=new_email("owner"),
                       name="Olivia Owner")
    members = {role: await join(runtime, created.id, role, email=new_email(role),
                                name=f"{role.capitalize()} Staff") for role in roles}
    return ConsoleShop(business_id=created.id, name=shop_name, api_key=created.api_key.key,
                       owner=owner, owner_login=await console_login(runtime, owner),
                       staff=members)


# --- a browser ----------------------------------------------------------------------------------

def log_in_fast(page: BrowserPage, login: ConsoleLogin) -> None:
    """Hand the browser the session's cookie (as the login page would set it)."""
    host = httpx.URL(page.base).host
    page.page.context.add_cookies([{
        "name": SESSION_COOKIE, "value": login.token, "domain": host, "path": "/console",
        "httpOnly": True, "secure": False, "sameSite": "Lax"}])


def opened(browser: Browsing, base: str, login: ConsoleLogin, path: str, *,
           phone: bool = False, status: int = 200) -> BrowserPage:
    """A new page of ``browser`` (375 px wide with ``phone``), logged in fast as ``login``, on
    ``path`` (answered with ``status``)."""
    page = browser.open(base, viewport=PHONE if phone else None)
    log_in_fast(page, login)
    page.goto(path, expect_status=status)
    return page


def log_in_through_form(page: BrowserPage, member: Member, *, go: bool = True) -> None:
    """Log in with the login page's form; returns on the page it leads to."""
    if go:
        page.goto("/console/login")
    page.page.get_by_label("Email address").fill(member.email)
    page.page.get_by_label("Password", exact=True).fill(member.password)
    with page.page.expect_navigation():
        page.page.get_by_role("button", name="Log in").click()


# --- HTTP without a browser -------------------------------------------------------------------

HTML = {"Accept": "text/html,application/xhtml+xml"}
CONSOLE_BASE = "http://test"  # the base URL of the app in the test's process


def console_client(base: str, login: ConsoleLogin, **options: Any) -> httpx.Client:
    """A client of a running server with the session cookie, sending the CSRF token as
    ``X-CSRF-Token`` (as htmx does) and asking for HTML. Redirects are not followed."""
    client = httpx.Client(base_url=base, headers={**HTML, "X-CSRF-Token": login.csrf_token},
                          follow_redirects=False, **options)
    client.cookies.set(SESSION_COOKIE, login.token, path="/console")
    return client


def async_console_client(transport: httpx.AsyncBaseTransport | None, base: str,
                         login: ConsoleLogin | None) -> httpx.AsyncClient:
    """The same for an app in the test's process (``httpx.ASGITransport``)."""
    headers = dict(HTML)
    if login is not None:
        headers["X-CSRF-Token"] = login.csrf_token
    client = httpx.AsyncClient(transport=transport, base_url=base, headers=headers,
                               follow_redirects=False)
    if login is not None:
        client.cookies.set(SESSION_COOKIE, login.token)
    return client


def logged_in(transport: httpx.AsyncBaseTransport, login: ConsoleLogin | None
              ) -> httpx.AsyncClient:
    """``async_console_client`` of the app in the test's process (``CONSOLE_BASE``);
    ``login`` None: nobody logged in."""
    return async_console_client(transport, CONSOLE_BASE, login)


def csrf_form(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    """A form's fields with the CSRF token of ``client``'s session, as the page renders it."""
    return {"csrf_token": client.headers["X-CSRF-Token"], **fields}


@pytest.fixture(name="transport")
def console_transport_fixture(runtime: Runtime) -> httpx.ASGITransport:
    """The real app on the test's runtime, in the test's process."""
    app = create_app(runtime=runtime)
    app.state.runtime = runtime
    return httpx.ASGITransport(app=app)


@pytest.fixture(name="owner")
async def console_owner_fixture(transport: httpx.ASGITransport, shop: ConsoleShop
                                ) -> AsyncIterator[httpx.AsyncClient]:
    """A client logged in as the owner of the module's ``shop`` fixture."""
    async with logged_in(transport, shop.owner_login) as client:
        yield client


@pytest.fixture(name="console_server", scope="module")
def console_server_fixture(database_url: str, shared_db: Any) -> Iterator[str]:
    """An ``orderline serve`` process for console tests (the TOTP master keys of the tests'
    runtime), once per module and backend. Import ``console_server_fixture`` to use it."""
    from tests.support.servers import running_server

    with running_server(database_url, extra_env=CONSOLE_SERVER_ENV) as base:
        yield base


# --- a shop and its orders, for the order-page journeys against ``console_server`` -----------

@pytest.fixture(name="shop")
async def toko_sari_fixture(runtime: Runtime) -> ConsoleShop:
    """Toko Sari: an owner (logged in) and a viewer. Import ``toko_sari_fixture`` to have it
    as the module's ``shop``."""
    return await console_shop(runtime, name="Toko Sari", roles=("viewer",))


@pytest.fixture(name="api")
def console_api_fixture(shop: ConsoleShop, console_server: str) -> Iterator[httpx.Client]:
    """A client of ``console_server``'s API with the API key of the module's ``shop``: to set
    up what a page shows and to check what it did. Import ``console_api_fixture``."""
    with httpx.Client(base_url=console_server, headers=shop.api_headers) as client:
        yield client


def new_product(api: httpx.Client, name: str,
                *variants: tuple[str, str, int, int]) -> dict[str, Any]:
    """A product of ``(sku, variant name, price, initial stock)`` variants."""
    product: dict[str, Any] = ok(api.post("/v1/products", json={"name": name, "variants": [
        {"sku": sku, "name": variant, "price": price, "initial_stock": stock}
        for sku, variant, price, stock in variants]}), 201)
    return product


def placed_order(api: httpx.Client, *lines: tuple[str, int],
                 payment_method: str = "card") -> dict[str, Any]:
    """Ada Buyer's web order of ``(sku, quantity)`` lines, unpaid, with its buyer's
    ``access_token``."""
    order: dict[str, Any] = ok(api.post("/v1/orders", json={
        "customer": {"name": "Ada Buyer", "phone": "+15550100"}, "channel": "web",
        "payment_method": payment_method,
        "lines": [{"sku": sku, "quantity": quantity} for sku, quantity in lines]}), 201)
    return order


def paid_order(api: httpx.Client, *lines: tuple[str, int], payment_method: str = "card",
               reference: str = "p-1") -> dict[str, Any]:
    """``placed_order``, its payment (the whole total) then recorded by hand: the order as
    paid (its new version), still with the buyer's ``access_token``."""
    order = placed_order(api, *lines, payment_method=payment_method)
    paid = ok(api.patch(f"/v1/orders/{order['id']}/payment", json={"reference": reference}))
    return {**order, **paid}


def shipped_order(api: httpx.Client, *lines: tuple[str, int],
                  tracking_number: str = "JNE-1") -> dict[str, Any]:
    """``paid_order``, then every unit shipped in one parcel: the order as shipped, still with
    the buyer's ``access_token``."""
    order = paid_order(api, *lines)
    shipped = ok(api.patch(f"/v1/orders/{order['id']}/shipping",
                           json={"carrier": "JNE", "tracking_number": tracking_number}))
    return {**order, **shipped}


# --- a PHP shop's verifier desk, for the payment-proof pages against ``console_server`` -----

async def verifier_desk(runtime: Runtime, *, name: str) -> tuple[ConsoleShop, ConsoleLogin]:
    """A PHP shop called ``name`` with a verifier, and the verifier's session."""
    shop = await console_shop(runtime, name=name, currency="PHP", roles=("verifier",))
    return shop, await console_login(runtime, shop.staff["verifier"])


@contextmanager
def gcash_tee_api(base: str, shop: ConsoleShop, *, tees: int) -> Iterator[httpx.Client]:
    """``shop``'s API on ``base``, selling tees at PHP 1,250.00 (``tees`` of them in stock)
    and taking GCash."""
    with httpx.Client(base_url=base, headers=shop.api_headers, timeout=60) as client:
        new_product(client, "Tee", ("TEE", "Tee", 125_000, tees))
        ok(client.post("/v1/payment-methods", json={
            "template": "gcash", "account_name": "Juan Dela Cruz",
            "account_number": "0917 555 0101"}), 201)
        yield client


__all__ = [
    "CONSOLE_BASE",
    "PASSWORD",
    "ConsoleLogin",
    "ConsoleShop",
    "console_api_fixture",
    "console_client",
    "console_login",
    "console_owner_fixture",
    "console_shop",
    "console_transport_fixture",
    "csrf_form",
    "gcash_tee_api",
    "log_in_fast",
    "log_in_through_form",
    "logged_in",
    "new_product",
    "opened",
    "paid_order",
    "placed_order",
    "shipped_order",
    "toko_sari_fixture",
    "verifier_desk",
]
