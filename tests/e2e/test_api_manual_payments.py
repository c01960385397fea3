"""Manual payments over HTTP: methods from templates, an order's instructions, proof uploads
(type from the bytes, metadata stripped, bombs and fakes refused), and who may see what."""

from __future__ import annotations

import io
from datetime import timedelta

import httpx
import pytest
from PIL import Image

from orderline.bench.receipts import draw_receipt_pdf
from orderline.core.clock import ManualClock
from orderline.core.runtime import Runtime
from orderline.manual_payments.review_rules import REFERENCE_ALPHABET, REFERENCE_LENGTH
from tests.conftest import Merchant
from tests.e2e.conftest import error_of, levels, ok
from tests.support.checkout import confirm, new_cart, open_shop, start_checkout
from tests.support.manual import (
    buyer,
    manual_order,
    manual_shop,
    php_merchant,
    receipt_for,
    upload,
)
from tests.support.proof_samples import GPS_IFD, exif_with_gps, image_bytes, png_bomb_bytes


@pytest.fixture
async def rival_shop(shop_runtime: Runtime, http: httpx.AsyncClient) -> Merchant:
    merchant = await php_merchant(shop_runtime, name="Rival")
    await manual_shop(http, merchant)
    return merchant


async def test_templates_are_offered_per_country(http: httpx.AsyncClient,
                                                 shop: Merchant) -> None:
    ph = ok(await http.get("/v1/payment-method-templates", headers=shop.headers,
                           params={"country": "ph"}))["data"]
    assert {t["code"] for t in ph} == {"gcash", "maya", "ph_bank_transfer"}
    assert all(t["currency"] == "PHP" for t in ph)
    np_ = ok(await http.get("/v1/payment-method-templates", headers=shop.headers,
                            params={"country": "NP"}))["data"]
    assert {"esewa", "khalti"} <= {t["code"] for t in np_}
    none = ok(await http.get("/v1/payment-method-templates", headers=shop.headers,
                             params={"country": "FR"}))["data"]
    assert none == []


async def test_a_method_needs_an_account_a_free_code_and_the_shops_currency(
        http: httpx.AsyncClient, shop: Merchant) -> None:
    error_of(await http.post("/v1/payment-methods", headers=shop.headers, json={
        "template": "gcash", "account_name": "X", "account_number": "1"}), 409, "conflict")
    error_of(await http.post("/v1/payment-methods", headers=shop.headers, json={
        "template": "duitnow", "account_name": "X", "account_number": "1"}), 422,
        "validation_error")  # MYR in a PHP shop
    error_of(await http.post("/v1/payment-methods", headers=shop.headers, json={
        "code": "card", "name": "Card?", "kind": "e_wallet", "account_name": "X",
        "account_number": "1"}), 422, "validation_error")
    error_of(await http.post("/v1/payment-methods", headers=shop.headers, json={
        "template": "ph_bank_transfer", "account_name": "X", "account_number": "1"}), 422,
        "validation_error")  # a bank transfer names its bank
    listed = ok(await http.get("/v1/payment-methods", headers=shop.headers))["data"]
    assert [m["code"] for m in listed] == ["gcash"]


async def test_a_manual_order_gets_a_reference_the_exact_amount_and_a_proof_deadline(
        http: httpx.AsyncClient, shop: Merchant, clock: ManualClock) -> None:
    order = await manual_order(http, shop, quantity=2)
    mp = order["manual_payment"]
    assert len(mp["reference"]) == REFERENCE_LENGTH
    assert set(mp["reference"]) <= set(REFERENCE_ALPHABET)
    assert mp["amount"] == order["total"] == 250_000 and mp["currency"] == "PHP"
    assert "PHP 2,500.00" in mp["instructions"] and mp["reference"] in mp["instructions"]
    assert mp["method"]["account_number"] == "0917 555 0101"
    deadline = clock.now() + timedelta(minutes=1440)
    assert mp["proof_deadline"].startswith(deadline.isoformat()[:19])
    # The stock is held until the proof deadline, not the 15-minute card deadline.
    assert order["payment_deadline"] == mp["proof_deadline"]
    assert await levels(http, shop, "TEE") == (10, 2, 8)
    other = await manual_order(http, shop)
    assert other["manual_payment"]["reference"] != mp["reference"]


async def test_a_switched_off_method_is_refused_at_order_time(
        http: httpx.AsyncClient, shop: Merchant) -> None:
    method = ok(await http.get("/v1/payment-methods", headers=shop.headers))["data"][0]
    ok(await http.patch(f"/v1/payment-methods/{method['id']}", headers=shop.headers,
                        json={"channels": ["web"]}))
    response = await http.post("/v1/orders", headers=shop.headers, json={
        "customer": {"name": "A", "phone": "+63 917 000 0001"}, "channel": "whatsapp",
        "payment_method": "gcash", "lines": [{"sku": "TEE", "quantity": 1}]})
    error_of(response, 422, "payment_method_unavailable")
    ok(await http.patch(f"/v1/payment-methods/{method['id']}", headers=shop.headers,
                        json={"channels": [], "enabled": False}))
    error_of(await http.post("/v1/orders", headers=shop.headers, json={
        "customer": {"name": "A", "phone": "+63 917 000 0001"}, "channel": "web",
        "payment_method": "gcash", "lines": [{"sku": "TEE", "quantity": 1}]}), 422,
        "payment_method_unavailable")
    assert await levels(http, shop, "TEE") == (10, 0, 10)


async def test_instructions_are_for_the_orders_buyer_and_merchant_only(
        http: httpx.AsyncClient, shop: Merchant, rival_shop: Merchant) -> None:
    order = await manual_order(http, shop)
    other = await manual_order(http, shop, phone="+63 917 555 0100")
    url = f"/v1/orders/{order['id']}/payment-instructions"
    as_buyer = ok(await http.get(url, headers=buyer(order)))
    assert as_buyer["reference"] == order["manual_payment"]["reference"]
    assert as_buyer["method"]["account_name"] == "Juan Dela Cruz"
    assert ok(await http.get(url, headers=shop.headers))["amount"] == order["total"]
    error_of(await http.get(url, headers=buyer(other)), 404, "not_found")
    error_of(await http.get(url, headers=rival_shop.headers), 404, "not_found")
    error_of(await http.get(url, headers={"Authorization": "Bearer oat_forged"}), 404,
             "not_found")
    error_of(await http.get(url), 401, "unauthorized")


async def test_a_buyer_uploads_a_receipt_and_gets_it_back_cleaned(
        http: httpx.AsyncClient, shop: Merchant, rival_shop: Merchant) -> None:
    order = await manual_order(http, shop)
    proof = ok(await upload(http, order, receipt_for(order)), 201)
    assert proof["status"] == "pending" and proof["version"] == 1
    assert proof["media_type"] == "image/png"
    assert "score" not in proof  # never shown to the buyer
    file_url = proof["file_url"]
    got = await http.get(file_url, headers=buyer(order))
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff"
    with Image.open(io.BytesIO(got.content)) as img:
        assert img.format == "PNG" and img.width == 720
    assert (await http.get(file_url, headers=shop.headers)).content == got.content
    error_of(await http.get(file_url, headers=rival_shop.headers), 404, "not_found")
    listed = ok(await http.get(f"/v1/orders/{order['id']}/payment-proofs",
                               headers=shop.headers))["data"]
    assert [p["id"] for p in listed] == [proof["id"]]
    history = ok(await http.get(f"/v1/orders/{order['id']}/history", headers=shop.headers))
    assert history[-1]["action"] == "payment_proof_submitted"


async def test_a_jpeg_with_gps_exif_comes_back_without_it(
        http: httpx.AsyncClient, shop: Merchant) -> None:
    order = await manual_order(http, shop)
    original = image_bytes("JPEG", (320, 200), exif=exif_with_gps())
    proof = ok(await upload(http, order, original), 201)
    got = (await http.get(proof["file_url"], headers=buyer(order))).content
    assert b"Exif" not in got and b"PhoneCo" not in got
    with Image.open(io.BytesIO(got)) as img:
        assert img.format == "JPEG"
        assert len(img.getexif()) == 0 and not img.getexif().get_ifd(GPS_IFD)


async def test_a_png_bomb_a_fake_png_and_a_truncated_file_are_refused_and_change_nothing(
        http: httpx.AsyncClient, shop: Merchant) -> None:
    order = await manual_order(http, shop)
    error_of(await upload(http, order, png_bomb_bytes()), 413, "image_too_large")
    error_of(await http.put(f"/v1/orders/{order['id']}/payment-proof", headers=buyer(order),
                            files={"file": ("receipt.png", b"I paid, trust me\n",
                                            "image/png")}), 415, "unsupported_file_type")
    good = receipt_for(order)
    error_of(await upload(http, order, good[: len(good) // 2]), 422, "corrupt_file")
    error_of(await upload(http, order, b""), 422, "validation_error")
    assert ok(await http.get(f"/v1/orders/{order['id']}/payment-proofs",
                             headers=shop.headers))["data"] == []


async def test_a_pdf_named_jpg_is_taken_as_the_pdf_it_is(
        http: httpx.AsyncClient, shop: Merchant) -> None:
    order = await manual_order(http, shop)
    pdf = draw_receipt_pdf(amount="1,250.00", reference=order["manual_payment"]["reference"],
                           date="Dec 02, 2026", recipient="Juan Dela Cruz")
    response = await http.put(f"/v1/orders/{order['id']}/payment-proof", headers=buyer(order),
                              files={"file": ("receipt.jpg", pdf, "image/jpeg")})
    proof = ok(response, 201)
    assert proof["media_type"] == "application/pdf"
    got = await http.get(proof["file_url"], headers=buyer(order))
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"].startswith("attachment")
    assert got.content == pdf


async def test_files_over_the_shops_limit_are_refused(
        http: httpx.AsyncClient, shop: Merchant) -> None:
    ok(await http.patch("/v1/business/manual-payments", headers=shop.headers,
                        json={"proof_max_bytes": 20_000}))
    order = await manual_order(http, shop)
    big = image_bytes("PNG", (400, 400)) + bytes(30_000)  # a PNG with junk after IEND
    error_of(await upload(http, order, big), 413, "file_too_large")
    error_of(await http.patch("/v1/business/manual-payments", headers=shop.headers,
                              json={"proof_max_bytes": 500 * 1024 * 1024}), 422,
             "validation_error")


async def test_the_server_refuses_a_body_over_the_upload_cap_before_reading_it(
        http: httpx.AsyncClient, shop: Merchant, shop_runtime: Runtime) -> None:
    order = await manual_order(http, shop)
    cap = shop_runtime.settings.proof_upload_max_bytes
    details = error_of(await upload(http, order, bytes(cap + 128 * 1024)), 413,
                       "file_too_large")
    assert details["max_bytes"] > cap


async def test_no_proof_after_the_deadline(http: httpx.AsyncClient, shop: Merchant,
                                           clock: ManualClock) -> None:
    order = await manual_order(http, shop)
    clock.advance(24 * 3600 + 1)
    error_of(await upload(http, order, receipt_for(order)), 409, "proof_deadline_passed")


async def test_the_same_receipt_for_another_order_is_a_duplicate(
        http: httpx.AsyncClient, shop: Merchant, rival_shop: Merchant) -> None:
    first = await manual_order(http, shop)
    second = await manual_order(http, shop, phone="+63 917 555 0100")
    receipt = receipt_for(first, noise="same")
    ok(await upload(http, first, receipt), 201)
    error_of(await upload(http, second, receipt), 409, "duplicate_proof")
    # Sending it again for its own order is no duplicate (it supersedes the pending one).
    again = ok(await upload(http, first, receipt), 201)
    assert again["version"] == 2
    proofs = ok(await http.get(f"/v1/orders/{first['id']}/payment-proofs",
                               headers=shop.headers))["data"]
    assert [p["status"] for p in proofs] == ["superseded", "pending"]
    # Another business's order is not this business's duplicate.
    rival_order = await manual_order(http, rival_shop)
    ok(await upload(http, rival_order, receipt), 201)


async def test_a_card_order_takes_no_proof(http: httpx.AsyncClient, shop: Merchant) -> None:
    order = await manual_order(http, shop, method="card")
    assert order["manual_payment"] is None
    error_of(await upload(http, order, image_bytes("PNG")), 404, "not_found")


async def test_a_merchant_may_upload_for_the_buyer_with_a_write_key_only(
        http: httpx.AsyncClient, shop: Merchant) -> None:
    order = await manual_order(http, shop)
    reader = ok(await http.post("/v1/api-keys", headers=shop.headers,
                                json={"name": "ro", "scopes": ["read"]}), 201)["key"]
    error_of(await upload(http, order, receipt_for(order),
                          headers={"Authorization": f"Bearer {reader}"}), 403, "forbidden")
    proof = ok(await upload(http, order, receipt_for(order), headers=shop.headers), 201)
    assert proof["uploaded_by"].startswith("api_key:")


async def test_settings_are_the_businesses_own(http: httpx.AsyncClient, shop: Merchant,
                                                rival_shop: Merchant) -> None:
    changed = ok(await http.patch("/v1/business/manual-payments", headers=shop.headers, json={
        "proof_deadline_minutes": 120, "auto_approve_threshold": 0.9,
        "proof_retention_days": 30}))
    assert changed["auto_approve_threshold"] == 0.9
    theirs = ok(await http.get("/v1/business/manual-payments", headers=rival_shop.headers))
    assert theirs["proof_deadline_minutes"] == 1440 and theirs["auto_approve_threshold"] is None
    error_of(await http.patch("/v1/business/manual-payments", headers=shop.headers,
                              json={"auto_approve_threshold": 0.2}), 422, "validation_error")


async def test_another_businesss_method_cannot_be_changed(
        http: httpx.AsyncClient, shop: Merchant, rival_shop: Merchant) -> None:
    theirs = ok(await http.get("/v1/payment-methods", headers=rival_shop.headers))["data"][0]
    error_of(await http.patch(f"/v1/payment-methods/{theirs['id']}", headers=shop.headers,
                              json={"account_number": "mine now"}), 404, "not_found")
    assert ok(await http.get("/v1/payment-methods", headers=rival_shop.headers)
              )["data"][0]["account_number"] == "0917 555 0101"


async def test_a_manual_method_works_through_checkout(
        http: httpx.AsyncClient, shop: Merchant) -> None:
    await open_shop(http, shop, products={}, shipping=10_000, tax_rate=None,
                    countries=("PH",))
    cart = await new_cart(http, shop, ("TEE", 1))
    checkout = await start_checkout(http, cart, payment_method="gcash", address={
        "name": "Maria", "line1": "1 Rizal St", "city": "Manila", "postal_code": "1000",
        "country": "PH"})
    placed = ok(await confirm(http, cart, checkout), 201)
    mp = placed["manual_payment"]
    assert mp["amount"] == placed["total"] == 135_000
    assert placed["payment_deadline"] == mp["proof_deadline"]
    proof = ok(await upload(http, placed, receipt_for(placed)), 201)
    assert proof["status"] == "pending"


async def test_the_lines_of_a_manual_order_cannot_change_under_the_buyer(
        http: httpx.AsyncClient, shop: Merchant) -> None:
    order = await manual_order(http, shop)
    error_of(await http.put(f"/v1/orders/{order['id']}", headers=shop.headers,
                            json={"lines": [{"sku": "TEE", "quantity": 3}]}), 409,
             "order_not_editable")
    assert ok(await http.get(f"/v1/orders/{order['id']}", headers=shop.headers)
              )["total"] == order["manual_payment"]["amount"]


async def test_personal_data_is_exported_and_erased_by_its_business_only(
        http: httpx.AsyncClient, shop: Merchant, rival_shop: Merchant) -> None:
    order = await manual_order(http, shop)
    ok(await upload(http, order, receipt_for(order)), 201)
    customer = ok(await http.get(f"/v1/orders/{order['id']}", headers=shop.headers)
                  )["customer"]["id"]
    url = f"/v1/customers/{customer}/personal-data"
    error_of(await http.get(url, headers=rival_shop.headers), 404, "not_found")
    error_of(await http.delete(url, headers=rival_shop.headers), 404, "not_found")
    reader = ok(await http.post("/v1/api-keys", headers=shop.headers,
                                json={"name": "ro", "scopes": ["read", "write"]}), 201)["key"]
    error_of(await http.delete(url, headers={"Authorization": f"Bearer {reader}"}), 403,
             "forbidden")
    exported = ok(await http.get(url, headers=shop.headers))
    assert exported["customer"]["name"] == "Maria Santos"
    assert exported["orders"][0]["number"] == order["number"]
    assert len(exported["payment_proofs"]) == 1
    details = error_of(await http.delete(url, headers=shop.headers), 409,
                       "customer_has_open_orders")
    assert details["orders"] == [order["number"]]
    ok(await http.delete(f"/v1/orders/{order['id']}", headers=shop.headers))
    erased = ok(await http.delete(url, headers=shop.headers))
    assert erased["proof_files_deleted"] == 1
    after = ok(await http.get(url, headers=shop.headers))
    assert "Maria" not in repr(after) and "+63 917 555 0199" not in repr(after)
    assert after["payment_proofs"][0]["file_url"] is None
    kept = ok(await http.get(f"/v1/orders/{order['id']}", headers=shop.headers))
    assert kept["total"] == order["total"] and kept["customer"]["name"] == "Erased customer"
    error_of(await http.get(f"/v1/orders/{order['id']}/payment-proofs/"
                            f"{after['payment_proofs'][0]['id']}/file", headers=shop.headers),
             410, "proof_file_deleted")
