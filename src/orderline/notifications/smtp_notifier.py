"""Sending notifications by email through an SMTP server (``aiosmtplib``).

Used when ``ORDERLINE_SMTP_HOST`` is set. One connection per message: notifications are few,
and a fresh connection never trips over a server that dropped an idle one. STARTTLS is
required when ``ORDERLINE_SMTP_STARTTLS`` is true (the default, for port 587); port 465 means
TLS from the first byte (SMTPS). Each SMTP step waits at most ``ORDERLINE_SMTP_TIMEOUT``.

Only email addresses can be reached this way: a message to anything else (a phone number)
raises ``NotAnEmailAddress``. The notification service never queues such a message on the
email channel (it goes to the log channel instead), so this is a guard, not a path.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib

from orderline.core.config import Settings
from orderline.core.notifier import Message
from orderline.notifications.rules import EMAIL_CHANNEL, is_email_address

SMTPS_PORT = 465


class NotAnEmailAddress(ValueError):
    """The recipient is not an email address, so the message cannot go by email."""


class SmtpNotifier:
    channel = EMAIL_CHANNEL

    def __init__(self, *, host: str, port: int = 587, sender: str, username: str = "",
                 password: str = "", starttls: bool = True, timeout: float = 30.0) -> None:
        if not is_email_address(sender):
            raise ValueError(f"The sender address {sender!r} is not an email address; "
                             "set ORDERLINE_SMTP_FROM.")
        self.host = host
        self.port = port
        self.sender = sender
        self.username = username
        self.password = password
        self.implicit_tls = port == SMTPS_PORT
        self.starttls = starttls and not self.implicit_tls
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpNotifier:
        return cls(host=settings.smtp_host, port=settings.smtp_port,
                   sender=settings.smtp_from or settings.smtp_username,
                   username=settings.smtp_username,
                   password=settings.smtp_password.get_secret_value(),
                   starttls=settings.smtp_starttls, timeout=settings.smtp_timeout)

    def compose(self, message: Message) -> EmailMessage:
        if not is_email_address(message.recipient):
            raise NotAnEmailAddress(f"{message.recipient!r} is not an email address; it cannot "
                                    "be reached by email.")
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.recipient
        mail["Subject"] = message.subject
        mail["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2])
        mail.set_content(message.body)
        return mail

    async def send(self, message: Message) -> None:
        await aiosmtplib.send(
            self.compose(message), hostname=self.host, port=self.port,
            username=self.username or None, password=self.password or None,
            use_tls=self.implicit_tls, start_tls=self.starttls, timeout=self.timeout)
