"""Coupons over HTTP: creating (codes normalised, amounts checked against the kind, products
of this business only), listing, changing, deactivating and the orders that used one;
scopes, and isolation between businesses, on each database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.runtime import Runtime
from orderline.coupons import store as coupon_store
from tests.conftest import Merchant
from tests.e2e.conftest import add_product, error_of, ok, place_order

STARTS = datetime(2026, 7, 1, tzinfo=UTC)
ENDS = STARTS + timedelta(days=30)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def create(client: httpx.AsyncClient, shop: Merchant, **body: Any) -> dict[str, Any]:
    body.setdefault("kind", "fixed_amount")
    if body["kind"] == "fixed_amount":
        body.setdefault("amount_off", 500)
    created: dict[str, Any] = ok(await client.post("/v1/coupons", headers=shop.headers,
                                                   json=body), 201)
    return created


async def listed(client: httpx.AsyncClient, shop: Merchant, **params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = ok(await client.get(
        "/v1/coupons", headers=shop.headers, params={"limit": 200, **params}))["data"]
    return rows


async def fetch(client: httpx.AsyncClient, shop: Merchant, coupon_id: str) -> dict[str, Any]:
    coupon: dict[str, Any] = ok(await client.get(f"/v1/coupons/{coupon_id}",
                                                 headers=shop.headers))
    return coupon


async def key_with(client: httpx.AsyncClient, shop: Merchant, *scopes: str) -> dict[str, str]:
    issued = ok(await client.post("/v1/api-keys", headers=shop.headers,
                                  json={"name": "+".join(scopes), "scopes": list(scopes)}), 201)
    return {"Authorization": f"Bearer {issued['key']}"}


async def take_uses(runtime: Runtime, coupon_id: str, n: int) -> None:
    """Uses taken the way the checkout takes them."""
    for _ in range(n):
        assert await runtime.db.run(lambda conn: coupon_store.take_use(
            conn, uuid.UUID(coupon_id), datetime.now(UTC)))


async def test_a_percentage_coupon_is_stored_with_an_upper_case_code_and_basis_points(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    product = await add_product(client, merchant, "TEE", 5)
    created = await create(client, merchant, code="  summer-10_b ", kind="percentage",
                           percent_off=12.5, min_subtotal=2000, starts_at=iso(STARTS),
                           ends_at=iso(ENDS), usage_limit=100, per_customer_limit=1,
                           product_ids=[product["id"], product["id"]])
    assert {k: v for k, v in created.items() if k not in ("id", "created_at", "updated_at")} == {
        "code": "SUMMER-10_B", "kind": "percentage", "percent_off": 12.5,
        "percent_off_bp": 1250, "amount_off": None, "min_subtotal": 2000,
        "starts_at": iso(STARTS), "ends_at": iso(ENDS), "usage_limit": 100,
        "per_customer_limit": 1, "used_count": 0, "remaining": 100,
        "product_ids": [product["id"]], "active": True}
    assert await fetch(client, merchant, created["id"]) == created
    assert await listed(client, merchant) == [created]


async def test_fixed_amount_and_free_shipping_coupons_show_only_their_own_amount(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    fixed = await create(client, merchant, code="FIVE", amount_off=500, active=False)
    free = await create(client, merchant, code="shipfree", kind="free_shipping")
    assert (fixed["amount_off"], fixed["percent_off"], fixed["percent_off_bp"],
            fixed["remaining"], fixed["active"], fixed["product_ids"]) == (
        500, None, 0, None, False, [])
    assert (free["code"], free["amount_off"], free["percent_off"], free["min_subtotal"]) == (
        "SHIPFREE", None, None, 0)


async def test_a_code_the_business_already_has_in_any_case_is_a_conflict(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    first = await create(client, merchant, code="WELCOME")
    details = error_of(await client.post("/v1/coupons", headers=merchant.headers, json={
        "code": "welcome", "kind": "free_shipping"}), 409, "conflict")
    assert details == {"code": "WELCOME"}
    assert await listed(client, merchant) == [first]


@pytest.mark.parametrize(("body", "field"), [
    ({"code": "AB"}, "code"),
    ({"code": "X" * 51}, "code"),
    ({"code": "SUM MER"}, "code"),
    ({"code": "SUMMER!"}, "code"),
    ({"code": None}, "code"),
    ({"kind": "bogus"}, "kind"),
    ({"kind": "percentage", "amount_off": None}, "percent_off"),
    ({"kind": "percentage", "amount_off": None, "percent_off": 0}, "percent_off"),
    ({"kind": "percentage", "amount_off": None, "percent_off": 100.01}, "percent_off"),
    ({"kind": "percentage", "amount_off": None, "percent_off": 12.345}, "percent_off"),
    ({"kind": "percentage", "amount_off": None, "percent_off": -5}, "percent_off"),
    ({"kind": "percentage", "percent_off": 10}, "amount_off"),
    ({"amount_off": None}, "amount_off"),
    ({"amount_off": 0}, "amount_off"),
    ({"amount_off": 12.5}, "amount_off"),
    ({"percent_off": 10}, "percent_off"),
    ({"kind": "free_shipping"}, "amount_off"),
    ({"kind": "free_shipping", "amount_off": None, "percent_off": 5}, "percent_off"),
    ({"min_subtotal": -1}, "min_subtotal"),
    ({"starts_at": iso(ENDS), "ends_at": iso(STARTS)}, "ends_at"),
    ({"starts_at": iso(STARTS), "ends_at": iso(STARTS)}, "ends_at"),
    ({"starts_at": "2026-07-01T00:00:00"}, "starts_at"),  # no timezone
    ({"usage_limit": 0}, "usage_limit"),
    ({"usage_limit": 2**31}, "usage_limit"),
    ({"per_customer_limit": 0}, "per_customer_limit"),
    ({"product_ids": ["not-a-uuid"]}, "product_ids"),
    ({"active": "yes"}, "active"),
    ({"used_count": 5}, "used_count"),
])
async def test_each_invalid_coupon_is_refused_and_nothing_is_stored(
        client: httpx.AsyncClient, merchant: Merchant, body: dict[str, Any],
        field: str) -> None:
    sent = {"code": "SPRING", "kind": "fixed_amount", "amount_off": 500, **body}
    sent = {k: v for k, v in sent.items() if v is not None or k == "code"}
    response = await client.post("/v1/coupons", headers=merchant.headers, json=sent)
    details = error_of(response, 422, "validation_error")
    assert field in response.text, details
    assert await listed(client, merchant) == []


async def test_products_of_no_product_of_this_business_are_refused_by_name(
        client: httpx.AsyncClient, merchant: Merchant, rival: Merchant) -> None:
    mine = await add_product(client, merchant, "MINE", 1)
    theirs = await add_product(client, rival, "THEIRS", 1)
    ghost = str(uuid.uuid4())
    details = error_of(await client.post("/v1/coupons", headers=merchant.headers, json={
        "code": "PICKY", "kind": "free_shipping",
        "product_ids": [mine["id"], theirs["id"], ghost]}), 422, "validation_error")
    assert details == {"unknown_product_ids": [theirs["id"], ghost]}
    assert await listed(client, merchant) == []


async def test_a_coupon_changes_all_but_its_code_and_kind(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    product = await add_product(client, merchant, "HAT", 1)
    coupon = await create(client, merchant, code="AUTUMN", kind="percentage", percent_off=10,
                          starts_at=iso(STARTS), ends_at=iso(ENDS))
    changed = ok(await client.patch(f"/v1/coupons/{coupon['id']}", headers=merchant.headers,
                                    json={"percent_off": 33.33, "min_subtotal": 900,
                                          "ends_at": None, "usage_limit": 7,
                                          "per_customer_limit": 2,
                                          "product_ids": [product["id"]], "active": False}))
    assert {k: changed[k] for k in ("code", "kind", "percent_off", "percent_off_bp",
                                    "min_subtotal", "starts_at", "ends_at", "usage_limit",
                                    "remaining", "per_customer_limit", "product_ids",
                                    "active")} == {
        "code": "AUTUMN", "kind": "percentage", "percent_off": 33.33, "percent_off_bp": 3333,
        "min_subtotal": 900, "starts_at": iso(STARTS), "ends_at": None, "usage_limit": 7,
        "remaining": 7, "per_customer_limit": 2, "product_ids": [product["id"]],
        "active": False}
    assert await fetch(client, merchant, coupon["id"]) == changed
    cleared = ok(await client.patch(f"/v1/coupons/{coupon['id']}", headers=merchant.headers,
                                    json={"usage_limit": None, "product_ids": []}))
    assert (cleared["usage_limit"], cleared["remaining"], cleared["product_ids"]) == (
        None, None, [])


@pytest.mark.parametrize("change", [
    {"code": "OTHER"},
    {"kind": "free_shipping"},
    {"amount_off": 100},
    {"percent_off": 0},
    {"percent_off": 10.001},
    {"percent_off": None},
    {"min_subtotal": None},
    {"active": None},
    {"product_ids": None},
    {"product_ids": [str(uuid.uuid4())]},
    {"ends_at": iso(STARTS - timedelta(days=1))},  # before the stored starts_at
    {"starts_at": iso(ENDS)},  # not before the stored ends_at
    {"usage_limit": 0},
    {"used_count": 0},
])
async def test_each_invalid_change_is_refused_and_the_coupon_stays_as_it_was(
        client: httpx.AsyncClient, merchant: Merchant, change: dict[str, Any]) -> None:
    coupon = await create(client, merchant, code="WINTER", kind="percentage", percent_off=15,
                          starts_at=iso(STARTS), ends_at=iso(ENDS))
    error_of(await client.patch(f"/v1/coupons/{coupon['id']}", headers=merchant.headers,
                                json=change), 422, "validation_error")
    assert await fetch(client, merchant, coupon["id"]) == coupon


async def test_a_fixed_amount_coupon_changes_its_amount_but_takes_no_percentage(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    coupon = await create(client, merchant, code="TENOFF", amount_off=1000)
    changed = ok(await client.patch(f"/v1/coupons/{coupon['id']}", headers=merchant.headers,
                                    json={"amount_off": 250}))
    assert (changed["amount_off"], changed["percent_off"]) == (250, None)
    error_of(await client.patch(f"/v1/coupons/{coupon['id']}", headers=merchant.headers,
                                json={"percent_off": 5}), 422, "validation_error")
    free = await create(client, merchant, code="FREESHIP", kind="free_shipping")
    error_of(await client.patch(f"/v1/coupons/{free['id']}", headers=merchant.headers,
                                json={"amount_off": 5}), 422, "validation_error")
    assert (await fetch(client, merchant, coupon["id"]))["amount_off"] == 250


async def test_the_usage_limit_cannot_go_below_the_uses_already_taken(
        client: httpx.AsyncClient, runtime: Runtime, merchant: Merchant) -> None:
    coupon = await create(client, merchant, code="LIMITED", usage_limit=5)
    await take_uses(runtime, coupon["id"], 3)
    taken = await fetch(client, merchant, coupon["id"])
    assert (taken["used_count"], taken["remaining"]) == (3, 2)
    details = error_of(await client.patch(f"/v1/coupons/{coupon['id']}",
                                          headers=merchant.headers, json={"usage_limit": 2}),
                       422, "validation_error")
    assert details == {"usage_limit": 2, "used_count": 3}
    assert (await fetch(client, merchant, coupon["id"]))["usage_limit"] == 5
    exact = ok(await client.patch(f"/v1/coupons/{coupon['id']}", headers=merchant.headers,
                                  json={"usage_limit": 3}))
    assert (exact["usage_limit"], exact["used_count"], exact["remaining"]) == (3, 3, 0)


async def test_deleting_a_coupon_deactivates_it_and_keeps_it_listed(
        client: httpx.AsyncClient, runtime: Runtime, merchant: Merchant) -> None:
    coupon = await create(client, merchant, code="GOODBYE")
    other = await create(client, merchant, code="STAYING")
    gone = ok(await client.delete(f"/v1/coupons/{coupon['id']}", headers=merchant.headers))
    assert gone["active"] is False
    assert {k: v for k, v in gone.items() if k not in ("active", "updated_at")} == {
        k: v for k, v in coupon.items() if k not in ("active", "updated_at")}
    assert await fetch(client, merchant, coupon["id"]) == gone
    assert [c["id"] for c in await listed(client, merchant, active="true")] == [other["id"]]
    assert [c["id"] for c in await listed(client, merchant, active="false")] == [coupon["id"]]
    assert len(await listed(client, merchant)) == 2
    assert not await runtime.db.run(lambda conn: coupon_store.take_use(
        conn, uuid.UUID(coupon["id"]), datetime.now(UTC)))
    again = ok(await client.delete(f"/v1/coupons/{coupon['id']}", headers=merchant.headers))
    assert again["active"] is False


async def test_coupons_are_listed_newest_first_a_page_at_a_time(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    made = [await create(client, merchant, code=f"PAGE{n}") for n in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = ok(await client.get("/v1/coupons", headers=merchant.headers, params=params))
        assert len(page["data"]) <= 2
        seen += [c["code"] for c in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [c["code"] for c in reversed(made)]
    error_of(await client.get("/v1/coupons", headers=merchant.headers,
                              params={"cursor": "garbage"}), 422, "validation_error")
    error_of(await client.get("/v1/coupons", headers=merchant.headers,
                              params={"limit": 0}), 422, "validation_error")


async def redeem(runtime: Runtime, shop: Merchant, coupon: dict[str, Any],
                 order: dict[str, Any], discount: int) -> None:
    """What the checkout records when an order uses a coupon."""
    customer_id = uuid.UUID(order["customer"]["id"])

    async def work(conn: AsyncConnection) -> None:
        assert await coupon_store.take_use(conn, uuid.UUID(coupon["id"]), datetime.now(UTC))
        await coupon_store.record_order_coupons(conn, [{
            "id": uuid.uuid4(), "business_id": shop.principal.business_id,
            "order_id": uuid.UUID(order["id"]), "coupon_id": uuid.UUID(coupon["id"]),
            "customer_id": customer_id, "code": coupon["code"], "kind": coupon["kind"],
            "discount": discount}])

    await runtime.db.run(work)


async def test_redemptions_list_the_orders_that_used_a_coupon_and_what_was_given_back(
        client: httpx.AsyncClient, runtime: Runtime, merchant: Merchant) -> None:
    await add_product(client, merchant, "CAP", 10)
    coupon = await create(client, merchant, code="USED")
    first = await place_order(client, merchant, ("CAP", 1), phone="+1 555 0101")
    second = await place_order(client, merchant, ("CAP", 2), phone="+1 555 0102")
    await redeem(runtime, merchant, coupon, first, 500)
    await redeem(runtime, merchant, coupon, second, 450)
    url = f"/v1/coupons/{coupon['id']}/redemptions"
    rows = ok(await client.get(url, headers=merchant.headers))["data"]
    assert [(r["order_id"], r["order_number"], r["customer_id"], r["discount"],
             r["returned_at"]) for r in rows] == [
        (second["id"], second["number"], second["customer"]["id"], 450, None),
        (first["id"], first["number"], first["customer"]["id"], 500, None)]
    assert (await fetch(client, merchant, coupon["id"]))["used_count"] == 2

    given_back = await runtime.db.run(lambda conn: coupon_store.give_back_for_order(
        conn, uuid.UUID(first["id"]), datetime.now(UTC)))
    assert given_back == 1
    rows = ok(await client.get(url, headers=merchant.headers))["data"]
    assert [r["returned_at"] is not None for r in rows] == [False, True]
    assert (await fetch(client, merchant, coupon["id"]))["used_count"] == 1
    page = ok(await client.get(url, headers=merchant.headers, params={"limit": 1}))
    assert [r["order_id"] for r in page["data"]] == [second["id"]]
    rest = ok(await client.get(url, headers=merchant.headers,
                               params={"limit": 1, "cursor": page["next_cursor"]}))
    assert [r["order_id"] for r in rest["data"]] == [first["id"]]
    assert rest["next_cursor"] is None


async def test_managing_coupons_needs_admin_and_reading_them_needs_read(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    coupon = await create(client, merchant, code="SCOPED")
    reader = await key_with(client, merchant, "read")
    writer = await key_with(client, merchant, "write")
    for headers in (reader, writer):
        for refused in (
                await client.post("/v1/coupons", headers=headers,
                                  json={"code": "NEWONE", "kind": "free_shipping"}),
                await client.patch(f"/v1/coupons/{coupon['id']}", headers=headers,
                                   json={"active": False}),
                await client.delete(f"/v1/coupons/{coupon['id']}", headers=headers)):
            details = error_of(refused, 403, "forbidden")
            assert details["required_scope"] == "admin"
        assert ok(await client.get(f"/v1/coupons/{coupon['id']}", headers=headers)) == coupon
        assert ok(await client.get("/v1/coupons", headers=headers))["data"] == [coupon]
        assert ok(await client.get(f"/v1/coupons/{coupon['id']}/redemptions",
                                   headers=headers))["data"] == []
    assert await listed(client, merchant) == [coupon]  # nothing changed
    admin_only = await key_with(client, merchant, "admin")
    made = ok(await client.post("/v1/coupons", headers=admin_only,
                                json={"code": "ADMINS", "kind": "free_shipping"}), 201)
    assert ok(await client.delete(f"/v1/coupons/{made['id']}",
                                  headers=admin_only))["active"] is False
    error_of(await client.get("/v1/coupons"), 401, "unauthorized")
    error_of(await client.post("/v1/coupons", json={"code": "ANON", "kind": "free_shipping"}),
             401, "unauthorized")


async def test_another_business_cannot_see_or_change_a_coupon_but_may_use_the_same_code(
        client: httpx.AsyncClient, runtime: Runtime, merchant: Merchant,
        rival: Merchant) -> None:
    await add_product(client, merchant, "MUG", 3)
    coupon = await create(client, merchant, code="SHARED", usage_limit=4)
    order = await place_order(client, merchant, ("MUG", 1))
    await redeem(runtime, merchant, coupon, order, 500)
    before = await fetch(client, merchant, coupon["id"])
    base = f"/v1/coupons/{coupon['id']}"
    for response in (
            await client.get(base, headers=rival.headers),
            await client.patch(base, headers=rival.headers, json={"active": False,
                                                                  "usage_limit": 1}),
            await client.delete(base, headers=rival.headers),
            await client.get(f"{base}/redemptions", headers=rival.headers)):
        details = error_of(response, 404, "not_found")
        assert details == {"resource": "coupon", "id": coupon["id"]}
    assert await fetch(client, merchant, coupon["id"]) == before
    assert await listed(client, rival) == []
    assert await listed(client, rival, active="false") == []

    theirs = await create(client, rival, code="shared", kind="free_shipping")
    assert theirs["code"] == "SHARED" and theirs["id"] != coupon["id"]
    assert [c["id"] for c in await listed(client, merchant)] == [coupon["id"]]
    assert [c["id"] for c in await listed(client, rival)] == [theirs["id"]]
    error_of(await client.get(f"/v1/coupons/{theirs['id']}", headers=merchant.headers),
             404, "not_found")


@pytest.mark.parametrize("path", ["/v1/coupons/not-an-id", "/v1/coupons/123/redemptions"])
async def test_a_malformed_coupon_id_is_not_found(client: httpx.AsyncClient,
                                                  merchant: Merchant, path: str) -> None:
    error_of(await client.get(path, headers=merchant.headers), 404, "not_found")
    error_of(await client.patch(path.removesuffix("/redemptions"), headers=merchant.headers,
                                json={"active": False}), 404, "not_found")
    error_of(await client.delete(path.removesuffix("/redemptions"), headers=merchant.headers),
             404, "not_found")
