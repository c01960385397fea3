"""Merchant webhooks: endpoints, the fan-out of events into deliveries, and the sender.

- The "webhooks" handler runs from the relay for every event, in the event's transaction:
  for each enabled endpoint of the business that wants the event, it queues one delivery whose
  body is the event's envelope serialised once (the same bytes are signed and sent on every
  attempt). Events that happen while an endpoint is disabled are not queued for it.
- ``deliver_due`` (the worker's "webhooks" loop) claims due deliveries in one short
  transaction, sends them outside any transaction, then records each result in its own.
  Delivery is at least once: a worker that dies after sending but before recording sends
  again when the lease ends; receivers deduplicate on ``webhook-id`` (the event id).
  Deliveries of one endpoint may go concurrently, so receivers order by the envelope's
  ``aggregate.sequence``, not by arrival.
- ``rotate_secret`` replaces an endpoint's signing secret; the one it replaces goes on signing
  (a second signature in the same header) until the overlap the merchant chose ends, so the
  receiver can switch secrets without refusing a delivery. Whether the old one still signs is
  decided at each attempt, with the runtime's clock.
- A failed attempt is retried on ``settings.webhook_retry_delays``; after the last the
  delivery is dead (the dead-letter list: ``status=dead``), and can be replayed. Failed
  attempts in a row count on the endpoint; past ``webhook_disable_after_failures`` it is
  disabled and ``webhook_endpoint.disabled`` is emitted. Deliveries already queued for a
  disabled endpoint wait (they are not sent, nor counted as failures) and go out when the
  merchant enables it again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.audit import service as audit
from orderline.audit.rules import Action, EntityType
from orderline.core import metrics
from orderline.core.errors import (
    DeliveryAlreadySucceeded,
    InvalidWebhookUrl,
    NotFound,
    UnsafeWebhookUrl,
    ValidationFailed,
    WebhookEndpointDisabled,
)
from orderline.core.retry import RetrySchedule
from orderline.core.runtime import Runtime
from orderline.events import outbox
from orderline.events.event_types import AggregateType, EventType, StoredEvent, parse_event_types
from orderline.events.handler import Handler, HandlerContext
from orderline.tenancy import store as tenancy_store
from orderline.tenancy.rules import Principal, Scope
from orderline.webhooks import store as webhook_store
from orderline.webhooks import url_guard
from orderline.webhooks.rules import (
    DEFAULT_ROTATION_OVERLAP_SECONDS,
    DUE_STATUSES,
    SECRET_BYTES,
    DeliveryStatus,
    after_failure,
    endpoint_wants,
    new_signing_secret,
    parse_webhook_url,
    previous_secret_expiry,
    previous_secret_in_use,
    should_disable,
)
from orderline.webhooks.sender import SendResult, WebhookSender

log = logging.getLogger("orderline.webhooks")

# Beyond the attempt's own time limit, how long a claimed delivery stays leased.
LEASE_MARGIN_SECONDS = 30.0
MAX_DESCRIPTION = 500


# --- endpoints -------------------------------------------------------------------------------

def _check_event_types(names: Sequence[str]) -> list[str]:
    if not names:
        raise ValidationFailed("Choose at least one event type, such as 'order.paid', "
                               "'order.*' or '*'.", details={"event_types": []})
    parse_event_types(names)  # refuses unknown names, listing the known ones
    return list(dict.fromkeys(names))


async def _development_mode(runtime: Runtime, business_id: uuid.UUID) -> bool:
    async with runtime.db.read() as conn:
        business = await tenancy_store.get_business(conn, business_id)
    if business is None:
        raise NotFound("business", business_id)
    return bool(business["development_mode"])


async def create_endpoint(runtime: Runtime, principal: Principal, *, url: str,
                          event_types: Sequence[str], description: str = "") -> dict[str, Any]:
    """A new endpoint; the answer holds its signing secret, which is never shown again."""
    principal.require(Scope.ADMIN)
    chosen = _check_event_types(event_types)
    if len(description) > MAX_DESCRIPTION:
        raise ValidationFailed(f"A description has at most {MAX_DESCRIPTION} characters.")
    parse_webhook_url(url)  # shape first: no DNS look-up for a URL that cannot be used
    allow_private = await _development_mode(runtime, principal.business_id)
    await url_guard.check_url(url, allow_private=allow_private)
    secret = new_signing_secret(secrets.token_bytes(SECRET_BYTES))
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> RowMapping:
        row = await webhook_store.insert_endpoint(conn, {
            "id": uuid.uuid4(), "business_id": principal.business_id, "url": url,
            "description": description, "event_types": chosen, "secret": secret,
            "enabled": True, "consecutive_failures": 0, "created_at": now, "updated_at": now})
        await _audit(conn, principal, row["id"], Action.CREATED, None,
                     {**row, "secret": secret}, now)
        return row

    row = await runtime.db.run(work)
    return {**dict(row), "secret": secret}


async def list_endpoints(runtime: Runtime, principal: Principal) -> list[dict[str, Any]]:
    principal.require(Scope.READ)
    async with runtime.db.read() as conn:
        return [dict(r) for r in await webhook_store.list_endpoints(conn, principal.business_id)]


async def get_endpoint(runtime: Runtime, principal: Principal,
                       endpoint_id: uuid.UUID) -> dict[str, Any]:
    principal.require(Scope.READ)
    async with runtime.db.read() as conn:
        row = await webhook_store.get_endpoint(conn, principal.business_id, endpoint_id)
    if row is None:
        raise NotFound("webhook", endpoint_id)
    return dict(row)


async def delete_endpoint(runtime: Runtime, principal: Principal,
                          endpoint_id: uuid.UUID) -> dict[str, Any]:
    """Delete an endpoint, its queued deliveries and their history."""
    principal.require(Scope.ADMIN)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> RowMapping | None:
        row = await webhook_store.delete_endpoint(conn, principal.business_id, endpoint_id)
        if row is not None:
            await _audit(conn, principal, endpoint_id, Action.DELETED, dict(row), None, now)
        return row

    row = await runtime.db.run(work)
    if row is None:
        raise NotFound("webhook", endpoint_id)
    return dict(row)


async def enable_endpoint(runtime: Runtime, principal: Principal,
                          endpoint_id: uuid.UUID) -> dict[str, Any]:
    """Switch an endpoint back on with no failures counted; its waiting deliveries go now."""
    principal.require(Scope.ADMIN)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> RowMapping:
        before = await webhook_store.lock_endpoint(conn, principal.business_id, endpoint_id)
        if before is None:
            raise NotFound("webhook", endpoint_id)
        row = await webhook_store.enable_endpoint(conn, principal.business_id, endpoint_id, now)
        assert row is not None  # locked above
        shown = ("enabled", "disabled_at", "disabled_reason", "consecutive_failures")
        await _audit(conn, principal, endpoint_id, Action.ENABLED,
                     {k: before[k] for k in shown}, {k: row[k] for k in shown}, now)
        return row

    return dict(await runtime.db.run(work))


async def rotate_secret(runtime: Runtime, principal: Principal, endpoint_id: uuid.UUID, *,
                        overlap_seconds: int = DEFAULT_ROTATION_OVERLAP_SECONDS
                        ) -> dict[str, Any]:
    """A new signing secret for the endpoint, shown in this answer only. The current one
    keeps signing too for ``overlap_seconds`` (0: it stops at once); rotating again during
    an overlap drops the oldest, so at most two secrets ever sign."""
    principal.require(Scope.ADMIN)
    now = runtime.clock.now()
    expires_at = previous_secret_expiry(overlap_seconds=overlap_seconds, now=now)
    secret = new_signing_secret(secrets.token_bytes(SECRET_BYTES))

    async def work(conn: AsyncConnection) -> RowMapping:
        before = await webhook_store.lock_endpoint(conn, principal.business_id, endpoint_id)
        if before is None:
            raise NotFound("webhook", endpoint_id)
        row = await webhook_store.rotate_secret(conn, principal.business_id, endpoint_id,
                                                secret=secret, previous_expires_at=expires_at,
                                                now=now)
        assert row is not None  # locked above
        shown = "previous_secret_expires_at"
        await _audit(conn, principal, endpoint_id, Action.SECRET_ROTATED,
                     {"secret": before["secret"], shown: before[shown]},
                     {"secret": secret, shown: row[shown]}, now)
        return row

    row = await runtime.db.run(work)
    return {**dict(row), "secret": secret}


async def _audit(conn: AsyncConnection, principal: Principal, endpoint_id: uuid.UUID,
                 action: Action, before: Mapping[str, Any] | None,
                 after: Mapping[str, Any] | None, now: datetime) -> None:
    """One audit entry for the endpoint; its secrets are redacted by the audit rules."""
    await audit.record(conn, principal, business_id=principal.business_id,
                       entity_type=EntityType.WEBHOOK_ENDPOINT, entity_id=endpoint_id,
                       action=action, before=before, after=after, now=now)


# --- deliveries as the merchant sees them ----------------------------------------------------

async def health(runtime: Runtime, principal: Principal) -> webhook_store.WebhookHealth:
    """How the business's webhooks fare: endpoints failing or disabled, deliveries retrying
    or dead (for the merchant's overview)."""
    principal.require(Scope.READ)
    async def read(conn: AsyncConnection) -> webhook_store.WebhookHealth:
        return await webhook_store.health(conn, principal.business_id)
    return await runtime.db.read_from_replica(principal.business_id, read)


def _delivery_view(row: Mapping[Any, Any], tries: Sequence[Mapping[Any, Any]],
                   *, with_payload: bool = False) -> dict[str, Any]:
    view = {k: v for k, v in row.items() if k not in ("attempts", "body")}
    if view["status"] not in DUE_STATUSES:
        view["next_attempt_at"] = None
    view["attempts"] = [{k: v for k, v in t.items() if k != "delivery_id"} for t in tries]
    if with_payload:
        view["payload"] = json.loads(row["body"])
    return view


async def _with_attempts(conn: AsyncConnection,
                         rows: Sequence[RowMapping]) -> list[dict[str, Any]]:
    grouped: dict[uuid.UUID, list[RowMapping]] = defaultdict(list)
    for attempt in await webhook_store.attempts_of(conn, [r["id"] for r in rows]):
        grouped[attempt["delivery_id"]].append(attempt)
    return [_delivery_view(r, grouped[r["id"]]) for r in rows]


async def list_deliveries(runtime: Runtime, principal: Principal, *,
                          endpoint_id: uuid.UUID | None, status: DeliveryStatus | None,
                          limit: int, before: tuple[datetime, uuid.UUID] | None
                          ) -> list[dict[str, Any]]:
    """Newest first, each with its attempts; of one endpoint or (None) of all of them."""
    principal.require(Scope.READ)
    async with runtime.db.read() as conn:
        if endpoint_id is not None and await webhook_store.get_endpoint(
                conn, principal.business_id, endpoint_id) is None:
            raise NotFound("webhook", endpoint_id)
        rows = await webhook_store.list_deliveries(
            conn, principal.business_id, endpoint_id=endpoint_id,
            status=status.value if status else None, limit=limit, before=before)
        return await _with_attempts(conn, rows)


async def _delivery(conn: AsyncConnection, principal: Principal, endpoint_id: uuid.UUID,
                    delivery_id: uuid.UUID) -> dict[str, Any]:
    if await webhook_store.get_endpoint(conn, principal.business_id, endpoint_id) is None:
        raise NotFound("webhook", endpoint_id)
    row = await webhook_store.get_delivery(conn, principal.business_id, endpoint_id,
                                           delivery_id)
    if row is None:
        raise NotFound("webhook_delivery", delivery_id)
    tries = await webhook_store.attempts_of(conn, [delivery_id])
    return _delivery_view(row, tries, with_payload=True)


async def get_delivery(runtime: Runtime, principal: Principal, endpoint_id: uuid.UUID,
                       delivery_id: uuid.UUID) -> dict[str, Any]:
    principal.require(Scope.READ)
    async with runtime.db.read() as conn:
        return await _delivery(conn, principal, endpoint_id, delivery_id)


async def replay_delivery(runtime: Runtime, principal: Principal, endpoint_id: uuid.UUID,
                          delivery_id: uuid.UUID) -> dict[str, Any]:
    """Queue a dead or retrying delivery again at once, with a fresh set of attempts.

    A pending one is already queued and is answered as it is; a succeeded one is refused
    (replaying it would send the event twice), and so is one of a disabled endpoint (it
    would only wait: enable the endpoint first)."""
    principal.require(Scope.WRITE)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        current = await _delivery(conn, principal, endpoint_id, delivery_id)
        if current["status"] == DeliveryStatus.SUCCEEDED:
            raise DeliveryAlreadySucceeded(
                "This delivery already succeeded; replaying it would send the event twice.",
                details={"delivery_id": str(delivery_id), "status": current["status"]})
        endpoint = await webhook_store.get_endpoint(conn, principal.business_id, endpoint_id)
        if endpoint is not None and not endpoint["enabled"]:
            raise WebhookEndpointDisabled(
                "This webhook endpoint is disabled, so a replay would not be sent. Enable it "
                f"first with POST /v1/webhooks/{endpoint_id}/enable.",
                details={"webhook_id": str(endpoint_id),
                         "disabled_reason": endpoint["disabled_reason"]})
        if current["status"] == DeliveryStatus.PENDING:
            return current
        await webhook_store.replay(conn, principal.business_id, endpoint_id, delivery_id, now)
        return await _delivery(conn, principal, endpoint_id, delivery_id)

    return await runtime.db.run(work)


# --- fan-out (a relay handler) ---------------------------------------------------------------

def envelope_body(event: StoredEvent) -> str:
    """The exact text signed and sent: the envelope, serialised once."""
    return json.dumps(event.envelope(), separators=(",", ":"))


async def fan_out(ctx: HandlerContext, conn: AsyncConnection, event: StoredEvent) -> None:
    """Queue the event for every enabled endpoint of its business that wants it."""
    wanting = [e["id"] for e in await webhook_store.enabled_endpoints(conn, event.business_id)
               if endpoint_wants(endpoint_id=e["id"], patterns=e["event_types"],
                                 event_type=event.type, aggregate_id=event.aggregate_id)]
    if not wanting:
        return
    body = envelope_body(event)
    for endpoint_id in wanting:
        await webhook_store.queue_delivery(conn, {
            "id": uuid.uuid4(), "business_id": event.business_id, "endpoint_id": endpoint_id,
            "event_id": event.event_id, "event_type": event.type, "body": body,
            "status": DeliveryStatus.PENDING.value, "attempts": 0,
            "next_attempt_at": ctx.now, "created_at": ctx.now, "updated_at": ctx.now})


WEBHOOKS = Handler("webhooks", frozenset(EventType), fan_out)


# --- the sender ------------------------------------------------------------------------------

async def deliver_due(runtime: Runtime, *, limit: int | None = None) -> int:
    """Send the deliveries that are due (up to ``webhook_sender_concurrency`` at once);
    returns how many were attempted."""
    settings = runtime.settings
    now = runtime.clock.now()
    lease_until = now + timedelta(seconds=settings.webhook_timeout_seconds
                                  + LEASE_MARGIN_SECONDS)
    batch = limit or settings.webhook_sender_concurrency

    async def claim(conn: AsyncConnection) -> list[RowMapping]:
        return await webhook_store.claim_due(conn, now=now, lease_until=lease_until,
                                             limit=batch)

    async with runtime.db.read() as conn:
        if not await webhook_store.any_due(conn, now):
            return 0
    claimed = await runtime.db.run(claim)
    if not claimed:
        return 0
    async with WebhookSender(timeout_seconds=settings.webhook_timeout_seconds) as sender:
        await asyncio.gather(*(_deliver_one(runtime, sender, row) for row in claimed))
    return len(claimed)


async def _deliver_one(runtime: Runtime, sender: WebhookSender, row: RowMapping) -> None:
    started = runtime.clock.now()
    try:
        result = await _attempt(sender, row, started)
        recorded = await runtime.db.run(lambda conn: _record(runtime, conn, row, result, started))
        if recorded is not None:
            metrics.webhook_attempt(recorded)
    except Exception:  # one bad delivery must not stop the round; its lease brings it back
        log.exception("webhook delivery could not be recorded; it is retried after its lease",
                      extra={"delivery_id": str(row["id"]),
                             "business_id": str(row["business_id"])})


async def _attempt(sender: WebhookSender, row: RowMapping, started: datetime) -> SendResult:
    """The URL is checked again first: its DNS may now point somewhere it must not."""
    development_mode = bool(row["development_mode"])
    try:
        checked = await url_guard.check_url(row["url"], allow_private=development_mode)
    except (InvalidWebhookUrl, UnsafeWebhookUrl) as refusal:
        return SendResult(status_code=None, error=f"{refusal.code}: {refusal.message}",
                          latency_ms=0)
    # In development mode every address is allowed, so there is nothing to pin; letting
    # httpx resolve keeps 'localhost' working whichever of ::1 and 127.0.0.1 listens.
    previous = previous_secret_in_use(row["previous_secret"],
                                      row["previous_secret_expires_at"], now=started)
    return await sender.send(url=row["url"], address=None if development_mode else
                             checked.address, secret=row["secret"], previous_secret=previous,
                             msg_id=str(row["event_id"]), timestamp=started, body=row["body"])


async def _record(runtime: Runtime, conn: AsyncConnection, claimed: RowMapping,
                  result: SendResult, started: datetime) -> metrics.WebhookResult | None:
    """One transaction: the attempt, the delivery's next state and the endpoint's count.
    Returns the attempt's result (None if the endpoint was deleted meanwhile)."""
    now = runtime.clock.now()
    settings = runtime.settings
    current = await webhook_store.lock_delivery(conn, claimed["id"])
    if current is None:
        return None  # the endpoint was deleted meanwhile, with its deliveries
    await webhook_store.add_attempt(conn, {
        "business_id": claimed["business_id"], "delivery_id": claimed["id"],
        "started_at": started, "status_code": result.status_code,
        "latency_ms": result.latency_ms, "error": result.error,
        "succeeded": result.succeeded})
    endpoint_id = claimed["endpoint_id"]
    if result.succeeded:
        assert result.status_code is not None
        await webhook_store.mark_succeeded(conn, claimed["id"], status_code=result.status_code,
                                           now=now)
        await webhook_store.reset_endpoint_failures(conn, endpoint_id, now)
        return "succeeded"
    outcome = after_failure(RetrySchedule(delays=tuple(settings.webhook_retry_delays)),
                            failed_attempts=claimed["attempts"] + 1,
                            spread=random.uniform(-1, 1), now=now)
    await webhook_store.mark_failed(conn, claimed["id"], claimed_attempts=claimed["attempts"],
                                    status=outcome.status,
                                    next_attempt_at=outcome.next_attempt_at,
                                    status_code=result.status_code, error=result.error, now=now)
    if outcome.dead:
        log.warning("webhook delivery dead after its last attempt",
                    extra={"delivery_id": str(claimed["id"]), "error": result.error,
                           "business_id": str(claimed["business_id"])})
    result_name: metrics.WebhookResult = "dead" if outcome.dead else "failed"
    counted = await webhook_store.count_endpoint_failure(conn, endpoint_id, now)
    if counted is None or not counted["enabled"] or not should_disable(
            counted["consecutive_failures"], limit=settings.webhook_disable_after_failures):
        return result_name
    reason = (f"Disabled after {counted['consecutive_failures']} failed delivery attempts in "
              f"a row; the last: {result.error}")
    disabled = await webhook_store.disable_endpoint(conn, endpoint_id, reason=reason, now=now)
    if disabled is None:
        return result_name
    webhook = {k: v for k, v in disabled.items() if k != "business_id"}
    await outbox.emit(conn, business_id=disabled["business_id"],
                      type=EventType.WEBHOOK_ENDPOINT_DISABLED,
                      aggregate_type=AggregateType.WEBHOOK_ENDPOINT, aggregate_id=endpoint_id,
                      payload={"webhook": webhook}, now=now)
    log.warning("webhook endpoint disabled after repeated failures",
                extra={"webhook_id": str(endpoint_id),
                       "business_id": str(disabled["business_id"])})
    return result_name
