import pytest

from orderline.catalog import products as catalog
from orderline.checkout import carts
from orderline.core.errors import LoginFailed
from orderline.core.runtime import Runtime
from orderline.demo.shop import DEMO_BUSINESS, load_demo
from orderline.manual_payments import methods as manual_methods
from orderline.orders import service as orders
from orderline.orders.store import OrderFilter
from orderline.staff import sessions
from orderline.tenancy import service as tenancy
from tests.support.staff import staff_runtime

CLIENT = {"client_ip": "192.0.2.10", "user_agent": "pytest demo"}


async def test_the_demo_shop_is_loaded_once_and_each_start_gets_a_working_key(
        runtime: Runtime) -> None:
    first = await load_demo(runtime)
    again = await load_demo(runtime)
    first_id, first_key, again_id, again_key = (first.business_id, first.api_key,
                                                again.business_id, again.api_key)

    assert first_id == again_id and first_key != again_key
    principal = await tenancy.authenticate(runtime, again_key)
    products = await catalog.list_products(runtime, principal, limit=50, after=None)
    skus = sorted(v["sku"] for p in products for v in p["variants"])
    assert skus == ["BEAN-HOUSE-250", "MUG-350", "TEE-L", "TEE-M", "TEE-S"]
    assert "verify" in principal.scopes  # the demo key can work the verification queue
    methods = await manual_methods.list_methods(runtime, principal)
    assert [m["code"] for m in methods] == ["bank_wire"]


async def test_each_demo_start_gives_the_demo_owner_a_new_password_that_logs_in(
        runtime: Runtime) -> None:
    staff_runtime(runtime)
    first = await load_demo(runtime)
    again = await load_demo(runtime)
    assert first.owner_email == again.owner_email
    assert first.owner_password != again.owner_password
    with pytest.raises(LoginFailed):
        await sessions.log_in(runtime, first.owner_email, first.owner_password, **CLIENT)
    started = await sessions.log_in(runtime, again.owner_email, again.owner_password, **CLIENT)
    assert started.session.role == "owner"
    assert started.session.business_name == DEMO_BUSINESS
    assert str(started.session.business_id) == again.business_id


async def test_the_demo_shop_has_orders_from_its_channels_for_the_console(
        runtime: Runtime) -> None:
    demo = await load_demo(runtime)
    principal = await tenancy.authenticate(runtime, demo.api_key)
    listed = await orders.list_orders(runtime, principal, OrderFilter(), limit=50, before=None)
    statuses = sorted(order["status"] for order in listed)
    assert {"paid", "shipped"} <= set(statuses)
    # The unpaid ones wait for payment until their deadline. This database is shared by the
    # whole run, so an earlier load's lapsed orders may since have been cancelled by another
    # test's deadline sweep, as a worker would cancel them in a demo left running overnight.
    unpaid = [order for order in listed if order["status"] not in {"paid", "shipped"}]
    assert unpaid
    assert all(order["status"] == "pending_payment"
               or (order["status"], order["cancel_reason"]) == ("cancelled", "payment_timeout")
               for order in unpaid), unpaid
    assert {order["channel"] for order in listed} >= {"web", "whatsapp", "instagram"}


async def test_each_demo_start_gives_a_new_buyers_cart_link_of_the_demo_shop(
        runtime: Runtime) -> None:
    first = await load_demo(runtime)
    again = await load_demo(runtime)
    assert first.cart_token != again.cart_token
    buyer = await carts.caller_for_token(runtime, again.cart_token)
    assert str(buyer.business_id) == again.business_id and buyer.principal is None
    assert buyer.cart_id is not None
    cart = await carts.get_cart(runtime, buyer, buyer.cart_id)
    assert cart["channel"] == "whatsapp"
    assert sorted((line["sku"], line["quantity"]) for line in cart["lines"]) == [
        ("BEAN-HOUSE-250", 2), ("MUG-350", 1)]
