"""Stand-ins for the SMS and WhatsApp providers: small ASGI apps, served under uvicorn in a
thread of the test (``serving_in_thread``), that speak each provider's wire format.

- ``TwilioStandIn``: Twilio's Messages API, ``POST /2010-04-01/Accounts/{sid}/Messages.json``,
  form-encoded, HTTP basic auth with the account SID and auth token; answers 201 with the
  message's JSON (``sid``, ``status`` ...).
- ``CloudStandIn``: the WhatsApp Business Cloud API, ``POST /{version}/{phone-number-id}/
  messages``, JSON, bearer token; answers ``{"messages": [{"id": "wamid..."}]}``.

Each records what it accepted, can be told to fail the next N requests (HTTP 500, to prove
retries), and signs delivery reports as its provider does, with the algorithms written here
from the providers' documentation (hmac + hashlib + base64), independently of the code under
test: Twilio's X-Twilio-Signature is the base64 HMAC-SHA1, keyed with the auth token, of the
callback URL followed by each POST parameter's name and value in name order; the Cloud API's
X-Hub-Signature-256 is ``sha256=`` and the hex HMAC-SHA256 of the raw body, keyed with the app
secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    signed = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def hub_signature(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Failing:
    """Answers HTTP 500 to the next ``remaining`` requests."""

    remaining: int = 0
    refused: int = 0

    def take(self) -> bool:
        if self.remaining > 0:
            self.remaining -= 1
            self.refused += 1
            return True
        return False


@dataclass
class TwilioStandIn:
    account_sid: str = "AC" + "0" * 31 + "1"
    auth_token: str = field(default_factory=lambda: secrets.token_hex(16))
    received: list[dict[str, str]] = field(default_factory=list)
    failing: Failing = field(default_factory=Failing)
    app: FastAPI = field(init=False)

    def __post_init__(self) -> None:
        self.app = FastAPI()
        self.app.post("/2010-04-01/Accounts/{sid}/Messages.json")(self._create)

    async def _create(self, sid: str, request: Request) -> JSONResponse:
        expected = "Basic " + base64.b64encode(
            f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if sid != self.account_sid or request.headers.get("authorization") != expected:
            return JSONResponse({"code": 20003, "message": "Authenticate", "status": 401},
                                status_code=401)
        if self.failing.take():
            return JSONResponse({"code": 20500, "message": "Internal Server Error",
                                 "status": 500}, status_code=500)
        form = {k: str(v) for k, v in (await request.form()).items()}
        if "To" not in form or "Body" not in form:
            return JSONResponse({"code": 21604, "message": "A 'To' phone number is required.",
                                 "status": 400}, status_code=400)
        message_sid = "SM" + secrets.token_hex(16)
        self.received.append({**form, "Sid": message_sid})
        return JSONResponse({"sid": message_sid, "account_sid": sid, "status": "queued",
                             "to": form["To"], "from": form.get("From"), "body": form["Body"],
                             "num_segments": "1", "direction": "outbound-api",
                             "api_version": "2010-04-01"}, status_code=201)

    def status_callback(self, message_sid: str, status: str, *, url: str,
                        token: str | None = None) -> tuple[dict[str, str], str]:
        """The headers and form body Twilio POSTs to ``url`` when the message's status
        changes, signed with ``token`` (the account's auth token unless told otherwise)."""
        sent = next(m for m in self.received if m["Sid"] == message_sid)
        params = {"MessageSid": message_sid, "SmsSid": message_sid, "AccountSid":
                  self.account_sid, "MessageStatus": status, "SmsStatus": status,
                  "To": sent["To"], "From": sent.get("From", ""), "ApiVersion": "2010-04-01"}
        if status in ("failed", "undelivered"):
            params["ErrorCode"] = "30003"
        signature = twilio_signature(token or self.auth_token, url, params)
        return ({"X-Twilio-Signature": signature,
                 "Content-Type": "application/x-www-form-urlencoded"}, urlencode(params))


@dataclass
class CloudStandIn:
    phone_number_id: str = "106540352242922"
    access_token: str = field(default_factory=lambda: "EAAG" + secrets.token_hex(20))
    app_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    received: list[dict[str, Any]] = field(default_factory=list)
    failing: Failing = field(default_factory=Failing)
    app: FastAPI = field(init=False)

    def __post_init__(self) -> None:
        self.app = FastAPI()
        self.app.post("/{version}/{phone_number_id}/messages")(self._send)

    async def _send(self, version: str, phone_number_id: str,
                    request: Request) -> JSONResponse:
        if (phone_number_id != self.phone_number_id
                or request.headers.get("authorization") != f"Bearer {self.access_token}"):
            return JSONResponse({"error": {"message": "Invalid OAuth access token.",
                                           "type": "OAuthException", "code": 190}},
                                status_code=401)
        if self.failing.take():
            return JSONResponse({"error": {"message": "An unknown error occurred",
                                           "type": "OAuthException", "code": 1}},
                                status_code=500)
        payload = await request.json()
        message_id = "wamid." + secrets.token_hex(12)
        self.received.append({"version": version, "id": message_id, **payload})
        return JSONResponse({"messaging_product": "whatsapp",
                             "contacts": [{"input": payload["to"], "wa_id": payload["to"]}],
                             "messages": [{"id": message_id}]})

    def status_webhook(self, message_id: str, status: str, *, secret: str | None = None,
                       phone_number_id: str | None = None) -> tuple[dict[str, str], bytes]:
        """The headers and raw body of the Cloud API's webhook reporting ``status``."""
        sent = next(m for m in self.received if m["id"] == message_id)
        report: dict[str, Any] = {"id": message_id, "status": status,
                                  "timestamp": str(int(time.time())),
                                  "recipient_id": sent["to"]}
        if status == "failed":
            report["errors"] = [{"code": 131026, "title": "Message undeliverable"}]
        body = json.dumps({"object": "whatsapp_business_account", "entry": [{
            "id": "102290129340398", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881",
                             "phone_number_id": phone_number_id or self.phone_number_id},
                "statuses": [report]}}]}]}).encode()
        return ({"X-Hub-Signature-256": hub_signature(secret or self.app_secret, body),
                 "Content-Type": "application/json"}, body)
