"""Publishing events to NATS JetStream, for the merchant's other services (``nats-py``).

Used when ``ORDERLINE_NATS_URL`` is set. The connection is made on the first publish, and the
stream (``ORDERLINE_NATS_STREAM``, subjects ``<prefix>.>``) is created then if it is missing;
an existing stream is used as it is, if it takes our subjects. Each event goes to
``<prefix>.<business_id>.<event type>`` with the JSON envelope as its body and the event id
as ``Nats-Msg-Id``, and ``publish`` returns only once JetStream acknowledged it. JetStream
drops a second message with the same id within the stream's duplicate window, so publishing
an event again (the relay's retry after a crash) stores it once.

Reconnecting is done here rather than by the client library: a connection that was lost, or
a failure that is not the server's answer (a timeout), closes it, and the next publish
connects afresh; the relay retries the failed event with backoff. While the server cannot be
reached, publishes fail at once for a few seconds after each failed connection attempt,
so a relay round does not wait on the network once per event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import APIError, BadRequestError, NotFoundError

from orderline.core.config import Settings
from orderline.events.event_types import StoredEvent

log = logging.getLogger("orderline.nats")

# Long enough to cover the relay's lease and first retries, so a redelivered event is
# recognised as a duplicate.
DUPLICATE_WINDOW_SECONDS = 600.0


class StreamMisconfigured(RuntimeError):
    """The stream exists but does not take our subjects (someone else's stream)."""


class NatsPublisher:
    def __init__(self, *, url: str, stream: str = "ORDERLINE", subject_prefix: str = "orderline",
                 timeout: float = 5.0,
                 duplicate_window: float = DUPLICATE_WINDOW_SECONDS) -> None:
        self.url = url
        self.stream = stream
        self.subject_prefix = subject_prefix.rstrip(".")
        self.timeout = timeout
        self.duplicate_window = duplicate_window
        self._client: Client | None = None
        self._js: JetStreamContext | None = None
        self._stream_ready = False
        self._lock = asyncio.Lock()
        self._connect_failed_at: float | None = None
        self._connect_error: Exception | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> NatsPublisher:
        return cls(url=settings.nats_url, stream=settings.nats_stream,
                   subject_prefix=settings.nats_subject_prefix, timeout=settings.nats_timeout)

    @property
    def subjects(self) -> list[str]:
        return [f"{self.subject_prefix}.>"]

    def subject_of(self, event: StoredEvent) -> str:
        return f"{self.subject_prefix}.{event.business_id}.{event.type}"

    async def publish(self, event: StoredEvent) -> None:
        js = await self._ready()
        body = json.dumps(event.envelope(), separators=(",", ":"), default=str).encode()
        try:
            ack = await js.publish(self.subject_of(event), body, timeout=self.timeout,
                                   stream=self.stream,
                                   headers={"Nats-Msg-Id": str(event.event_id)})
        except APIError:
            self._stream_ready = False  # e.g. the stream was deleted: check it next time
            raise
        except Exception:
            await self._drop_connection()
            raise
        if ack.duplicate:
            log.info("event already in the stream; JetStream dropped the duplicate",
                     extra={"event_id": str(event.event_id), "stream": ack.stream})

    async def _ready(self) -> JetStreamContext:
        async with self._lock:
            try:
                if self._client is None or not self._client.is_connected or self._js is None:
                    await self._drop_connection()
                    self._client = await self._connect()
                    self._js = self._client.jetstream(timeout=self.timeout)
                if not self._stream_ready:
                    await self._ensure_stream(self._js)
                    self._stream_ready = True
                return self._js
            except APIError:
                raise
            except Exception:
                await self._drop_connection()
                raise

    async def _connect(self) -> Client:
        failed_at, error = self._connect_failed_at, self._connect_error
        if failed_at is not None and time.monotonic() - failed_at < self.timeout:
            raise ConnectionError(f"NATS at {self.url} is unreachable (tried "
                                  f"{time.monotonic() - failed_at:.1f} s ago): {error!r}")
        try:
            client = await nats.connect(self.url, name="orderline",
                                        connect_timeout=max(1, round(self.timeout)),
                                        allow_reconnect=False, error_cb=_log_error,
                                        # the client's own retry loop would wait minutes
                                        max_reconnect_attempts=1, reconnect_time_wait=0)
        except Exception as failure:
            self._connect_failed_at, self._connect_error = time.monotonic(), failure
            raise
        self._connect_failed_at = self._connect_error = None
        return client

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        """Create the stream if missing; accept an existing one that takes our subjects."""
        try:
            info = await js.stream_info(self.stream)
        except NotFoundError:
            try:
                await js.add_stream(name=self.stream, subjects=self.subjects,
                                    duplicate_window=self.duplicate_window)
                return
            except BadRequestError:  # another process created it meanwhile, or it clashes
                info = await js.stream_info(self.stream)
        taken = set(info.config.subjects or [])
        if not set(self.subjects) <= taken:
            raise StreamMisconfigured(
                f"The JetStream stream {self.stream} exists with subjects {sorted(taken)}, "
                f"not {self.subjects}; set ORDERLINE_NATS_STREAM to another name or add the "
                "subjects to it.")

    async def _drop_connection(self) -> None:
        client, self._client, self._js = self._client, None, None
        self._stream_ready = False
        if client is not None and not client.is_closed:
            with contextlib.suppress(Exception):
                await client.close()

    async def close(self) -> None:
        """Flush what is in flight, then close (drain)."""
        async with self._lock:
            client, self._client, self._js = self._client, None, None
            if client is None or client.is_closed:
                return
            try:
                await client.drain()
            except Exception:
                log.warning("could not drain the NATS connection; closing it", exc_info=True)
                with contextlib.suppress(Exception):
                    await client.close()


async def _log_error(error: Exception) -> None:
    log.warning("NATS connection error: %s", error)
