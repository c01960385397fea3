"""The demo business that ``orderline demo`` loads: a small shop with stock, shipping to the
US and Canada with sales tax, a welcome coupon, and a bank wire taken by proof of payment, so a
buyer can check out at once; a few orders from its channels (paid, shipped, waiting for
payment); and a demo owner for the console, whose password is new at every start (printed
once: the only way to learn it)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal

from orderline.catalog import products as catalog
from orderline.catalog.products import NewVariant
from orderline.checkout import carts, direct_orders
from orderline.checkout.direct_orders import NewOrder
from orderline.core.runtime import Runtime
from orderline.coupons import service as coupons
from orderline.manual_payments import methods as manual_methods
from orderline.orders import status as order_status
from orderline.orders.rules import RequestedLine
from orderline.orders.service import Contact
from orderline.payments import service as payments
from orderline.shipping import service as shipping
from orderline.staff import service as staff
from orderline.tenancy import service as tenancy
from orderline.tenancy.rules import Principal

DEMO_BUSINESS = "Demo Coffee Shop"
DEMO_OWNER_EMAIL = "owner@demo-coffee.example"
DEMO_OWNER_NAME = "Dana Demo"

# (customer, phone, channel, lines, payment method, what happens next)
ORDERS = [
    ("Ana Reyes", "+1 415 555 0101", "web", [("BEAN-HOUSE-250", 2)], "card", "shipped"),
    ("Ben Okafor", "+1 415 555 0102", "whatsapp", [("TEE-M", 1), ("MUG-350", 2)], "card",
     "paid"),
    ("Chen Wei", "+1 415 555 0103", "instagram", [("TEE-S", 1)], "card", "paid"),
    ("Dewi Lestari", "+1 415 555 0104", "whatsapp", [("BEAN-HOUSE-250", 1)], "bank_wire",
     "unpaid"),
    ("Emma Novak", "+1 415 555 0105", "web", [("MUG-350", 1)], "card", "unpaid"),
]


@dataclass(frozen=True, slots=True)
class DemoShop:
    business_id: str
    api_key: str  # a fresh key with every scope, made at each start
    owner_email: str
    owner_password: str  # new at each start; the console's log-in
    cart_token: str  # a new cart at each start (a mug and a bag of beans): the buyer's link

PRODUCTS = [
    ("House blend beans 250g", "Medium roast.",
     [NewVariant("BEAN-HOUSE-250", "House blend 250g", 1250, low_stock_threshold=5,
                 initial_stock=40)]),
    ("Logo T-shirt", "Organic cotton.",
     [NewVariant(f"TEE-{size}", f"Logo T-shirt {size}", 2000, low_stock_threshold=2,
                 initial_stock=stock) for size, stock in (("S", 10), ("M", 12), ("L", 1))]),
    ("Ceramic mug", "350 ml.",
     [NewVariant("MUG-350", "Ceramic mug 350ml", 900, initial_stock=25)]),
]


async def load_demo(runtime: Runtime) -> DemoShop:
    """Create the demo business once (with its orders and its owner); at every start a fresh
    API key and a new password for the demo owner."""
    password = _one_time_password()
    existing = await tenancy.find_business_named(runtime, DEMO_BUSINESS)
    if existing is not None:
        issued = await tenancy.issue_operator_key(runtime, existing["id"], name="demo",
                                                  scopes=["read", "write", "admin", "verify"])
        await staff.set_password_by_operator(runtime, existing["id"], DEMO_OWNER_EMAIL,
                                             password)
        cart_token = await _buyers_cart(runtime, await tenancy.authenticate(runtime, issued.key))
        return DemoShop(str(existing["id"]), issued.key, DEMO_OWNER_EMAIL, password, cart_token)
    created = await tenancy.create_business(runtime, name=DEMO_BUSINESS, currency="USD")
    principal = await tenancy.authenticate(runtime, created.api_key.key)
    for name, description, variants in PRODUCTS:
        await catalog.create_product(runtime, principal, name=name, description=description,
                                     variants=variants)
    await _checkout_setup(runtime, principal)
    await _orders(runtime, principal)
    invitation = await staff.invite(runtime, None, email=DEMO_OWNER_EMAIL, role="owner",
                                    business_id=created.id)
    await staff.accept_invitation(runtime, invitation.token, DEMO_OWNER_NAME, password)
    return DemoShop(str(created.id), created.api_key.key, DEMO_OWNER_EMAIL, password,
                    await _buyers_cart(runtime, principal))


async def _buyers_cart(runtime: Runtime, principal: Principal) -> str:
    """A cart as a chat bot would start it for a buyer (a mug and a bag of beans, on
    WhatsApp); its token opens the hosted checkout, ``/c/{token}``. An open cart holds no
    stock, so one per start costs nothing."""
    cart = await carts.create_cart(runtime, principal, channel="whatsapp")
    buyer = carts.CartCaller(business_id=principal.business_id, cart_id=cart["id"],
                             principal=None)
    for sku, quantity in (("MUG-350", 1), ("BEAN-HOUSE-250", 2)):
        await carts.add_line(runtime, buyer, cart["id"], sku=sku, quantity=quantity)
    return str(cart["token"])


def _one_time_password() -> str:
    """Four random words' worth of letters and digits: easy to copy, never reused."""
    return "-".join(secrets.token_hex(3) for _ in range(4))


async def _orders(runtime: Runtime, principal: Principal) -> None:
    """A few orders from the shop's channels, so the console has something to show."""
    for number, (name, phone, channel, lines, method, then) in enumerate(ORDERS):
        order = await direct_orders.create_order(runtime, principal, NewOrder(
            customer=Contact(name=name, phone=phone), channel=channel,
            lines=[RequestedLine(sku, qty) for sku, qty in lines], payment_method=method))
        if then in ("paid", "shipped"):
            await order_status.confirm_payment(runtime, principal, order["id"],
                                               reference=f"demo-{number + 1}",
                                               amount=order["total"])
        if then == "shipped":
            await payments.ship_order(runtime, principal, order["id"], carrier="USPS",
                                      tracking_number=f"9400100000000000000{number}",
                                      tracking_url=None)


async def _checkout_setup(runtime: Runtime, principal: Principal) -> None:
    home = await shipping.create_zone(runtime, principal, name="United States", countries=["US"])
    await shipping.add_method(runtime, principal, home["id"], name="Standard", kind="free_above",
                              price=500, free_above=5000)
    await shipping.add_method(runtime, principal, home["id"], name="Express", kind="flat",
                              price=1500, position=1)
    await shipping.add_tax_rate(runtime, principal, home["id"], name="Sales tax", rate="8.25")
    canada = await shipping.create_zone(runtime, principal, name="Canada", countries=["CA"],
                                        position=1)
    await shipping.add_method(runtime, principal, canada["id"], name="Tracked", kind="flat",
                              price=1200)
    await shipping.add_tax_rate(runtime, principal, canada["id"], name="GST", rate="5")
    await coupons.create_coupon(runtime, principal, code="WELCOME10", kind="percentage",
                                percent_off=Decimal(10), per_customer_limit=1)
    await manual_methods.create_method(
        runtime, principal, template=None, code="bank_wire", name="Bank wire",
        kind="bank_transfer", currency=None, account_name="Demo Coffee Shop LLC",
        account_number="021000021 / 000123456789", bank_name="Demo National Bank",
        details={"routing": "021000021"}, instructions=None, channels=[], enabled=True,
        position=0)
