"""Sending one SMS or WhatsApp message through a provider: Twilio (its official ``twilio``
package, for SMS and WhatsApp) and the WhatsApp Business Cloud API (a template message over
HTTP with ``httpx``).

Each adapter is built for one business's sender (its own account and secrets) and sends one
message, returning the provider's id for it; the provider's base URL comes from the settings
(``ORDERLINE_TWILIO_API_URL``, ``ORDERLINE_WHATSAPP_CLOUD_API_URL``), so tests point them at
stand-ins. A refusal the provider will repeat (a 4xx other than 429: a bad number, a wrong
token, an unknown template) is ``MessageRefused``, which is not retried; anything else
(network, timeouts, 5xx, 429) raises as is and the sender retries it later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from twilio.base.exceptions import TwilioRestException
from twilio.http import AsyncHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.rest import Client as TwilioClient

from orderline.notifications.messaging_rules import (
    TWILIO_WHATSAPP,
    cloud_template_payload,
    whatsapp_address,
)

log = logging.getLogger("orderline.messaging")


class MessageRefused(Exception):
    """The provider refused the message for a reason that another try would not change."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    to: str  # E.164
    kind: str
    body: str
    template: str | None = None
    params: tuple[str, ...] = ()


class Messenger(Protocol):
    provider: str

    async def send(self, message: Outgoing) -> str:
        """Send; return the provider's message id, or raise."""


def _refused_for(status: int) -> bool:
    return 400 <= status < 500 and status not in (408, 429)


class _HttpxForTwilio(AsyncHttpClient):  # type: ignore[misc]
    """The ``twilio`` package's async HTTP client, over httpx (no aiohttp session to keep)."""

    def __init__(self, timeout: float) -> None:
        super().__init__(logger=log, is_async=True, timeout=timeout)

    async def request(self, method: str, url: str, params: dict[str, Any] | None = None,
                      data: dict[str, Any] | None = None,
                      headers: dict[str, str] | None = None,
                      auth: tuple[str, str] | None = None, timeout: float | None = None,
                      allow_redirects: bool = False) -> TwilioResponse:
        async with httpx.AsyncClient(timeout=timeout or self.timeout) as client:
            answer = await client.request(method.upper(), url, params=params, data=data,
                                          headers=headers, auth=auth,
                                          follow_redirects=allow_redirects)
        return TwilioResponse(answer.status_code, answer.text, answer.headers)


class TwilioMessenger:
    """Twilio's Messages API: SMS, or WhatsApp (``whatsapp:`` addresses) for
    ``twilio_whatsapp``. Delivery reports are asked for at ``status_callback``."""

    def __init__(self, *, provider: str, account_sid: str, auth_token: str,
                 from_number: str | None, messaging_service_sid: str | None, api_url: str,
                 status_callback: str | None, timeout: float) -> None:
        self.provider = provider
        self._client = TwilioClient(account_sid, auth_token,
                                    http_client=_HttpxForTwilio(timeout))
        self._client.api.base_url = api_url.rstrip("/")
        self._from = from_number
        self._service = messaging_service_sid
        self._callback = status_callback

    async def send(self, message: Outgoing) -> str:
        whatsapp = self.provider == TWILIO_WHATSAPP
        to = whatsapp_address(message.to) if whatsapp else message.to
        options: dict[str, Any] = {"to": to, "body": message.body}
        if self._service:
            options["messaging_service_sid"] = self._service
        if self._from:
            options["from_"] = whatsapp_address(self._from) if whatsapp else self._from
        if self._callback:
            options["status_callback"] = self._callback
        try:
            sent = await self._client.messages.create_async(**options)
        except TwilioRestException as error:
            if _refused_for(int(error.status)):
                raise MessageRefused(f"Twilio refused the message ({error.status}, code "
                                     f"{error.code}): {error.msg}") from error
            raise
        return str(sent.sid)


class CloudMessenger:
    """The WhatsApp Business Cloud API: a template message (business-initiated messages must
    be templates the business had approved)."""

    provider = "whatsapp_cloud"

    def __init__(self, *, phone_number_id: str, access_token: str, api_version: str,
                 language: str, api_url: str, timeout: float) -> None:
        self._url = f"{api_url.rstrip('/')}/{api_version}/{phone_number_id}/messages"
        self._token = access_token
        self._language = language
        self._timeout = timeout

    async def send(self, message: Outgoing) -> str:
        if not message.template:
            raise MessageRefused(f"No WhatsApp template is set for {message.kind}.")
        payload = cloud_template_payload(to=message.to, template=message.template,
                                         language=self._language, kind=message.kind,
                                         params=list(message.params))
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            answer = await client.post(self._url, json=payload,
                                       headers={"Authorization": f"Bearer {self._token}"})
        if answer.status_code >= 300:
            text = f"WhatsApp Cloud API answered {answer.status_code}: {answer.text[:300]}"
            if _refused_for(answer.status_code):
                raise MessageRefused(text)
            raise RuntimeError(text)
        try:
            return str(answer.json()["messages"][0]["id"])
        except (ValueError, KeyError, IndexError, TypeError) as error:
            raise RuntimeError(f"WhatsApp Cloud API answered without a message id: "
                               f"{answer.text[:300]}") from error
