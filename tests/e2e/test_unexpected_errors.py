"""A bug in a route answers a JSON 500 that names the request id, and the client's keep-alive
connection stays usable for its next request (it used to be reset: ECONNRESET)."""

from __future__ import annotations

import http.client
import json
import logging

from fastapi import FastAPI

from orderline.api.app import create_app
from orderline.core.config import Settings
from tests.support.servers import serving_in_thread

WAIT = 10.0


class Broken(RuntimeError):
    """What a bug raises in this test's route."""


def with_a_bug(database_url: str) -> FastAPI:
    app = create_app(Settings(database_url=database_url, embedded_worker=False))

    async def broken() -> dict[str, str]:
        raise Broken("a bug")

    async def fine() -> dict[str, str]:
        return {"still": "here"}

    # Ahead of the API's own routes, so the paths are this test's only.
    app.router.add_api_route("/test/broken", broken, methods=["GET"])
    app.router.add_api_route("/test/fine", fine, methods=["GET"])
    return app


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_bug_answers_a_json_500_with_the_request_id_and_keeps_the_connection(
        database_url: str) -> None:
    app = with_a_bug(database_url)  # configures the logs: listen after it
    kept = Kept()
    logger = logging.getLogger("orderline.api.unexpected")
    logger.addHandler(kept)
    with serving_in_thread(app) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
        try:
            connection.request("GET", "/test/broken", headers={"X-Request-ID": "req-boom-1"})
            answer = connection.getresponse()
            body = json.loads(answer.read())
            assert answer.status == 500
            assert answer.getheader("x-request-id") == "req-boom-1"
            assert answer.getheader("content-type") == "application/json"
            assert not answer.will_close  # the server keeps the connection open
            assert body["error"]["code"] == "internal_error"
            assert body["error"]["details"] == {"request_id": "req-boom-1"}
            assert "Broken" not in json.dumps(body)  # no internals leak to the caller
            logged = [r for r in kept.records if r.exc_info and r.exc_info[0] is Broken]
            assert len(logged) == 1 and "/test/broken" in logged[0].getMessage()
            assert logged[0].__dict__["request_id"] == "req-boom-1"  # the log names it too
            # The same connection serves the next request (it was reset before the fix).
            sock = connection.sock
            connection.request("GET", "/test/fine")
            again = connection.getresponse()
            assert (again.status, json.loads(again.read())) == (200, {"still": "here"})
            assert connection.sock is sock
        finally:
            connection.close()
            logger.removeHandler(kept)
