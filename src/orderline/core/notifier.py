"""Sending a message to a person: the interface, and the log notifier (the default)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("orderline.notifier")


@dataclass(frozen=True, slots=True)
class Message:
    recipient: str  # an email address, or a phone number for SMS/WhatsApp adapters
    subject: str
    body: str


class Notifier(Protocol):
    channel: str

    async def send(self, message: Message) -> None:
        """Deliver or raise; the caller retries a raised failure later."""


class LogNotifier:
    """Writes each message to the log: the embedded default, and a record for operators."""

    channel = "log"

    async def send(self, message: Message) -> None:
        log.info("notification", extra={"recipient": message.recipient,
                                        "subject": message.subject, "body": message.body})
