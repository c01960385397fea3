from orderline.catalog import products as catalog
from orderline.core.runtime import Runtime
from orderline.demo.shop import load_demo
from orderline.manual_payments import methods as manual_methods
from orderline.tenancy import service as tenancy


async def test_the_demo_shop_is_loaded_once_and_each_start_gets_a_working_key(
        runtime: Runtime) -> None:
    first_id, first_key = await load_demo(runtime)
    again_id, again_key = await load_demo(runtime)

    assert first_id == again_id and first_key != again_key
    principal = await tenancy.authenticate(runtime, again_key)
    products = await catalog.list_products(runtime, principal, limit=50, after=None)
    skus = sorted(v["sku"] for p in products for v in p["variants"])
    assert skus == ["BEAN-HOUSE-250", "MUG-350", "TEE-L", "TEE-M", "TEE-S"]
    assert "verify" in principal.scopes  # the demo key can work the verification queue
    methods = await manual_methods.list_methods(runtime, principal)
    assert [m["code"] for m in methods] == ["bank_wire"]
