"""A real webhook receiver for tests: an HTTP server on 127.0.0.1 in a thread, answering as
told (succeed, fail the next N requests, fail always, redirect, answer slowly), recording
every request, and checking each signature with the Standard Webhooks algorithm written here
from the specification (hmac + hashlib + base64), independently of the code under test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def standard_webhooks_signature_ok(secret: str, headers: Mapping[str, str],
                                   body: bytes) -> bool:
    """The Standard Webhooks check: the key is the base64 after ``whsec_``; the signed text
    is ``{webhook-id}.{webhook-timestamp}.{body}``; ``webhook-signature`` holds one or more
    space-separated ``v1,<base64 HMAC-SHA256>``."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(candidate, f"v1,{expected}")
               for candidate in headers["webhook-signature"].split(" "))


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    answered: int
    signature_ok: bool | None  # None until the receiver knows the secret


class Receiver:
    """``with Receiver() as r``: POST to ``r.url``; ``r.received`` lists what came."""

    def __init__(self) -> None:
        self.secret: str | None = None
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._failures_left = 0
        self._fail_status = 500
        self._always_fail = False
        self._redirect_to: str | None = None
        self._delay = 0.0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- how to answer -------------------------------------------------------------------
    def fail_next(self, count: int, status: int = 500) -> None:
        with self._lock:
            self._failures_left, self._fail_status = count, status

    def fail_always(self, status: int = 500) -> None:
        with self._lock:
            self._always_fail, self._fail_status = True, status

    def recover(self) -> None:
        with self._lock:
            self._always_fail, self._failures_left, self._redirect_to = False, 0, None

    def redirect_to(self, location: str) -> None:
        with self._lock:
            self._redirect_to = location

    def answer_after(self, seconds: float) -> None:
        with self._lock:
            self._delay = seconds

    # -- what came -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/orderline"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def succeeded(self) -> list[Received]:
        return [r for r in self.received if 200 <= r.answered < 300]

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _decide(self) -> tuple[int, str | None, float]:
        with self._lock:
            if self._redirect_to is not None:
                return 307, self._redirect_to, self._delay
            if self._always_fail:
                return self._fail_status, None, self._delay
            if self._failures_left > 0:
                self._failures_left -= 1
                return self._fail_status, None, self._delay
            return 200, None, self._delay

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, location, delay = receiver._decide()
                ok = None
                if receiver.secret is not None:
                    ok = standard_webhooks_signature_ok(receiver.secret, headers, body)
                    if not ok:
                        status = 401
                with receiver._lock:
                    receiver.received.append(Received(self.path, headers, body, status, ok))
                if delay:
                    time.sleep(delay)
                text = b"ok" if status < 300 else b"receiver says no"
                try:
                    self.send_response(status)
                    if location:
                        self.send_header("Location", location)
                    self.send_header("Content-Length", str(len(text)))
                    self.end_headers()
                    self.wfile.write(text)
                except OSError:
                    pass  # the sender gave up waiting (the slow-receiver test)

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output clean

        return Handler


@contextmanager
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r
