"""The hosted checkout, ``/c/{cart token}``: the buyer's cart, address, shipping, coupon and
payment method, then the order."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
