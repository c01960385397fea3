"""Shipping zones, their methods and tax rates over HTTP, on each database: what a merchant
creates comes back normalised and nested, every refusal is a 422 that stores nothing, only
admin keys change them, and another business can neither see nor touch them."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import Merchant
from tests.e2e.conftest import error_of, ok

ZONES = "/v1/shipping-zones"
WEIGHT_BANDS = [{"up_to_grams": 1000, "price": 400}, {"up_to_grams": 5000, "price": 900}]


async def create_zone(client: httpx.AsyncClient, merchant: Merchant,
                      **fields: Any) -> dict[str, Any]:
    body = {"name": "United States", "countries": ["US"], **fields}
    zone: dict[str, Any] = ok(await client.post(ZONES, headers=merchant.headers, json=body), 201)
    return zone


async def add_method(client: httpx.AsyncClient, merchant: Merchant, zone: dict[str, Any],
                     **fields: Any) -> dict[str, Any]:
    body = {"name": "Standard", "kind": "flat", "price": 500, **fields}
    method: dict[str, Any] = ok(await client.post(f"{ZONES}/{zone['id']}/methods",
                                                  headers=merchant.headers, json=body), 201)
    return method


async def add_rate(client: httpx.AsyncClient, merchant: Merchant, zone: dict[str, Any],
                   **fields: Any) -> dict[str, Any]:
    body = {"name": "Sales tax", "rate": "8.25", **fields}
    rate: dict[str, Any] = ok(await client.post(f"{ZONES}/{zone['id']}/tax-rates",
                                                headers=merchant.headers, json=body), 201)
    return rate


async def zones_of(client: httpx.AsyncClient, merchant: Merchant) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = ok(await client.get(ZONES, headers=merchant.headers))["data"]
    return listed


async def zone_now(client: httpx.AsyncClient, merchant: Merchant,
                   zone: dict[str, Any]) -> dict[str, Any]:
    current: dict[str, Any] = ok(await client.get(f"{ZONES}/{zone['id']}",
                                                  headers=merchant.headers))
    return current


async def key_with(client: httpx.AsyncClient, merchant: Merchant,
                   *scopes: str) -> dict[str, str]:
    issued = ok(await client.post("/v1/api-keys", headers=merchant.headers,
                                  json={"name": "+".join(scopes), "scopes": list(scopes)}), 201)
    return {"Authorization": f"Bearer {issued['key']}"}


# --- zones -----------------------------------------------------------------------------------

async def test_a_zone_is_created_normalised_and_listed_with_its_methods_and_rates(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    zone = await create_zone(client, merchant, name="  West coast ", countries=["us", "CA", "US"],
                             regions=[" CA ", "OR", "OR"], postal_prefixes=[" 9a 1", "v6"],
                             position=3)
    assert {k: zone[k] for k in ("name", "countries", "regions", "postal_prefixes",
                                 "position", "methods", "tax_rates")} == {
        "name": "West coast", "countries": ["US", "CA"], "regions": ["CA", "OR"],
        "postal_prefixes": ["9A1", "V6"], "position": 3, "methods": [], "tax_rates": []}
    assert "business_id" not in zone

    method = await add_method(client, merchant, zone)
    rate = await add_rate(client, merchant, zone)
    listed = await zones_of(client, merchant)
    assert [z["id"] for z in listed] == [zone["id"]]
    one = await zone_now(client, merchant, zone)
    for shown in (listed[0], one):
        assert [m["id"] for m in shown["methods"]] == [method["id"]]
        assert [r["id"] for r in shown["tax_rates"]] == [rate["id"]]
        assert shown["countries"] == ["US", "CA"]


async def test_zones_are_listed_by_position(client: httpx.AsyncClient,
                                            merchant: Merchant) -> None:
    rest = await create_zone(client, merchant, name="Rest", countries=["US"], position=9)
    alaska = await create_zone(client, merchant, name="Alaska", countries=["US"],
                               regions=["AK"], position=1)
    assert [z["id"] for z in await zones_of(client, merchant)] == [alaska["id"], rest["id"]]


async def test_a_zone_can_be_changed_field_by_field(client: httpx.AsyncClient,
                                                    merchant: Merchant) -> None:
    zone = await create_zone(client, merchant, regions=["NY"], postal_prefixes=["10"])
    changed = ok(await client.patch(f"{ZONES}/{zone['id']}", headers=merchant.headers,
                                    json={"name": "Lower 48", "countries": ["us", "pr"],
                                          "regions": []}))
    assert (changed["name"], changed["countries"], changed["regions"],
            changed["postal_prefixes"], changed["position"]) == (
        "Lower 48", ["US", "PR"], [], ["10"], 0)
    assert await zone_now(client, merchant, zone) == changed


async def test_deleting_a_zone_deletes_its_methods_and_rates(client: httpx.AsyncClient,
                                                             merchant: Merchant) -> None:
    zone = await create_zone(client, merchant)
    method = await add_method(client, merchant, zone)
    rate = await add_rate(client, merchant, zone)
    deleted = ok(await client.delete(f"{ZONES}/{zone['id']}", headers=merchant.headers))
    assert deleted["id"] == zone["id"] and len(deleted["methods"]) == 1

    error_of(await client.get(f"{ZONES}/{zone['id']}", headers=merchant.headers),
             404, "not_found")
    assert await zones_of(client, merchant) == []
    error_of(await client.patch(f"{ZONES}/{zone['id']}/methods/{method['id']}",
                                headers=merchant.headers, json={"price": 1}), 404, "not_found")
    error_of(await client.delete(f"{ZONES}/{zone['id']}/tax-rates/{rate['id']}",
                                 headers=merchant.headers), 404, "not_found")
    error_of(await client.delete(f"{ZONES}/{zone['id']}", headers=merchant.headers),
             404, "not_found")


@pytest.mark.parametrize("body", [
    {"name": "Nowhere", "countries": []},
    {"name": "Nowhere"},
    {"name": "Nowhere", "countries": ["USA"]},
    {"name": "Nowhere", "countries": ["U1"]},
    {"name": "Nowhere", "countries": ["  "]},
    {"name": "Nowhere", "countries": "US"},
    {"name": "   ", "countries": ["US"]},
    {"countries": ["US"]},
    {"name": "Nowhere", "countries": ["US"], "regions": ["  "]},
    {"name": "Nowhere", "countries": ["US"], "postal_prefixes": [" "]},
    {"name": "Nowhere", "countries": ["US"], "position": -1},
    {"name": "Nowhere", "countries": ["US"], "position": "1"},
    {"name": "Nowhere", "countries": ["US"], "zip": "10001"},
])
async def test_an_invalid_zone_is_refused_and_nothing_is_stored(
        client: httpx.AsyncClient, merchant: Merchant, body: dict[str, Any]) -> None:
    error_of(await client.post(ZONES, headers=merchant.headers, json=body),
             422, "validation_error")
    assert await zones_of(client, merchant) == []


@pytest.mark.parametrize("change", [
    {"countries": []}, {"countries": ["XYZ"]}, {"name": ""}, {"name": None},
    {"countries": None}, {"postal_prefixes": [""]}, {"position": 2_000_000},
])
async def test_an_invalid_zone_change_is_refused_and_the_zone_is_unchanged(
        client: httpx.AsyncClient, merchant: Merchant, change: dict[str, Any]) -> None:
    zone = await create_zone(client, merchant)
    error_of(await client.patch(f"{ZONES}/{zone['id']}", headers=merchant.headers,
                                json=change), 422, "validation_error")
    assert await zone_now(client, merchant, zone) == zone


# --- methods ---------------------------------------------------------------------------------

async def test_each_kind_of_method_is_stored_and_shown_in_the_zone_by_position(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    zone = await create_zone(client, merchant)
    weight = await add_method(client, merchant, zone, name="By weight", kind="weight",
                              price=0, weight_bands=WEIGHT_BANDS, position=2)
    free = await add_method(client, merchant, zone, name="Free over 50", kind="free_above",
                            price=700, free_above=5000, position=1)
    flat = await add_method(client, merchant, zone, name="Courier", price=1500, position=3,
                            active=False)

    assert {k: weight[k] for k in ("zone_id", "name", "kind", "price", "free_above",
                                   "weight_bands", "active", "position")} == {
        "zone_id": zone["id"], "name": "By weight", "kind": "weight", "price": 0,
        "free_above": None, "weight_bands": WEIGHT_BANDS, "active": True, "position": 2}
    assert (free["kind"], free["price"], free["free_above"], free["weight_bands"]) == (
        "free_above", 700, 5000, [])
    assert (flat["kind"], flat["price"], flat["active"]) == ("flat", 1500, False)
    shown = (await zone_now(client, merchant, zone))["methods"]
    assert [m["id"] for m in shown] == [free["id"], weight["id"], flat["id"]]
    assert shown[1] == weight


async def test_a_method_can_be_changed_and_a_new_kind_drops_what_it_does_not_use(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    zone = await create_zone(client, merchant)
    method = await add_method(client, merchant, zone, kind="weight", weight_bands=WEIGHT_BANDS)
    url = f"{ZONES}/{zone['id']}/methods/{method['id']}"

    repriced = ok(await client.patch(url, headers=merchant.headers,
                                     json={"name": "Ground", "active": False}))
    assert (repriced["name"], repriced["active"], repriced["weight_bands"]) == (
        "Ground", False, WEIGHT_BANDS)
    free = ok(await client.patch(url, headers=merchant.headers,
                                 json={"kind": "free_above", "free_above": 8000, "price": 300}))
    assert (free["kind"], free["free_above"], free["price"], free["weight_bands"]) == (
        "free_above", 8000, 300, [])
    flat = ok(await client.patch(url, headers=merchant.headers, json={"kind": "flat"}))
    assert (flat["kind"], flat["free_above"], flat["price"]) == ("flat", None, 300)
    shown = (await zone_now(client, merchant, zone))["methods"]
    assert shown == [flat]


async def test_a_deleted_method_leaves_the_zone(client: httpx.AsyncClient,
                                                merchant: Merchant) -> None:
    zone = await create_zone(client, merchant)
    kept = await add_method(client, merchant, zone, name="Kept")
    gone = await add_method(client, merchant, zone, name="Gone")
    deleted = ok(await client.delete(f"{ZONES}/{zone['id']}/methods/{gone['id']}",
                                     headers=merchant.headers))
    assert deleted == gone
    assert [m["id"] for m in (await zone_now(client, merchant, zone))["methods"]] == [kept["id"]]
    error_of(await client.delete(f"{ZONES}/{zone['id']}/methods/{gone['id']}",
                                 headers=merchant.headers), 404, "not_found")


@pytest.mark.parametrize("body", [
    {"name": "Heavy", "kind": "weight"},
    {"name": "Heavy", "kind": "weight", "weight_bands": []},
    {"name": "Heavy", "kind": "weight",
     "weight_bands": [{"up_to_grams": 2000, "price": 1}, {"up_to_grams": 1000, "price": 2}]},
    {"name": "Heavy", "kind": "weight",
     "weight_bands": [{"up_to_grams": 1000, "price": 1}, {"up_to_grams": 1000, "price": 2}]},
    {"name": "Heavy", "kind": "weight", "weight_bands": [{"up_to_grams": 0, "price": 1}]},
    {"name": "Heavy", "kind": "weight", "weight_bands": [{"up_to_grams": 10, "price": -1}]},
    {"name": "Heavy", "kind": "weight", "weight_bands": [{"up_to_grams": 10}]},
    {"name": "Free", "kind": "free_above", "price": 500},
    {"name": "Free", "kind": "free_above", "price": 500, "free_above": -1},
    {"name": "Flat", "kind": "flat", "price": -1},
    {"name": "Flat", "kind": "flat", "price": 5.5},
    {"name": "Flat", "kind": "flat", "price": 10**16},
    {"name": "Flat", "kind": "flat", "free_above": 100},
    {"name": "Flat", "kind": "flat", "weight_bands": [{"up_to_grams": 10, "price": 1}]},
    {"name": "Flat", "kind": "teleport"},
    {"name": " ", "kind": "flat"},
    {"kind": "flat"},
    {"name": "Flat", "kind": "flat", "active": "yes"},
])
async def test_an_invalid_method_is_refused_and_nothing_is_stored(
        client: httpx.AsyncClient, merchant: Merchant, body: dict[str, Any]) -> None:
    zone = await create_zone(client, merchant)
    error_of(await client.post(f"{ZONES}/{zone['id']}/methods", headers=merchant.headers,
                               json=body), 422, "validation_error")
    assert (await zone_now(client, merchant, zone))["methods"] == []


@pytest.mark.parametrize("change", [
    {"kind": "weight"},  # a flat method has no bands to keep
    {"kind": "free_above"},  # ... nor a threshold
    {"free_above": 100},  # not a free_above method
    {"price": -5}, {"price": None}, {"kind": None}, {"name": ""}, {"active": None},
])
async def test_an_invalid_method_change_is_refused_and_the_method_is_unchanged(
        client: httpx.AsyncClient, merchant: Merchant, change: dict[str, Any]) -> None:
    zone = await create_zone(client, merchant)
    method = await add_method(client, merchant, zone)
    error_of(await client.patch(f"{ZONES}/{zone['id']}/methods/{method['id']}",
                                headers=merchant.headers, json=change), 422, "validation_error")
    assert (await zone_now(client, merchant, zone))["methods"] == [method]


async def test_a_method_is_reached_only_through_its_own_zone(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    home = await create_zone(client, merchant)
    other = await create_zone(client, merchant, name="Canada", countries=["CA"])
    method = await add_method(client, merchant, home)
    rate = await add_rate(client, merchant, home)
    for url in (f"{ZONES}/{other['id']}/methods/{method['id']}",
                f"{ZONES}/{other['id']}/tax-rates/{rate['id']}"):
        error_of(await client.patch(url, headers=merchant.headers, json={"name": "Moved"}),
                 404, "not_found")
        error_of(await client.delete(url, headers=merchant.headers), 404, "not_found")
    shown = await zone_now(client, merchant, home)
    assert shown["methods"] == [method] and shown["tax_rates"] == [rate]


# --- tax rates -------------------------------------------------------------------------------

@pytest.mark.parametrize(("given", "stored"), [
    ("8.25", "8.25"), (8.25, "8.25"), ("8.2500", "8.25"), (7, "7"), ("10.0", "10"),
    ("0", "0"), (100, "100"), ("0.0001", "0.0001"), (" 19.6 ", "19.6"),
])
async def test_a_tax_rate_is_stored_as_its_shortest_decimal_string(
        client: httpx.AsyncClient, merchant: Merchant, given: Any, stored: str) -> None:
    zone = await create_zone(client, merchant)
    rate = await add_rate(client, merchant, zone, rate=given)
    assert (rate["rate"], rate["applies_to_shipping"], rate["zone_id"]) == (
        stored, True, zone["id"])
    assert (await zone_now(client, merchant, zone))["tax_rates"] == [rate]


async def test_a_tax_rate_can_be_changed_and_deleted(client: httpx.AsyncClient,
                                                     merchant: Merchant) -> None:
    zone = await create_zone(client, merchant)
    state = await add_rate(client, merchant, zone, name="State", rate="6")
    city = await add_rate(client, merchant, zone, name="City", rate="1.5",
                          applies_to_shipping=False)
    url = f"{ZONES}/{zone['id']}/tax-rates/{state['id']}"
    changed = ok(await client.patch(url, headers=merchant.headers,
                                    json={"rate": "6.35", "applies_to_shipping": False}))
    assert (changed["name"], changed["rate"], changed["applies_to_shipping"]) == (
        "State", "6.35", False)
    assert (await zone_now(client, merchant, zone))["tax_rates"] == [changed, city]

    assert ok(await client.delete(url, headers=merchant.headers)) == changed
    assert (await zone_now(client, merchant, zone))["tax_rates"] == [city]


@pytest.mark.parametrize("rate", [
    "-1", -1, "100.01", 101, "8.12345", 8.12345, "abc", "NaN", "Infinity", "1e2", "",
    True, None, [8], "8,25",
])
async def test_an_invalid_tax_rate_is_refused_and_nothing_is_stored(
        client: httpx.AsyncClient, merchant: Merchant, rate: Any) -> None:
    zone = await create_zone(client, merchant)
    error_of(await client.post(f"{ZONES}/{zone['id']}/tax-rates", headers=merchant.headers,
                               json={"name": "Bad", "rate": rate}), 422, "validation_error")
    error_of(await client.post(f"{ZONES}/{zone['id']}/tax-rates", headers=merchant.headers,
                               json={"name": " ", "rate": "5"}), 422, "validation_error")
    assert (await zone_now(client, merchant, zone))["tax_rates"] == []


@pytest.mark.parametrize("change", [
    {"rate": "150"}, {"rate": "0.00001"}, {"rate": None}, {"name": ""},
    {"applies_to_shipping": None}, {"applies_to_shipping": "no"},
])
async def test_an_invalid_tax_rate_change_is_refused_and_the_rate_is_unchanged(
        client: httpx.AsyncClient, merchant: Merchant, change: dict[str, Any]) -> None:
    zone = await create_zone(client, merchant)
    rate = await add_rate(client, merchant, zone)
    error_of(await client.patch(f"{ZONES}/{zone['id']}/tax-rates/{rate['id']}",
                                headers=merchant.headers, json=change), 422, "validation_error")
    assert (await zone_now(client, merchant, zone))["tax_rates"] == [rate]


# --- scopes, authentication and ids ----------------------------------------------------------

@pytest.mark.parametrize("scopes", [("read",), ("read", "write")])
async def test_only_an_admin_key_changes_shipping_though_a_read_key_sees_it(
        client: httpx.AsyncClient, merchant: Merchant, scopes: tuple[str, ...]) -> None:
    zone = await create_zone(client, merchant)
    method = await add_method(client, merchant, zone)
    rate = await add_rate(client, merchant, zone)
    before = await zone_now(client, merchant, zone)
    headers = await key_with(client, merchant, *scopes)

    assert ok(await client.get(ZONES, headers=headers))["data"] == [before]
    assert ok(await client.get(f"{ZONES}/{zone['id']}", headers=headers)) == before
    m_url = f"{ZONES}/{zone['id']}/methods"
    r_url = f"{ZONES}/{zone['id']}/tax-rates"
    refused = [
        await client.post(ZONES, headers=headers, json={"name": "X", "countries": ["US"]}),
        await client.patch(f"{ZONES}/{zone['id']}", headers=headers, json={"name": "X"}),
        await client.delete(f"{ZONES}/{zone['id']}", headers=headers),
        await client.post(m_url, headers=headers, json={"name": "X", "kind": "flat"}),
        await client.patch(f"{m_url}/{method['id']}", headers=headers, json={"price": 1}),
        await client.delete(f"{m_url}/{method['id']}", headers=headers),
        await client.post(r_url, headers=headers, json={"name": "X", "rate": "1"}),
        await client.patch(f"{r_url}/{rate['id']}", headers=headers, json={"rate": "1"}),
        await client.delete(f"{r_url}/{rate['id']}", headers=headers),
    ]
    for answer in refused:
        details = error_of(answer, 403, "forbidden")
        assert details["required_scope"] == "admin"
    assert await zones_of(client, merchant) == [before]


async def test_shipping_needs_an_api_key(client: httpx.AsyncClient,
                                         merchant: Merchant) -> None:
    zone = await create_zone(client, merchant)
    error_of(await client.get(ZONES), 401, "unauthorized")
    error_of(await client.post(ZONES, json={"name": "X", "countries": ["US"]}),
             401, "unauthorized")
    error_of(await client.delete(f"{ZONES}/{zone['id']}"), 401, "unauthorized")
    assert [z["id"] for z in await zones_of(client, merchant)] == [zone["id"]]


@pytest.mark.parametrize("path", [
    "/v1/shipping-zones/not-a-uuid", "/v1/shipping-zones/{zone}/methods/42",
    "/v1/shipping-zones/{zone}/tax-rates/nope", "/v1/shipping-zones/{random}",
    "/v1/shipping-zones/{zone}/methods/{random}", "/v1/shipping-zones/{random}/tax-rates/{random}",
])
async def test_unknown_or_malformed_ids_are_not_found(
        client: httpx.AsyncClient, merchant: Merchant, path: str) -> None:
    zone = await create_zone(client, merchant)
    url = path.format(zone=zone["id"], random=uuid.uuid4())
    error_of(await client.patch(url, headers=merchant.headers, json={"name": "X"}),
             404, "not_found")
    error_of(await client.delete(url, headers=merchant.headers), 404, "not_found")
    assert await zones_of(client, merchant) == [zone]


# --- isolation -------------------------------------------------------------------------------

async def test_another_business_can_neither_see_nor_touch_a_zone_its_methods_or_rates(
        client: httpx.AsyncClient, merchant: Merchant, rival: Merchant) -> None:
    zone = await create_zone(client, merchant, name="A-only zone")
    method = await add_method(client, merchant, zone, name="A-only method")
    rate = await add_rate(client, merchant, zone, name="A-only rate")
    before = await zone_now(client, merchant, zone)
    own = await create_zone(client, rival, name="Rival zone")
    h = rival.headers

    listed = await client.get(ZONES, headers=h)
    assert [z["id"] for z in ok(listed)["data"]] == [own["id"]]
    assert "A-only" not in listed.text and zone["id"] not in listed.text

    z_url = f"{ZONES}/{zone['id']}"
    answers = [
        await client.get(z_url, headers=h),
        await client.patch(z_url, headers=h, json={"name": "Taken"}),
        await client.delete(z_url, headers=h),
        await client.post(f"{z_url}/methods", headers=h, json={"name": "X", "kind": "flat"}),
        await client.patch(f"{z_url}/methods/{method['id']}", headers=h, json={"price": 0}),
        await client.delete(f"{z_url}/methods/{method['id']}", headers=h),
        await client.post(f"{z_url}/tax-rates", headers=h, json={"name": "X", "rate": "50"}),
        await client.patch(f"{z_url}/tax-rates/{rate['id']}", headers=h, json={"rate": "50"}),
        await client.delete(f"{z_url}/tax-rates/{rate['id']}", headers=h),
        # A's method and rate through the rival's own zone
        await client.patch(f"{ZONES}/{own['id']}/methods/{method['id']}", headers=h,
                           json={"price": 0}),
        await client.delete(f"{ZONES}/{own['id']}/methods/{method['id']}", headers=h),
        await client.patch(f"{ZONES}/{own['id']}/tax-rates/{rate['id']}", headers=h,
                           json={"rate": "50"}),
        await client.delete(f"{ZONES}/{own['id']}/tax-rates/{rate['id']}", headers=h),
    ]
    for answer in answers:
        error_of(answer, 404, "not_found")
        assert "A-only" not in answer.text

    assert await zones_of(client, merchant) == [before]
    rival_zone = await zone_now(client, rival, own)
    assert rival_zone["methods"] == [] and rival_zone["tax_rates"] == []
