"""One-time codes for a cash-on-delivery checkout: sent to the buyer's phone, checked before
the order is confirmed (the policy that asks for them is in ``cod``).

The code is sent after its transaction commits, by ``CASH_CODE_SENDER``: the process's
notifier by default, and, as ``orderline.wiring`` provides it, the business's SMS or WhatsApp
sender when it has one (``notifications.messaging.send_cash_code``, which says why a code is
sent at once rather than queued)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.checkout import checkout_store
from orderline.checkout.carts import CartCaller
from orderline.checkout.checkouts import reachable
from orderline.checkout.confirm import Confirmed, ConfirmRequest, confirm_checkout
from orderline.cod import otp_rules as otp
from orderline.cod import store as cod_store
from orderline.core.errors import RateLimited, ValidationFailed
from orderline.core.notifier import Message
from orderline.core.runtime import Part, Runtime

OTP_TTL = timedelta(minutes=10)
OTP_SENDS_PER_CHECKOUT = 3  # per OTP_TTL

# (runtime, business id, the buyer's phone, the code, the text) -> sent, or raises.
CodeSender = Callable[[Runtime, uuid.UUID, str, str, str], Awaitable[None]]


async def send_by_notifier(runtime: Runtime, business_id: uuid.UUID, phone: str, code: str,
                           body: str) -> None:
    await runtime.notifier.send(Message(recipient=phone, subject="Your order code", body=body))


CASH_CODE_SENDER: Part[CodeSender] = Part("cash code sender",
                                          build=lambda runtime: send_by_notifier)


async def send_code(runtime: Runtime, caller: CartCaller,
                    checkout_id: uuid.UUID) -> dict[str, Any]:
    """Send a new code to the checkout's phone through the notifier (SMS or WhatsApp adapter;
    the log by default). A few sends per checkout, then ``rate_limited``."""
    now = runtime.clock.now()
    code = otp.new_code(secrets.SystemRandom())
    state = otp.issue(code, salt=otp.new_salt(secrets.token_bytes), now=now, ttl=OTP_TTL)

    async def work(conn: AsyncConnection) -> str:
        checkout = await reachable(conn, caller, checkout_id, write=True)
        # The send budget is the checkout's buyer's: counted only once the caller is known to
        # reach this checkout, so a stranger's tries never use it up.
        decision = await runtime.limiter.hit(f"otp:{checkout_id}", limit=OTP_SENDS_PER_CHECKOUT,
                                             window_seconds=int(OTP_TTL.total_seconds()))
        if not decision.allowed:
            raise RateLimited(f"Too many codes for this checkout; try again in "
                              f"{decision.retry_after_seconds} s.",
                              details={"retry_after_seconds": decision.retry_after_seconds})
        if checkout.payment_method != cod_store.COD or checkout.status != checkout_store.OPEN:
            raise ValidationFailed("Codes are sent for open cash-on-delivery checkouts only.",
                                   details={"payment_method": checkout.payment_method,
                                            "status": checkout.status})
        if not checkout.customer_phone:
            raise ValidationFailed("The buyer has no phone number to send a code to; check "
                                   "out again with one.", details={"field": "customer.phone"})
        await cod_store.insert_otp(conn, {
            "id": uuid.uuid4(), "business_id": checkout.business_id,
            "checkout_id": checkout_id, "phone": checkout.customer_phone,
            "code_hash": state.code_hash, "salt": state.salt, "expires_at": state.expires_at,
            "attempts": 0, "max_attempts": state.max_attempts, "verified_at": None,
            "consumed_at": None, "created_at": now})
        return checkout.customer_phone

    phone = await runtime.db.run(work)
    send = runtime.get(CASH_CODE_SENDER)
    await send(runtime, caller.business_id, phone, code,
               f"Your code to confirm your cash-on-delivery order is {code}. It expires in "
               f"{int(OTP_TTL.total_seconds() // 60)} minutes.")
    return {"sent_to": masked(phone),
            "expires_at": state.expires_at}


async def verify_code(runtime: Runtime, caller: CartCaller, checkout_id: uuid.UUID,
                      code: str) -> dict[str, Any]:
    """Check the buyer's code. A wrong try is counted (and kept) even though it is refused;
    too many lock the code; an expired one must be sent again."""
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> otp.OtpCheck:
        await reachable(conn, caller, checkout_id, write=True)
        row = await cod_store.latest_otp(conn, checkout_id)
        if row is None:
            raise ValidationFailed("No code was sent for this checkout yet; ask for one.",
                                   details={"checkout_id": str(checkout_id)})
        state = otp.OtpState(code_hash=row.code_hash, salt=row.salt,
                             expires_at=row.expires_at, attempts=row.attempts,
                             max_attempts=row.max_attempts, verified_at=row.verified_at)
        check = otp.verify(state, code, now=now)
        await cod_store.write_otp(conn, row.id, {"attempts": check.state.attempts,
                                                    "verified_at": check.state.verified_at})
        return check

    otp.raise_for(await runtime.db.run(work))  # after the commit: a wrong try stays counted
    return {"verified": True}


@dataclass(frozen=True, slots=True)
class CodeStatus:
    """Where a cash-on-delivery checkout's one-time code stands, for the buyer's page:
    whether one was sent (and to which phone, masked), until when it is good, how many wrong
    tries it has left, how many more codes may be asked for now, and when none may, in how
    many seconds one may again (the send limit's own answer)."""

    sent: bool
    sent_to: str
    expires_at: datetime | None
    attempts_left: int
    sends_left: int
    ask_again_in_seconds: int | None = None


def masked(phone: str) -> str:
    return "*" * max(0, len(phone) - 3) + phone[-3:]


async def code_status(runtime: Runtime, caller: CartCaller, checkout_id: uuid.UUID) -> CodeStatus:
    now = runtime.clock.now()
    async with runtime.db.read() as conn:
        checkout = await reachable(conn, caller, checkout_id, write=False)
        latest = await cod_store.read_latest_otp(conn, checkout_id)
        sent = await cod_store.codes_sent_since(conn, checkout_id, now - OTP_TTL)
    budget = await runtime.limiter.peek(f"otp:{checkout_id}", limit=OTP_SENDS_PER_CHECKOUT,
                                        window_seconds=int(OTP_TTL.total_seconds()))
    return CodeStatus(
        sent=latest is not None, sent_to=masked(checkout.customer_phone or ""),
        expires_at=latest.expires_at if latest is not None else None,
        attempts_left=0 if latest is None else max(0, latest.max_attempts - latest.attempts),
        sends_left=max(0, OTP_SENDS_PER_CHECKOUT - sent) if budget.allowed else 0,
        ask_again_in_seconds=None if budget.allowed else budget.retry_after_seconds)


async def confirm_with_code(runtime: Runtime, caller: CartCaller, code: str,
                            request: ConfirmRequest) -> Confirmed:
    """The buyer's code, then the order: check the code (a wrong one is refused and counted)
    and confirm the checkout with the buyer's key, which uses the verified code up."""
    await verify_code(runtime, caller, request.checkout_id, code)
    return await confirm_checkout(runtime, caller, request)


# --- collection and failed deliveries ---------------------------------------------------------
