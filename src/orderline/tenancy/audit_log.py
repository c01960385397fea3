"""Reading the audit log (``GET /v1/audit``): the caller's business only, with the admin
scope (it shows who manages keys, and the accounts buyers pay into)."""

from __future__ import annotations

import uuid
from datetime import datetime

from orderline.audit import service as audit
from orderline.audit.store import AuditEntryRow, AuditFilter
from orderline.core.errors import ValidationFailed
from orderline.core.runtime import Runtime
from orderline.tenancy.rules import Principal, Scope


async def read_audit_log(runtime: Runtime, principal: Principal, f: AuditFilter, *, limit: int,
                         before: tuple[datetime, uuid.UUID] | None) -> list[AuditEntryRow]:
    """Newest first, ``limit`` entries after the cursor ``before``."""
    principal.require(Scope.ADMIN)
    if f.created_from and f.created_to and f.created_from >= f.created_to:
        raise ValidationFailed("'from' must be earlier than 'to'.",
                               details={"from": f.created_from.isoformat(),
                                        "to": f.created_to.isoformat()})
    return await audit.list_entries(runtime, principal.business_id, f, limit=limit,
                                    before=before)
