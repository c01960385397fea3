"""The demo business that ``orderline demo`` loads: a small shop with stock, shipping to the
US and Canada with sales tax, a welcome coupon, and a bank wire taken by proof of payment, so a
buyer can check out at once."""

from __future__ import annotations

from decimal import Decimal

from orderline.catalog import products as catalog
from orderline.catalog.products import NewVariant
from orderline.core.runtime import Runtime
from orderline.coupons import service as coupons
from orderline.manual_payments import methods as manual_methods
from orderline.shipping import service as shipping
from orderline.tenancy import service as tenancy
from orderline.tenancy.rules import Principal

DEMO_BUSINESS = "Demo Coffee Shop"

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


async def load_demo(runtime: Runtime) -> tuple[str, str]:
    """Create the demo business once; return (business id, a fresh demo API key)."""
    existing = await tenancy.find_business_named(runtime, DEMO_BUSINESS)
    if existing is not None:
        issued = await tenancy.issue_operator_key(runtime, existing["id"], name="demo",
                                                  scopes=["read", "write", "admin", "verify"])
        return str(existing["id"]), issued.key
    created = await tenancy.create_business(runtime, name=DEMO_BUSINESS, currency="USD")
    principal = await tenancy.authenticate(runtime, created.api_key.key)
    for name, description, variants in PRODUCTS:
        await catalog.create_product(runtime, principal, name=name, description=description,
                                     variants=variants)
    await _checkout_setup(runtime, principal)
    return str(created.id), created.api_key.key


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
