"""The buyers of ``orderline bench flash-sale``: one TCP connection each, released together.

A flash sale is many buyers pressing "buy" in the same second, not a steady stream. So every
buyer first opens its own connection to the server (they are all open before anyone asks),
then they all wait on one ``asyncio.Event``; once it is set, each sends one
``POST /v1/orders`` and reads the answer to the end. The request is written by hand
(HTTP/1.1 with ``Connection: close``, so the answer ends when the server closes the
connection) because the point is 1,000 real sockets sending at once: an HTTP client pool would
open its connections on demand, and its per-request cost on this process, which shares the
machine with the servers, would stretch the release.

Latency is timed per buyer from its send to the last byte of the answer; the sale's clock
starts when the buyers are released.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

CONNECT_TIMEOUT_SECONDS = 30.0
ANSWER_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True, slots=True)
class Answer:
    """What one buyer got: the HTTP status (0: no answer at all), the error code of a
    refusal, and when its request was sent and its answer complete (``perf_counter``)."""

    status: int
    code: str | None
    sent: float
    done: float
    failure: str | None = None

    @property
    def latency_ms(self) -> float:
        return (self.done - self.sent) * 1000


@dataclass(frozen=True, slots=True)
class Sale:
    """Every buyer's answer, in buyer order, and when they were released."""

    answers: tuple[Answer, ...]
    released: float


def request_bytes(*, host: str, port: int, api_key: str, body: dict[str, Any]) -> bytes:
    """One ``POST /v1/orders`` as it goes on the wire."""
    payload = json.dumps(body).encode()
    head = (f"POST /v1/orders HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {api_key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n")
    return head.encode() + payload


def _dechunk(body: bytes) -> bytes:
    out, rest = bytearray(), body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        rest = rest[size + 2:]
    return bytes(out)


def parse_answer(raw: bytes) -> tuple[int, str | None]:
    """The status and, for a refusal with Orderline's error shape, its error code."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split(b" ", 2)
    if len(status_line) < 2 or not status_line[1].isdigit():
        raise ValueError(f"not an HTTP answer: {raw[:80]!r}")
    status = int(status_line[1])
    if status < 400:
        return status, None
    if b"transfer-encoding: chunked" in head.lower():
        body = _dechunk(body)
    try:
        error = json.loads(body)["error"]
        return status, str(error["code"])
    except (ValueError, KeyError, TypeError):
        return status, None


async def release_buyers(*, host: str, port: int, requests: Sequence[bytes]) -> Sale:
    """Connect one socket per request, release them all at once, collect the answers."""
    gate = asyncio.Event()
    waiting = len(requests)
    all_waiting = asyncio.Event()

    def arrived() -> None:
        nonlocal waiting
        waiting -= 1
        if waiting == 0:
            all_waiting.set()

    async def buyer(request: bytes) -> Answer:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port),
                                                    CONNECT_TIMEOUT_SECONDS)
        except (OSError, TimeoutError) as error:
            arrived()
            await gate.wait()
            now = time.perf_counter()
            return Answer(0, None, now, now, f"connect: {type(error).__name__}: {error}")
        arrived()
        await gate.wait()
        sent = time.perf_counter()
        try:
            writer.write(request)
            await writer.drain()
            raw = await asyncio.wait_for(reader.read(), ANSWER_TIMEOUT_SECONDS)
            done = time.perf_counter()
            status, code = parse_answer(raw)
            return Answer(status, code, sent, done)
        except (OSError, TimeoutError, ValueError) as error:
            return Answer(0, None, sent, time.perf_counter(),
                          f"{type(error).__name__}: {error}"[:300])
        finally:
            writer.close()

    tasks = [asyncio.create_task(buyer(r)) for r in requests]
    await all_waiting.wait()
    released = time.perf_counter()
    gate.set()
    return Sale(answers=tuple(await asyncio.gather(*tasks)), released=released)
