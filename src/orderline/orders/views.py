"""How an order is shown to callers: one dict shape for every endpoint and the CLI."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.orders import store as order_store

_CONTACT = ("customer_name", "customer_phone", "customer_email")
_HIDDEN = {"business_id", "location_id", "access_token_hash", *_CONTACT}


_LINE_FIELDS = ("sku", "name", "unit_price", "quantity", "line_total", "discount", "tax")


def shape(order: Mapping[Any, Any], order_lines: Sequence[Mapping[Any, Any]]) -> dict[str, Any]:
    view = {k: v for k, v in order.items() if k not in _HIDDEN}
    view["customer"] = {"id": order["customer_id"], "name": order["customer_name"],
                        "phone": order["customer_phone"], "email": order["customer_email"]}
    view["lines"] = [{k: line[k] for k in _LINE_FIELDS} for line in order_lines]
    view["shipping"] = {"carrier": view.pop("carrier"),
                        "tracking_number": view.pop("tracking_number"),
                        "tracking_url": view.pop("tracking_url")}
    return view


async def shaped(conn: AsyncConnection,
                 rows: Sequence[order_store.OrderRow]) -> list[dict[str, Any]]:
    if not rows:
        return []
    grouped: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for line in await order_store.load_lines(conn, [r.id for r in rows]):
        grouped[line.order_id].append(line.as_dict())
    return [shape(r.as_dict(), grouped[r.id]) for r in rows]
