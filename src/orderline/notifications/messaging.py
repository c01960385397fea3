"""SMS and WhatsApp for buyers: each business's sender (Twilio SMS, Twilio WhatsApp or the
WhatsApp Business Cloud API), sending through it, and the providers' delivery reports.

- **Settings** (``GET/PUT/PATCH /v1/business/messaging``, admin scope): secrets are write-only.
  Twilio's auth token and the Cloud API's access token and app secret are sealed with the
  master keys (``ORDERLINE_PROOF_MASTER_KEYS``, as payment proofs are; AES-GCM bound to the
  business and the field, so a sealed value copied to another business does not open); the
  Cloud API's webhook verify token is kept only as its SHA-256. Answers say whether each
  secret is set, never what it is.
- **Order messages** are queued as ``notifications`` rows by the relay's handler for each
  order event (``service.queue_buyer_notification``) on the ``sms`` or ``whatsapp`` channel,
  and sent by the worker's sender with the notifications' retry schedule, outside any
  transaction (a handler never calls a provider inside the relay's transaction, where a slow
  provider would hold the order's later events and a retried event could send twice).
  ``send_queued`` sends one such row with the business's sender as it is at send time.
- **Cash codes** are sent synchronously, after the code's transaction commits
  (``send_cash_code``): the buyer is waiting on the checkout page for a code that lives ten
  minutes, so a failure is told to them at once (``message_not_sent``, and they ask again,
  within the per-checkout send limit) instead of a retry arriving minutes later. The message
  is recorded (code masked) so its delivery reports are kept like any other's. A business
  without a sender keeps the old behaviour: the process's notifier (the log by default).
- **Delivery reports**: Twilio's status callbacks are checked with the ``twilio`` package's
  ``RequestValidator`` against the auth token of the business that sent the message, at
  the public URL (``ORDERLINE_MESSAGING_PUBLIC_URL``); the Cloud API's webhooks by
  ``X-Hub-Signature-256`` (HMAC-SHA256 of the raw body with the app secret of the business
  whose phone number id the report names). A report that fails its check changes nothing;
  one that passes moves its message forward only (``messaging_rules.STATUS_RANK``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from twilio.request_validator import RequestValidator

from orderline.core.errors import (
    MessageNotSent,
    MessagingSignatureRejected,
    MessagingVerifyTokenRejected,
    NotFound,
)
from orderline.core.notifier import Message
from orderline.core.runtime import Part, Runtime
from orderline.manual_payments.files.configured import master_keys
from orderline.manual_payments.files.encryption import MasterKeys, open_sealed, seal
from orderline.notifications import messaging_store as store
from orderline.notifications.messaging_providers import (
    CloudMessenger,
    MessageRefused,
    Messenger,
    Outgoing,
    TwilioMessenger,
)
from orderline.notifications.messaging_rules import (
    CASH_CODE,
    CLOUD_STATUSES,
    DEFAULT_API_VERSION,
    DEFAULT_LANGUAGE,
    FAILED,
    SENT,
    TWILIO_SMS,
    TWILIO_STATUSES,
    TWILIO_WHATSAPP,
    WHATSAPP_CLOUD,
    SenderView,
    check_sender,
    e164,
    masked,
)
from orderline.tenancy.rules import Principal, Scope

TWILIO_STATUS_PATH = "/v1/messaging/twilio/status"
WHATSAPP_WEBHOOK_PATH = "/v1/messaging/whatsapp/webhook"

# API field -> column, for the sealed secrets.
SEALED = {"twilio_auth_token": "twilio_auth_token",
          "whatsapp_access_token": "cloud_access_token",
          "whatsapp_app_secret": "cloud_app_secret"}
# API field -> column, for the plain ones.
PLAIN = {"provider": "provider", "enabled": "enabled",
         "twilio_account_sid": "twilio_account_sid",
         "twilio_from_number": "twilio_from_number",
         "twilio_messaging_service_sid": "twilio_messaging_service_sid",
         "whatsapp_phone_number_id": "cloud_phone_number_id",
         "whatsapp_api_version": "cloud_api_version",
         "whatsapp_language": "cloud_language",
         "whatsapp_templates": "cloud_templates"}
DEFAULTS: dict[str, Any] = {"enabled": True, "twilio_account_sid": None,
                            "twilio_from_number": None, "twilio_messaging_service_sid": None,
                            "whatsapp_phone_number_id": None,
                            "whatsapp_api_version": DEFAULT_API_VERSION,
                            "whatsapp_language": DEFAULT_LANGUAGE, "whatsapp_templates": {}}

MESSAGING_KEYS: Part[MasterKeys] = Part("messaging secret keys",
                                        build=lambda runtime: master_keys(runtime.settings))


def _bound(business_id: uuid.UUID, column: str) -> bytes:
    return f"messaging-sender:{business_id}:{column}".encode()


def _open(runtime: Runtime, row: store.SenderRow, column: str) -> str:
    sealed = getattr(row, column)
    if sealed is None:
        raise MessageRefused(f"The business's sender has no {column}.")
    return open_sealed(sealed, runtime.get(MESSAGING_KEYS),
                       associated_data=_bound(row.business_id, column)).decode()


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- settings ----------------------------------------------------------------------------------

def _shown(runtime: Runtime, row: store.SenderRow | None) -> dict[str, Any]:
    public = runtime.settings.messaging_public_url.rstrip("/")
    urls = {"twilio_status_callback": f"{public}{TWILIO_STATUS_PATH}" if public else None,
            "whatsapp_webhook": f"{public}{WHATSAPP_WEBHOOK_PATH}" if public else None}
    if row is None:
        return {"configured": False, "provider": None, "enabled": False, **DEFAULTS,
                **dict.fromkeys(("twilio_auth_token_set", "whatsapp_access_token_set",
                                 "whatsapp_app_secret_set", "whatsapp_verify_token_set"),
                                False),
                "callback_urls": urls, "updated_at": None}
    shown: dict[str, Any] = {"configured": True}
    shown.update({field: getattr(row, column) for field, column in PLAIN.items()})
    shown.update({f"{field}_set": getattr(row, column) is not None
                  for field, column in SEALED.items()})
    shown["whatsapp_verify_token_set"] = row.cloud_verify_token_hash is not None
    shown["callback_urls"] = urls
    shown["updated_at"] = row.updated_at
    return shown


async def get_settings(runtime: Runtime, principal: Principal) -> dict[str, Any]:
    principal.require(Scope.ADMIN)
    async with runtime.db.read() as conn:
        row = await store.load_sender(conn, principal.business_id)
    return _shown(runtime, row)


async def save_settings(runtime: Runtime, principal: Principal, changes: Mapping[str, Any], *,
                        replace: bool) -> dict[str, Any]:
    """Set the business's sender: ``replace`` (PUT) sets every field, those left out to their
    defaults; otherwise (PATCH) only those given. Either way a secret left out keeps its stored
    value, and ``null`` clears it (secrets are never shown, so a client cannot send them back).
    The result must be able to send (``check_sender``)."""
    principal.require(Scope.ADMIN)
    business_id = principal.business_id
    now = runtime.clock.now()
    keys = runtime.get(MESSAGING_KEYS)

    async def work(conn: AsyncConnection) -> store.SenderRow | None:
        current = await store.load_sender(conn, business_id, for_update=True)
        if current is None and not replace and "provider" not in changes:
            raise NotFound("messaging settings", business_id)
        merged: dict[str, Any] = dict(DEFAULTS)
        if current is not None and not replace:
            merged.update({field: getattr(current, column) for field, column in PLAIN.items()})
        merged.update({k: v for k, v in changes.items() if k in PLAIN})
        secrets_set = {field: (changes[field] is not None if field in changes
                               else current is not None and getattr(current, column) is not None)
                       for field, column in SEALED.items()}
        check_sender(merged, secrets_set=secrets_set)
        values = {column: merged[field] for field, column in PLAIN.items()}
        for field, column in SEALED.items():
            if field in changes:
                secret = changes[field]
                values[column] = (None if secret is None else
                                  seal(secret.encode(), keys,
                                       associated_data=_bound(business_id, column)))
            else:
                values[column] = None if current is None else getattr(current, column)
        if "whatsapp_verify_token" in changes:
            token = changes["whatsapp_verify_token"]
            values["cloud_verify_token_hash"] = None if token is None else _hash_token(token)
        else:
            values["cloud_verify_token_hash"] = (None if current is None
                                                 else current.cloud_verify_token_hash)
        await store.save_sender(conn, {"business_id": business_id, **values,
                                       "updated_at": now})
        return await store.load_sender(conn, business_id)

    return _shown(runtime, await runtime.db.run(work))


async def sender_view(conn: AsyncConnection, business_id: uuid.UUID) -> SenderView | None:
    """The business's enabled sender, as routing sees it (None without one)."""
    row = await store.load_sender(conn, business_id)
    if row is None or not row.enabled:
        return None
    return SenderView(row.provider, {str(k): str(v) for k, v in row.cloud_templates.items()})


# --- sending -----------------------------------------------------------------------------------

def messenger_for(runtime: Runtime, row: store.SenderRow) -> Messenger:
    settings = runtime.settings
    timeout = settings.messaging_timeout_seconds
    if row.provider in (TWILIO_SMS, TWILIO_WHATSAPP):
        public = settings.messaging_public_url.rstrip("/")
        return TwilioMessenger(
            provider=row.provider, account_sid=row.twilio_account_sid or "",
            auth_token=_open(runtime, row, "twilio_auth_token"),
            from_number=row.twilio_from_number,
            messaging_service_sid=row.twilio_messaging_service_sid,
            api_url=settings.twilio_api_url,
            status_callback=f"{public}{TWILIO_STATUS_PATH}" if public else None,
            timeout=timeout)
    return CloudMessenger(phone_number_id=row.cloud_phone_number_id or "",
                          access_token=_open(runtime, row, "cloud_access_token"),
                          api_version=row.cloud_api_version, language=row.cloud_language,
                          api_url=settings.whatsapp_cloud_api_url, timeout=timeout)


async def _enabled_sender(runtime: Runtime, business_id: uuid.UUID) -> store.SenderRow | None:
    async with runtime.db.read() as conn:
        row = await store.load_sender(conn, business_id)
    return row if row is not None and row.enabled else None


async def send_queued(runtime: Runtime, row: RowMapping) -> tuple[str, str]:
    """Send one queued ``sms``/``whatsapp`` message with its business's sender as it is now;
    returns (provider, provider message id). ``MessageRefused`` when it cannot go (the sender
    was removed, switched off, or moved to a provider of another channel)."""
    sender = await _enabled_sender(runtime, row["business_id"])
    if sender is None:
        raise MessageRefused("The business has no SMS or WhatsApp sender switched on now.")
    if sender.provider != row["provider"]:
        raise MessageRefused(f"The business's sender is now {sender.provider}, not "
                             f"{row['provider']}.")
    kind = str(row["kind"]).removeprefix("buyer:")
    template = sender.cloud_templates.get(kind) if sender.provider == WHATSAPP_CLOUD else None
    message = Outgoing(to=row["recipient"], kind=kind, body=row["body"],
                       template=template or row["template"], params=tuple(row["params"] or ()))
    return sender.provider, await messenger_for(runtime, sender).send(message)


async def send_cash_code(runtime: Runtime, business_id: uuid.UUID, phone: str, code: str,
                         body: str) -> None:
    """Send a cash-on-delivery code to the buyer's phone by the business's sender, at once
    (see the module's docstring for why not through the queue), and record the message with
    the code masked and the phone number too (no order holds this message, so erasing the
    buyer's data later would not find it). Without a sender (or a phone number it can reach,
    or the Cloud API's cash code template) the code goes through the process's notifier, as
    before."""
    sender = await _enabled_sender(runtime, business_id)
    number = e164(phone)
    view = None if sender is None else SenderView(sender.provider, sender.cloud_templates)
    if sender is None or view is None or number is None or not view.can_send(CASH_CODE):
        await runtime.notifier.send(Message(recipient=phone, subject="Your order code",
                                            body=body))
        return
    template = view.template_for(CASH_CODE)
    provider_id: str | None = None
    error: str | None = None
    try:
        provider_id = await messenger_for(runtime, sender).send(Outgoing(
            to=number, kind=CASH_CODE, body=body, template=template, params=(code,)))
    except Exception as failure:  # told to the buyer, and recorded on the message
        error = f"{type(failure).__name__}: {failure}"
    now = runtime.clock.now()

    async def record(conn: AsyncConnection) -> None:
        await store.insert_message(conn, {
            "business_id": business_id, "event_id": uuid.uuid4(), "order_id": None,
            "kind": f"buyer:{CASH_CODE}", "recipient": masked(number), "channel": view.channel,
            "subject": "Your order code", "body": body.replace(code, "*" * len(code)),
            "status": SENT if error is None else FAILED, "attempts": 1,
            "next_attempt_at": now, "sent_at": now if error is None else None,
            "last_error": error, "created_at": now, "provider": sender.provider,
            "provider_message_id": provider_id, "template": template, "params": None})

    await runtime.db.run(record)
    if error is not None:
        raise MessageNotSent(f"The code could not be sent to {masked(number)}; ask for a new "
                             "one in a moment.", details={"channel": view.channel})


# --- delivery reports --------------------------------------------------------------------------

async def receive_twilio_status(runtime: Runtime, *, url: str, headers: Mapping[str, str],
                                body: bytes) -> str:
    """A Twilio status callback: checked against the auth token of the business that sent the
    message, then recorded; returns ``recorded``, ``stale`` (the message had moved past it)
    or ``ignored`` (a status we keep nothing for, such as ``sending``)."""
    signature = _header(headers, "x-twilio-signature")
    if not signature:
        raise MessagingSignatureRejected("The status callback has no X-Twilio-Signature.")
    params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    public = runtime.settings.messaging_public_url.rstrip("/")
    signed_url = f"{public}{TWILIO_STATUS_PATH}" if public else url

    async with runtime.db.read() as conn:
        message = await store.message_by_provider_id(
            conn, sid, providers=(TWILIO_SMS, TWILIO_WHATSAPP)) if sid else None
        sender = None if message is None else await store.load_sender(conn,
                                                                      message.business_id)
    if message is None or sender is None or sender.twilio_auth_token is None:
        # Nothing to check the signature with: refused like a bad one, and nothing changes.
        raise MessagingSignatureRejected("The status callback is about no message this "
                                         "server sent, so its signature cannot be checked.")
    token = _open(runtime, sender, "twilio_auth_token")
    if not RequestValidator(token).validate(signed_url, params, signature):
        raise MessagingSignatureRejected("The status callback's X-Twilio-Signature does not "
                                         "match the business's auth token.")
    status = TWILIO_STATUSES.get(params.get("MessageStatus", ""))
    if status is None:
        return "ignored"
    error = params.get("ErrorCode")
    return await _record(runtime, message.id, status,
                         f"Twilio error {error}" if error else None)


async def receive_cloud_webhook(runtime: Runtime, *, headers: Mapping[str, str],
                                body: bytes) -> str:
    """A Cloud API webhook: the phone number ids it names pick the businesses; only those
    whose app secret verifies ``X-Hub-Signature-256`` over the raw body are believed, and
    their statuses move only their own messages. Returns what was done, e.g. ``recorded 2``."""
    signature = _header(headers, "x-hub-signature-256")
    if not signature.startswith("sha256="):
        raise MessagingSignatureRejected("The webhook has no X-Hub-Signature-256.")
    try:
        payload = json.loads(body)
        changes = [(str(change["value"]["metadata"]["phone_number_id"]), change["value"])
                   for entry in payload["entry"] for change in entry.get("changes", ())
                   if change.get("field") == "messages"]
    except (ValueError, KeyError, TypeError) as unreadable:
        raise MessagingSignatureRejected("The webhook is not one the Cloud API sends.") \
            from unreadable
    async with runtime.db.read() as conn:
        candidates = await store.senders_of_phone_numbers(conn, sorted({p for p, _ in changes}))
    verified: dict[str, list[uuid.UUID]] = {}
    for sender in candidates:
        secret = _open(runtime, sender, "cloud_app_secret").encode()
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, signature):
            verified.setdefault(str(sender.cloud_phone_number_id), []).append(
                sender.business_id)
    if not verified:
        raise MessagingSignatureRejected("The webhook's X-Hub-Signature-256 does not match "
                                         "the app secret of the business it names.")
    recorded = 0
    for phone_number_id, value in changes:
        businesses = verified.get(phone_number_id)
        if not businesses:
            continue
        for report in value.get("statuses") or ():
            status = CLOUD_STATUSES.get(str(report.get("status")))
            if status is None:
                continue
            async with runtime.db.read() as conn:
                message = await store.message_by_provider_id(
                    conn, str(report.get("id")), providers=(WHATSAPP_CLOUD,),
                    business_ids=businesses)
            if message is None:
                continue
            problems = report.get("errors") or []
            reason = (f"WhatsApp error {problems[0].get('code')}: {problems[0].get('title')}"
                      if problems and isinstance(problems[0], dict) else None)
            if await _record(runtime, message.id, status, reason) == "recorded":
                recorded += 1
    return f"recorded {recorded}"


async def verify_cloud_subscription(runtime: Runtime, *, mode: str, token: str,
                                    challenge: str) -> str:
    """The Cloud API's webhook handshake: echo the challenge when the verify token is one a
    business set."""
    async with runtime.db.read() as conn:
        known = bool(token) and await store.has_verify_token(conn, _hash_token(token))
    if mode != "subscribe" or not known:
        raise MessagingVerifyTokenRejected("The verify token is not one set by a business.")
    return challenge


async def _record(runtime: Runtime, message_id: int, status: str, error: str | None) -> str:
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> bool:
        return await store.record_status(conn, message_id, status, now=now, error=error)

    return "recorded" if await runtime.db.run(work) else "stale"


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return ""
