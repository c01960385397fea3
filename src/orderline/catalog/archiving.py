"""Archiving products and variants: what a merchant no longer sells, kept for the books.

An archived variant, or any variant of an archived product, cannot be added to a cart, start a
checkout, or be typed into an order (``variant_archived``). What it already holds stays as it
is: orders and their lines, live reservations (a checkout started before the archive can still
be confirmed), stock levels and their ledger, which still reconciles. Lists hide archived items
unless asked for them; reading one by id or SKU still shows it, with ``archived_at``.

The race between an archive and a sale is settled by row locks: the sale reads the variant and
product rows under a share lock (``refuse_archived``), the archive is an UPDATE of one of those
rows. Whichever takes its lock first goes first: a sale that locked first commits its line and
the archive waits for it; an archive that updated first makes the sale wait, then read the
archived row and refuse. On SQLite, one writer at a time gives the same order.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.audit import service as audit
from orderline.audit.rules import Action, EntityType
from orderline.catalog import store
from orderline.catalog.products import product_view
from orderline.core.errors import NotFound, VariantArchived
from orderline.core.runtime import Runtime
from orderline.tenancy.rules import Principal, Scope


async def refuse_archived(conn: AsyncConnection, business_id: uuid.UUID,
                          variant_ids: Sequence[uuid.UUID]) -> None:
    """Raise ``VariantArchived`` if any of these variants, or its product, is archived; holds
    a share lock on their rows until the caller's transaction ends."""
    refuse_these_archived(await store.archived_skus_locked(conn, business_id, variant_ids))


def refuse_these_archived(archived: Sequence[str]) -> None:
    """Raise ``VariantArchived`` naming these archived SKUs, if there are any."""
    if archived:
        raise VariantArchived(
            ("This product is" if len(archived) == 1 else "These products are")
            + " archived and can no longer be ordered: " + ", ".join(archived) + ".",
            details={"archived_skus": archived})


async def set_product_archived(runtime: Runtime, principal: Principal, product_id: uuid.UUID,
                               *, archived: bool) -> dict[str, Any]:
    """Archive (or unarchive) a product and so all its variants; repeating it changes
    nothing and answers the product as it is."""
    principal.require(Scope.WRITE)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        row = await store.set_product_archived(conn, principal.business_id, product_id,
                                               archived=archived, now=now)
        if row is not None:
            await runtime.checkpoints.reach("catalog.archived")
            await audit.record(conn, principal, business_id=principal.business_id,
                               entity_type=EntityType.PRODUCT, entity_id=product_id,
                               action=Action.ARCHIVED if archived else Action.UNARCHIVED,
                               before={"archived": not archived},
                               after={"archived": archived}, now=now)
        return await product_view(conn, principal.business_id, product_id)

    return await runtime.db.run(work)


async def set_variant_archived(runtime: Runtime, principal: Principal, sku: str, *,
                               archived: bool) -> dict[str, Any]:
    """Archive (or unarchive) one variant by SKU; repeating it changes nothing."""
    principal.require(Scope.WRITE)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        row = await store.set_variant_archived(conn, principal.business_id, sku,
                                               archived=archived, now=now)
        if row is None:
            row = await store.get_variant_by_sku(conn, principal.business_id, sku)
            if row is None:
                raise NotFound("variant", sku)
            return dict(row)
        await runtime.checkpoints.reach("catalog.archived")
        await audit.record(conn, principal, business_id=principal.business_id,
                           entity_type=EntityType.VARIANT, entity_id=row["id"],
                           action=Action.ARCHIVED if archived else Action.UNARCHIVED,
                           before={"archived": not archived},
                           after={"archived": archived}, now=now)
        return dict(row)

    return await runtime.db.run(work)
