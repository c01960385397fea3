"""An archive racing an add-to-cart, on real connections: one transaction is held at a named
checkpoint while the other runs, and each test asserts the one allowed outcome. The cart
either got its line before the archive committed (the archive waited), or the add waited for
the archive and was refused; never a line added after the archive committed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from orderline.catalog import archiving, inventory
from orderline.catalog import products as catalog
from orderline.checkout import carts
from orderline.checkout.carts import CartCaller
from orderline.core.checkpoints import Checkpoints
from orderline.core.errors import VariantArchived
from orderline.core.runtime import Runtime
from orderline.wiring import provide_parts
from tests.conftest import Merchant, new_merchant
from tests.support.catalog import stock_sku
from tests.support.interleaving import until_blocked_or_done


def at(runtime: Runtime, checkpoints: Checkpoints) -> Runtime:
    return provide_parts(Runtime(settings=runtime.settings, db=runtime.db, clock=runtime.clock,
                                 checkpoints=checkpoints))


async def shop_with_a_cart(runtime: Runtime) -> tuple[Merchant, dict[str, Any]]:
    merchant = await new_merchant(runtime)
    await stock_sku(runtime, merchant, "RACE", 5)
    cart = await carts.create_cart(runtime, merchant.principal, channel="web")
    return merchant, cart


async def archive(runtime: Runtime, merchant: Merchant, what: str) -> dict[str, Any]:
    """Archive the SKU itself, or its product."""
    if what == "variant":
        return await archiving.set_variant_archived(runtime, merchant.principal, "RACE",
                                                    archived=True)
    [product] = await catalog.list_products(runtime, merchant.principal, limit=1, after=None)
    return await archiving.set_product_archived(runtime, merchant.principal, product["id"],
                                                archived=True)


@pytest.mark.parametrize("what", ["variant", "product"])
async def test_a_line_added_before_the_archive_commits_stays_and_the_archive_waits_for_it(
        runtime: Runtime, what: str) -> None:
    merchant, cart = await shop_with_a_cart(runtime)
    caller = CartCaller.merchant(merchant.principal)
    shared = Checkpoints()
    gate = shared.pause_at("cart.variant_checked")
    adding = asyncio.create_task(carts.add_line(at(runtime, shared), caller, cart["id"],
                                                sku="RACE", quantity=2))
    await gate.reached.wait()
    archiving_task = asyncio.create_task(archive(at(runtime, Checkpoints()), merchant, what))

    assert await until_blocked_or_done(runtime, archiving_task) == "blocked"
    gate.release()

    added = await adding
    assert [(line["sku"], line["quantity"]) for line in added["lines"]] == [("RACE", 2)]
    assert (await archiving_task)["archived_at"] is not None
    with pytest.raises(VariantArchived):
        await carts.add_line(runtime, caller, cart["id"], sku="RACE", quantity=1)
    kept = await carts.get_cart(runtime, caller, cart["id"])
    assert [(line["sku"], line["quantity"]) for line in kept["lines"]] == [("RACE", 2)]
    assert await inventory.reconcile(runtime, merchant.principal.business_id) == []


@pytest.mark.parametrize("what", ["variant", "product"])
async def test_an_add_that_reaches_the_sku_after_the_archive_waits_and_is_refused(
        runtime: Runtime, what: str) -> None:
    merchant, cart = await shop_with_a_cart(runtime)
    caller = CartCaller.merchant(merchant.principal)
    shared = Checkpoints()
    gate = shared.pause_at("catalog.archived")
    archiving_task = asyncio.create_task(archive(at(runtime, shared), merchant, what))
    await gate.reached.wait()
    adding = asyncio.create_task(carts.add_line(at(runtime, Checkpoints()), caller, cart["id"],
                                                sku="RACE", quantity=1))

    assert await until_blocked_or_done(runtime, adding) == "blocked"
    gate.release()

    assert (await archiving_task)["archived_at"] is not None
    with pytest.raises(VariantArchived) as refused:
        await adding
    assert refused.value.details == {"archived_skus": ["RACE"]}
    assert (await carts.get_cart(runtime, caller, cart["id"]))["lines"] == []
