"""The console's draft order pages over HTTP (the app in the test's process), on both
databases: build a draft, see it priced, send its link, and who may do what."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from orderline.core.runtime import Runtime
from orderline.tenancy import service as tenancy
from tests.conftest import Merchant
from tests.support.checkout import open_shop
from tests.support.console import (  # noqa: F401
    CONSOLE_BASE,
    ConsoleShop,
    console_login,
    console_owner_fixture,
    console_shop,
    console_transport_fixture,
    csrf_form,
    logged_in,
)


@pytest.fixture
async def shop(runtime: Runtime) -> ConsoleShop:
    return await console_shop(runtime, roles=("viewer", "verifier"))


@pytest.fixture
async def api(runtime: Runtime, transport: httpx.ASGITransport, shop: ConsoleShop
              ) -> AsyncIterator[httpx.AsyncClient]:
    merchant = Merchant(principal=await tenancy.authenticate(runtime, shop.api_key),
                        key=shop.api_key)
    async with httpx.AsyncClient(transport=transport, base_url=CONSOLE_BASE,
                                 headers=shop.api_headers) as client:
        await open_shop(client, merchant, products={"MUG": (1250, 5), "CAP": (400, 5)},
                        shipping=500, tax_rate=None)
        yield client


NEW = {"sku": "MUG", "quantity": "2", "customer_name": "Siti", "customer_phone": "+62 811 555",
       "address_line1": "Jl. Mawar 1", "address_city": "Springfield",
       "address_postal_code": "62701", "address_country": "US", "payment_method": "card"}


async def test_a_draft_is_built_priced_and_sent_from_the_console(
        owner: httpx.AsyncClient, api: httpx.AsyncClient) -> None:
    created = await owner.post("/console/drafts/new", data=csrf_form(owner, **NEW))
    assert created.status_code == 303, created.text
    page_url = created.headers["location"]
    draft_id = page_url.rsplit("/", 1)[1]
    page = await owner.get(page_url)
    assert page.status_code == 200
    assert "$30.00" in page.text  # 2 x 12.50 and 5.00 shipping

    added = await owner.post(f"/console/drafts/{draft_id}/lines",
                             data=csrf_form(owner, sku="CAP", quantity="1"))
    assert added.status_code == 303
    assert "$34.00" in (await owner.get(page_url)).text
    refused = await owner.post(f"/console/drafts/{draft_id}/lines",
                               data=csrf_form(owner, sku="NOPE", quantity="1"))
    assert refused.status_code == 422 and 'id="sku-error"' in refused.text
    removed = await owner.post(f"/console/drafts/{draft_id}/lines/quantity",
                               data=csrf_form(owner, sku="CAP", quantity="0"))
    assert removed.status_code == 303
    assert "$30.00" in (await owner.get(page_url)).text

    sent = await owner.post(f"/console/drafts/{draft_id}/send", data=csrf_form(owner))
    assert sent.status_code == 200
    link = re.search(r'value="(http[^"]+/d/dl_[^"]+)"', sent.text)
    assert link is not None
    assert "https://wa.me/?text=" in sent.text
    landing = await api.get(link.group(1).removeprefix("http://127.0.0.1:8000"))
    assert landing.status_code == 200 and "Continue to checkout" in landing.text
    listed = await owner.get("/console/drafts")
    assert f"/console/drafts/{draft_id}" in listed.text and "Link sent" in listed.text
    draft = (await api.get(f"/v1/draft-orders/{draft_id}")).json()
    assert draft["status"] == "sent" and draft["totals"]["total"] == 3000


async def test_a_viewer_reads_drafts_but_changes_none_and_a_verifier_sees_none(
        runtime: Runtime, transport: httpx.ASGITransport, shop: ConsoleShop,
        api: httpx.AsyncClient) -> None:
    draft = (await api.post("/v1/draft-orders", json={"lines": [
        {"sku": "MUG", "quantity": 1}]})).json()
    viewer = logged_in(transport, await console_login(
        runtime, shop.staff["viewer"]))
    async with viewer:
        assert (await viewer.get(f"/console/drafts/{draft['id']}")).status_code == 200
        assert (await viewer.get("/console/drafts")).status_code == 200
        for path in ("/console/drafts/new", f"/console/drafts/{draft['id']}/lines",
                     f"/console/drafts/{draft['id']}/send",
                     f"/console/drafts/{draft['id']}/cancel"):
            answer = await viewer.post(path, data=csrf_form(viewer, sku="MUG", quantity="1"))
            assert answer.status_code == 403, path
    verifier = logged_in(transport, await console_login(
        runtime, shop.staff["verifier"]))
    async with verifier:
        assert (await verifier.get("/console/drafts")).status_code == 403
        assert (await verifier.get(f"/console/drafts/{draft['id']}")).status_code == 403
    assert (await api.get(f"/v1/draft-orders/{draft['id']}")).json()["version"] == 1


async def test_another_business_s_staff_get_404_and_a_form_without_csrf_does_nothing(
        runtime: Runtime, transport: httpx.ASGITransport, owner: httpx.AsyncClient,
        api: httpx.AsyncClient) -> None:
    draft = (await api.post("/v1/draft-orders", json={"lines": [
        {"sku": "MUG", "quantity": 1}]})).json()
    other = await console_shop(runtime)
    async with logged_in(transport, other.owner_login) as stranger:
        assert (await stranger.get(f"/console/drafts/{draft['id']}")).status_code == 404
        forced = await stranger.post(f"/console/drafts/{draft['id']}/send",
                                     data=csrf_form(stranger))
        assert forced.status_code == 404
        assert draft["id"] not in (await stranger.get("/console/drafts")).text
    no_token = await owner.post(f"/console/drafts/{draft['id']}/cancel", data={},
                                headers={"X-CSRF-Token": ""})
    assert no_token.status_code == 403
    assert (await api.get(f"/v1/draft-orders/{draft['id']}")).json()["status"] == "draft"
