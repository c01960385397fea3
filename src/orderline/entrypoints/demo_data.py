"""The demo business that ``orderline demo`` loads: a small shop with stock."""

from __future__ import annotations

from orderline.bootstrap import Runtime
from orderline.services import catalog, tenancy
from orderline.services.catalog import NewVariant

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
                                                  scopes=["read", "write", "admin"])
        return str(existing["id"]), issued.key
    created = await tenancy.create_business(runtime, name=DEMO_BUSINESS, currency="USD")
    principal = await tenancy.authenticate(runtime, created.api_key.key)
    for name, description, variants in PRODUCTS:
        await catalog.create_product(runtime, principal, name=name, description=description,
                                     variants=variants)
    return str(created.id), created.api_key.key
