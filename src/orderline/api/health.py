"""Liveness and readiness."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text

from orderline.core.http import RuntimeDep
from orderline.schema.migrate import current_revision, head_revision

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "migrations_pending", "unavailable"]
    migration: str | None = Field(default=None, description="the database's migration")
    expected_migration: str | None = Field(default=None, description="this release's newest")
    database: str | None = Field(default=None, description="why the database did not answer")


@router.get("/healthz", response_model=Health)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness, responses={503: {
    "model": Readiness, "description": "Not ready: the database does not answer, or its "
    "schema is behind this release's newest migration."}})
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
