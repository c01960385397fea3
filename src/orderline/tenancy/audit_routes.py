"""GET /v1/audit: the audit log of the business's settings and credentials."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from orderline.audit.rules import EntityType
from orderline.audit.store import AuditFilter
from orderline.core.http import RuntimeDep, decode_cursor, encode_cursor, refusals
from orderline.tenancy.audit_log import read_audit_log
from orderline.tenancy.deps import PrincipalDep
from orderline.tenancy.schemas import AuditPage

router = APIRouter(prefix="/v1", tags=["business"])


@router.get("/audit", response_model=AuditPage, responses=refusals(401, 403))
async def audit_log(
    runtime: RuntimeDep, principal: PrincipalDep,
    entity_type: EntityType | None = None,
    entity_id: uuid.UUID | None = None,
    actor_key_id: uuid.UUID | None = None,
    staff_id: uuid.UUID | None = None,
    created_from: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    created_to: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> dict[str, Any]:
    """Who changed the payment methods, API keys, cash-on-delivery policy, webhook endpoints,
    manual-payment settings, business settings, staff and the catalog (products' and variants'
    names, prices and archiving), with which key (or by which staff member: ``staff_id``
    filters by one), when, and the changed
    values before and after (secrets redacted). Newest first; ``from`` inclusive, ``to``
    exclusive; the admin scope."""
    f = AuditFilter(entity_type=entity_type.value if entity_type else None, entity_id=entity_id,
                    actor_key_id=actor_key_id, actor_staff_id=staff_id,
                    created_from=created_from,
                    created_to=created_to)
    rows = await read_audit_log(runtime, principal, f, limit=limit + 1,
                                before=decode_cursor(cursor))
    page, more = rows[:limit], len(rows) > limit
    return {"data": [r.as_dict() for r in page],
            "next_cursor": encode_cursor(page[-1].created_at, page[-1].id) if more else None}
