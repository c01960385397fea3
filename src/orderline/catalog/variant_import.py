"""Variants created or changed from a CSV file
(``sku[,product][,name][,price|price_minor][,low_stock_threshold][,weight_grams]``): one
transaction for the whole file, or nothing.

A row naming a SKU the business has changes the fields the row fills (an empty cell leaves its
field as it is); each change is audited as an edit through the API is. A row naming a new SKU
creates it, and must give its product (by name: the product of that name, or a new one when
the business has none; a name on several products is refused as ambiguous), its name and its
price. Prices are in the business's currency. Sending a file twice changes nothing the second
time. New variants start with no stock (import the stock levels next).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.audit import service as audit
from orderline.audit.rules import Action, EntityType
from orderline.catalog import stock_store, store
from orderline.catalog.import_rules import (
    DryRunDone,
    RowProblem,
    VariantLine,
    new_variant_problems,
    read_variants,
    rejected,
)
from orderline.catalog.products import check_sku
from orderline.core.errors import Conflict
from orderline.core.runtime import Runtime
from orderline.idempotency.service import NO_KEY, Claim
from orderline.tenancy.rules import Principal, Scope


async def import_variants(runtime: Runtime, principal: Principal, data: bytes, *,
                          dry_run: bool = False, claim: Claim = NO_KEY) -> dict[str, Any]:
    """Create or change every variant the file names; ``ImportRejected`` (nothing changed)
    when any row is wrong. Answers what each row did (``created``, ``updated`` with the
    fields, or ``unchanged``)."""
    principal.require(Scope.WRITE)
    lines, bad_rows = read_variants(data, principal.currency, check_sku=check_sku)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        problems: list[RowProblem] = list(bad_rows)
        outcomes: list[dict[str, Any]] = []
        new_lines: list[VariantLine] = []
        existing = await store.variants_by_sku(conn, principal.business_id,
                                               [ln.sku for ln in lines], lock=True)
        for line in lines:
            before = existing.get(line.sku)
            if before is None:
                problems.extend(new_variant_problems(line))
                new_lines.append(line)
                continue
            outcomes.append(await _change(conn, principal, line, before, now))
        named = await store.products_named(
            conn, principal.business_id, sorted({ln.product for ln in new_lines if ln.product}))
        for name, ids in named.items():
            if len(ids) > 1:
                problems.extend(RowProblem(ln.row, "product", "ambiguous_product",
                                           f"{len(ids)} products are called {name}; rename "
                                           "them apart first.")
                                for ln in new_lines if ln.product == name)
        if problems:
            raise rejected(problems)
        outcomes += await _create(conn, principal, new_lines, named, now)
        outcomes.sort(key=lambda o: int(o["row"]))
        answer = {"dry_run": dry_run, "rows": len(lines),
                  "changed": sum(1 for o in outcomes if o["action"] != "unchanged"),
                  "changes": outcomes}
        if dry_run:
            raise DryRunDone(answer)
        return await claim.keep(conn, answer)

    try:
        return await runtime.db.run(work)
    except DryRunDone as done:
        return done.answer
    except IntegrityError:  # the same new SKU created by another request at this moment
        raise Conflict("Another change created one of these SKUs at the same moment; send "
                       "the file again.") from None


async def _change(conn: AsyncConnection, principal: Principal, line: VariantLine,
                  before: Any, now: datetime) -> dict[str, Any]:
    values = {k: v for k, v in line.changes().items() if before[k] != v}
    if not values:
        return {"row": line.row, "sku": line.sku, "action": "unchanged", "fields": []}
    after = await store.update_variant(conn, principal.business_id, line.sku,
                                       {**values, "updated_at": now})
    assert after is not None  # locked by the caller
    await audit.record(conn, principal, business_id=principal.business_id,
                       entity_type=EntityType.VARIANT, entity_id=after["id"],
                       action=Action.UPDATED, before={k: before[k] for k in values},
                       after={k: after[k] for k in values}, now=now)
    return {"row": line.row, "sku": line.sku, "action": "updated", "fields": sorted(values)}


async def _create(conn: AsyncConnection, principal: Principal, lines: list[VariantLine],
                  named: dict[str, list[uuid.UUID]], now: datetime) -> list[dict[str, Any]]:
    if not lines:
        return []
    product_of = {name: ids[0] for name, ids in named.items()}
    default = await store.find_location(conn, principal.business_id, None)
    assert default is not None, "every business has a default location"
    outcomes: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for line in lines:
        assert line.product is not None and line.name is not None and line.price is not None
        if line.product not in product_of:
            product_of[line.product] = uuid.uuid4()
            await store.insert_product(conn, {
                "id": product_of[line.product], "business_id": principal.business_id,
                "name": line.product, "description": "", "created_at": now, "updated_at": now})
        rows.append({
            "id": uuid.uuid4(), "business_id": principal.business_id,
            "product_id": product_of[line.product], "sku": line.sku, "name": line.name,
            "price_minor": line.price, "currency": principal.currency,
            "low_stock_threshold": line.low_stock_threshold,
            "weight_grams": line.weight_grams or 0, "created_at": now, "updated_at": now})
        outcomes.append({"row": line.row, "sku": line.sku, "action": "created",
                         "fields": sorted(line.changes())})
    await store.insert_variants(conn, rows)
    await stock_store.insert_empty_levels(conn, business_id=principal.business_id,
                                          pairs=[(r["id"], default["id"]) for r in rows],
                                          now=now)
    return outcomes
