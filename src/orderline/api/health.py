"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from orderline.core.http import RuntimeDep
from orderline.schema.migrate import current_revision, head_revision

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, Any]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """Ready when the database answers and its schema is at the newest migration."""
    try:
        async with runtime.db.read() as conn:
            await conn.execute(text("SELECT 1"))
        current = await current_revision(runtime.db)
    except Exception as error:  # readiness reports, it does not raise
        return JSONResponse({"status": "unavailable", "database": str(error)}, status_code=503)
    head = head_revision()
    ok = current == head
    return JSONResponse({"status": "ready" if ok else "migrations_pending",
                         "migration": current, "expected_migration": head},
                        status_code=200 if ok else 503)
