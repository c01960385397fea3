"""Recording a change into the audit log (inside the change's transaction) and reading it.

The scope a reader needs is checked by the caller's capability (``tenancy.audit_log``):
this package sits below tenancy, so it knows the actor only by the ``rules.Actor`` shape.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.audit import store
from orderline.audit.rules import Action, Actor, EntityType, changes
from orderline.audit.store import AuditEntryRow, AuditFilter
from orderline.core.runtime import Runtime


async def record(conn: AsyncConnection, actor: Actor | None, *, business_id: uuid.UUID,
                 entity_type: EntityType, entity_id: uuid.UUID, action: Action,
                 before: Mapping[str, Any] | None, after: Mapping[str, Any] | None,
                 now: datetime) -> bool:
    """Write one entry for this change, in the caller's transaction (``conn``). ``before`` and
    ``after`` are the entity's fields as they were and are (None for a creation or a
    deletion); an update keeps only the fields that changed, and one that changed nothing
    writes nothing (False). ``actor`` None is the operator (the CLI), not an API key; a staff
    member is recorded by ``actor_staff_id`` (the key columns stay empty)."""
    kept_before, kept_after = changes(before, after)
    if before is not None and after is not None and not kept_after:
        return False
    staff_id = actor.staff_id if actor else None
    by_key = actor is not None and staff_id is None
    await store.insert_entry(conn, AuditEntryRow(
        id=uuid.uuid4(), business_id=business_id, entity_type=entity_type.value,
        entity_id=entity_id, action=action.value,
        actor_key_id=actor.key_id if actor and by_key else None,
        actor_key_prefix=actor.key_prefix if actor and by_key else None,
        actor_key_name=actor.key_name if actor and by_key else None,
        actor_staff_id=staff_id,
        before=kept_before, after=kept_after, created_at=now))
    return True


async def list_entries(runtime: Runtime, business_id: uuid.UUID, f: AuditFilter, *,
                       limit: int, before: tuple[datetime, uuid.UUID] | None
                       ) -> list[AuditEntryRow]:
    async def page(conn: AsyncConnection) -> list[AuditEntryRow]:
        return await store.list_entries(conn, business_id, f, limit=limit, before=before)
    return await runtime.db.read_from_replica(business_id, page)
