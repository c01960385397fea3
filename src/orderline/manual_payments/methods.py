"""Manual payment methods (bank transfer, GCash, DuitNow, eSewa, UPI, ...): the templates a
merchant starts from, the methods a business offers per channel, the business's proof
settings, and what an order gets when its buyer chooses one: a short payment reference, the
exact amount, the instructions, and a proof deadline.

A payment method code that is not one of the business's manual methods (``card``, ``cod``,
or a free-form code such as ``bank_transfer`` with no method behind it) is left to the other
payment paths, as before.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.audit import service as audit
from orderline.audit.rules import Action, EntityType
from orderline.core.errors import Conflict, NotFound, PaymentMethodUnavailable, ValidationFailed
from orderline.core.money import check_currency, currency_exponent
from orderline.core.runtime import Runtime
from orderline.manual_payments import method_store as store
from orderline.manual_payments.review_rules import (
    ProofSettings,
    bp_to_score,
    check_proof_settings,
    new_reference,
    score_to_bp,
)
from orderline.manual_payments.rules import TEMPLATES, MethodTemplate, templates_for
from orderline.orders.store import OrderRow
from orderline.tenancy.rules import Principal, Scope

# Codes the other payment paths own; no manual method may take them.
RESERVED_CODES = frozenset({"card", "cod"})
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_KINDS = ("bank_transfer", "e_wallet", "upi")
AWAITING_PROOF = "awaiting_proof"
DEFAULT_INSTRUCTIONS = ("Pay exactly {amount} to {account_name} ({account_number}) with "
                        "{reference} as the payment reference, then upload the receipt.")


def template_view(t: MethodTemplate) -> dict[str, Any]:
    return {"code": t.code, "name": t.name, "kind": t.kind, "country": t.country,
            "currency": t.currency, "fields": list(t.fields), "instructions": t.instructions}


def list_templates(principal: Principal, country: str | None) -> list[dict[str, Any]]:
    principal.require(Scope.READ)
    chosen = templates_for(country) if country else list(TEMPLATES)
    return [template_view(t) for t in chosen]


def method_view(row: RowMapping | dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "code": row["code"], "template": row["template"],
            "name": row["name"], "kind": row["kind"], "country": row["country"],
            "currency": row["currency"], "account_name": row["account_name"],
            "account_number": row["account_number"], "bank_name": row["bank_name"],
            "details": row["details"], "instructions": row["instructions"],
            "channels": row["channels"], "enabled": row["enabled"],
            "position": row["position"], "created_at": row["created_at"],
            "updated_at": row["updated_at"]}


def _text(value: str | None, field: str, limit: int, *, required: bool = True) -> str | None:
    cleaned = (value or "").strip()
    if not cleaned:
        if required:
            raise ValidationFailed(f"{field} is required.", details={"field": field})
        return None
    if len(cleaned) > limit:
        raise ValidationFailed(f"{field} is at most {limit} characters.",
                               details={"field": field})
    return cleaned


def _channels(channels: list[str]) -> list[str]:
    cleaned = sorted({c.strip() for c in channels if c.strip()})
    for c in cleaned:
        if not _CODE.match(c):
            raise ValidationFailed(f"'{c}' is not a channel code.", details={"field": "channels"})
    return cleaned


async def create_method(runtime: Runtime, principal: Principal, *, template: str | None,
                        code: str | None, name: str | None, kind: str | None,
                        currency: str | None, account_name: str, account_number: str,
                        bank_name: str | None, details: dict[str, str],
                        instructions: str | None, channels: list[str], enabled: bool,
                        position: int) -> dict[str, Any]:
    """A method from a template (its name, kind, currency and instructions, each of which may
    be overridden) or from scratch (name and kind required)."""
    principal.require(Scope.ADMIN)
    base = next((t for t in TEMPLATES if t.code == template), None) if template else None
    if template and base is None:
        raise ValidationFailed(f"No payment method template '{template}'; see "
                               "GET /v1/payment-method-templates.",
                               details={"field": "template"})
    code = (code or (base.code if base else "")).strip()
    if not _CODE.match(code) or code in RESERVED_CODES:
        raise ValidationFailed("code is a lowercase code such as 'gcash' (not 'card' or "
                               "'cod'); orders name the method by it.", details={"field": "code"})
    kind = kind or (base.kind if base else None)
    if kind not in _KINDS:
        raise ValidationFailed(f"kind is one of {', '.join(_KINDS)}.", details={"field": "kind"})
    currency = check_currency(currency or (base.currency if base else principal.currency))
    if currency != principal.currency:
        raise ValidationFailed(f"This business sells in {principal.currency}; a method in "
                               f"{currency} could never match an order's amount.",
                               details={"field": "currency"})
    if base is not None and "bank_name" in base.fields and not bank_name:
        raise ValidationFailed("bank_name is required for a bank transfer.",
                               details={"field": "bank_name"})
    now = runtime.clock.now()
    values = {
        "id": uuid.uuid4(), "business_id": principal.business_id, "code": code,
        "template": base.code if base else None,
        "name": _text(name or (base.name if base else None), "name", 100),
        "kind": kind, "country": base.country if base else None, "currency": currency,
        "account_name": _text(account_name, "account_name", 200),
        "account_number": _text(account_number, "account_number", 100),
        "bank_name": _text(bank_name, "bank_name", 200, required=False),
        "details": {str(k)[:40]: str(v)[:200] for k, v in details.items()},
        "instructions": _text(instructions or (base.instructions if base
                                               else DEFAULT_INSTRUCTIONS), "instructions", 2000),
        "channels": _channels(channels), "enabled": enabled, "position": position,
        "created_at": now, "updated_at": now}

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        row = await store.insert_method(conn, values)
        if row is None:
            raise Conflict(f"This business already has a payment method '{code}'.",
                           details={"code": code})
        shown = method_view(row)
        await audit.record(conn, principal, business_id=principal.business_id,
                           entity_type=EntityType.PAYMENT_METHOD, entity_id=row["id"],
                           action=Action.CREATED, before=None, after=shown, now=now)
        return shown

    return await runtime.db.run(work)


async def list_methods(runtime: Runtime, principal: Principal) -> list[dict[str, Any]]:
    principal.require(Scope.READ)
    async with runtime.db.read() as conn:
        return [method_view(r) for r in await store.list_methods(conn, principal.business_id)]


async def update_method(runtime: Runtime, principal: Principal, method_id: uuid.UUID,
                        changes: dict[str, Any]) -> dict[str, Any]:
    """Change a method's account, instructions, channels or switch it off. Orders already
    placed keep the account they were shown."""
    principal.require(Scope.ADMIN)
    values: dict[str, Any] = {}
    for field, limit in (("name", 100), ("account_name", 200), ("account_number", 100),
                         ("instructions", 2000)):
        if field in changes:
            values[field] = _text(changes[field], field, limit)
    if "bank_name" in changes:
        values["bank_name"] = _text(changes["bank_name"], "bank_name", 200, required=False)
    if "channels" in changes:
        values["channels"] = _channels(changes["channels"] or [])
    for field in ("enabled", "position"):
        if field in changes and changes[field] is not None:
            values[field] = changes[field]
    if "details" in changes:
        values["details"] = {str(k)[:40]: str(v)[:200]
                             for k, v in (changes["details"] or {}).items()}

    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        before = await store.load_method(conn, principal.business_id, method_id, lock=True)
        if before is None:
            raise NotFound("payment method", method_id)
        after = method_view(await store.update_method(conn, method_id,
                                                      {**values, "updated_at": now}))
        # Only the fields the merchant changed (updated_at moves on every change).
        await audit.record(conn, principal, business_id=principal.business_id,
                           entity_type=EntityType.PAYMENT_METHOD, entity_id=method_id,
                           action=Action.UPDATED, now=now,
                           before={k: before[k] for k in values},
                           after={k: after[k] for k in values})
        return after

    return await runtime.db.run(work)


async def delete_method(runtime: Runtime, principal: Principal,
                        method_id: uuid.UUID) -> dict[str, Any]:
    """Delete a method no order was ever shown; one that was stays (its orders name it) and
    is switched off instead (``enabled: false``), refused here with ``conflict``. Returns
    the method as it was."""
    principal.require(Scope.ADMIN)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        # Locked, so an order placed at the same moment either sees it or finds it gone.
        row = await store.load_method(conn, principal.business_id, method_id, lock=True)
        if row is None:
            raise NotFound("payment method", method_id)
        if await store.method_in_use(conn, method_id):
            raise Conflict("Orders were shown this payment method, so it stays on record; "
                           "switch it off with enabled: false instead.",
                           details={"id": str(method_id)})
        shown = method_view(row)
        await store.delete_method(conn, method_id)
        await audit.record(conn, principal, business_id=principal.business_id,
                           entity_type=EntityType.PAYMENT_METHOD, entity_id=method_id,
                           action=Action.DELETED, before=shown, after=None, now=now)
        return shown

    return await runtime.db.run(work)


# --- at checkout and order time -------------------------------------------------------------

async def offered_method(conn: AsyncConnection, business_id: uuid.UUID, code: str,
                         channel: str, *, share_lock: bool = False) -> RowMapping | None:
    """The business's manual method with this code, if it is one; refused when it is off or
    not offered on this channel. None: the code is not a manual method. ``share_lock``
    (an order about to be written against it) keeps it from being deleted meanwhile."""
    if code in RESERVED_CODES:
        return None
    method = await store.method_by_code(conn, business_id, code, share_lock=share_lock)
    if method is None:
        return None
    if not method["enabled"]:
        raise PaymentMethodUnavailable(f"{method['name']} is not accepted at the moment; "
                                       "choose another way to pay.", details={"code": code})
    if method["channels"] and channel not in method["channels"]:
        raise PaymentMethodUnavailable(
            f"{method['name']} is not offered on the {channel} channel.",
            details={"code": code, "channel": channel, "channels": method["channels"]})
    return method


async def methods_on_channel(conn: AsyncConnection, business_id: uuid.UUID,
                             channel: str) -> list[dict[str, Any]]:
    """The business's manual methods a buyer may choose on ``channel``: on, and offered there
    (a method with no channels is offered on all), in the merchant's order."""
    return [method_view(row) for row in await store.list_methods(conn, business_id)
            if row["enabled"] and (not row["channels"] or channel in row["channels"])]


def format_amount(amount: int, currency: str) -> str:
    exponent = currency_exponent(currency)
    whole, part = divmod(amount, 10**exponent)
    return f"{currency} {whole:,}" + (f".{part:0{exponent}d}" if exponent else "")


def rendered_instructions(method: RowMapping | dict[str, Any], *, amount: int,
                          currency: str, reference: str) -> str:
    text: str = method["instructions"]
    for name, value in (("amount", format_amount(amount, currency)), ("reference", reference),
                        ("account_name", method["account_name"]),
                        ("account_number", method["account_number"]),
                        ("bank_name", method["bank_name"] or "")):
        text = text.replace("{" + name + "}", str(value))
    return text


@dataclass(frozen=True, slots=True)
class ManualChoice:
    """The buyer chose one of the business's manual methods: it, and the proof deadline."""

    method: RowMapping
    proof_deadline: datetime


async def choose(conn: AsyncConnection, business_id: uuid.UUID, code: str, channel: str,
                 now: datetime) -> ManualChoice | None:
    """Before an order is written: is its payment method a manual one (refused if off), and
    until when may its proof come (which is also how long its stock is held)?"""
    method = await offered_method(conn, business_id, code, channel, share_lock=True)
    if method is None:
        return None
    settings = await store.proof_settings(conn, business_id)
    return ManualChoice(method=method, proof_deadline=now + timedelta(
        minutes=settings["proof_deadline_minutes"]))


async def attach(conn: AsyncConnection, order: OrderRow, choice: ManualChoice, *,
                 now: datetime) -> dict[str, Any]:
    """Give a new order (written with ``choice.proof_deadline`` as its payment deadline) its
    manual payment, in the order's transaction: a fresh reference, the exact amount, and the
    method's account as shown. Returns what the buyer is shown."""
    method = choice.method
    while True:
        reference = new_reference(secrets.choice)
        snapshot = {"id": str(method["id"]), "code": method["code"], "name": method["name"],
                    "kind": method["kind"], "account_name": method["account_name"],
                    "account_number": method["account_number"],
                    "bank_name": method["bank_name"], "details": method["details"],
                    "instructions": rendered_instructions(
                        method, amount=order.total, currency=order.currency,
                        reference=reference)}
        values = {"id": uuid.uuid4(), "business_id": order.business_id,
                  "order_id": order.id, "method_id": method["id"],
                  "method_code": method["code"], "method": snapshot, "reference": reference,
                  "amount": order.total, "currency": order.currency,
                  "proof_deadline": choice.proof_deadline, "status": AWAITING_PROOF,
                  "proofs_submitted": 0, "created_at": now, "updated_at": now}
        if await store.insert_manual_payment(conn, values):
            return instructions_view(values, proofs=[])


def instructions_view(mp: RowMapping | dict[str, Any], *,
                      proofs: list[dict[str, Any]]) -> dict[str, Any]:
    """What the buyer of this order (only) is shown: where to pay, exactly how much, with
    which reference, until when, and how each proof they sent fared."""
    method = mp["method"]
    return {"method": {k: method[k] for k in ("code", "name", "kind", "account_name",
                                               "account_number", "bank_name", "details")},
            "amount": mp["amount"], "currency": mp["currency"], "reference": mp["reference"],
            "instructions": method["instructions"], "proof_deadline": mp["proof_deadline"],
            "status": mp["status"], "proofs": proofs}


# --- the business's proof settings ------------------------------------------------------------

def settings_view(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {"proof_deadline_minutes": row["proof_deadline_minutes"],
            "proof_review_hours": row["proof_review_hours"],
            "proof_max_bytes": row["proof_max_bytes"],
            "proof_retention_days": row["proof_retention_days"],
            "auto_approve_threshold": bp_to_score(row["proof_auto_approve_bp"])}


async def get_settings(runtime: Runtime, principal: Principal) -> dict[str, Any]:
    principal.require(Scope.READ)
    async with runtime.db.read() as conn:
        return settings_view(await store.proof_settings(conn, principal.business_id))


async def update_settings(runtime: Runtime, principal: Principal,
                          changes: dict[str, Any]) -> dict[str, Any]:
    principal.require(Scope.ADMIN)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> None:
        current = settings_view(await store.proof_settings(conn, principal.business_id,
                                                           lock=True))
        merged = {**current, **changes}
        threshold = merged["auto_approve_threshold"]
        checked = check_proof_settings(ProofSettings(
            deadline_minutes=merged["proof_deadline_minutes"],
            review_hours=merged["proof_review_hours"], max_bytes=merged["proof_max_bytes"],
            retention_days=merged["proof_retention_days"],
            auto_approve_bp=None if threshold is None else score_to_bp(threshold)),
            upload_cap_bytes=runtime.settings.proof_upload_max_bytes)
        written = {
            "proof_deadline_minutes": checked.deadline_minutes,
            "proof_review_hours": checked.review_hours,
            "proof_max_bytes": checked.max_bytes,
            "proof_retention_days": checked.retention_days,
            "proof_auto_approve_bp": checked.auto_approve_bp}
        await store.write_proof_settings(conn, principal.business_id, written)
        await audit.record(conn, principal, business_id=principal.business_id,
                           entity_type=EntityType.MANUAL_PAYMENT_SETTINGS,
                           entity_id=principal.business_id, action=Action.UPDATED, now=now,
                           before=current, after=settings_view(written))

    await runtime.db.run(work)
    return await get_settings(runtime, principal)
