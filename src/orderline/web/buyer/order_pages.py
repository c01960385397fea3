"""The buyer's order page, ``/o/{order token}``: the status, the payment instructions and the
proof upload."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
