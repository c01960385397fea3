"""A bug in a route answers a JSON 500 that names the request id, and the client's keep-alive
connection stays usable for its next request (it used to be reset: ECONNRESET)."""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from fastapi import FastAPI

from orderline.api.app import create_app
from orderline.core.config import Settings, driver_free_url
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
    logger = logging.getLogger("orderline.core.unanswered")
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


def test_a_database_that_refuses_connections_answers_503_database_busy_not_500(
        postgres_url: str) -> None:
    """PostgreSQL at its connection limit ("sorry, too many clients already", SQLSTATE 53300)
    once made two of a hundred racing buyers get a 500. A role whose limit is 0 gets the same
    refusal every time: the API answers 503 ``database_busy`` with Retry-After, and the
    connection stays usable."""
    role = f"orderline_busy_{uuid.uuid4().hex[:8]}"
    admin_url = driver_free_url(postgres_url)

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 0'))
    try:
        parts = urlsplit(postgres_url)
        busy_url = urlunsplit(parts._replace(netloc=f"{role}@{parts.hostname}:{parts.port}"))
        app = create_app(Settings(database_url=busy_url, embedded_worker=False))
        with serving_in_thread(app) as port:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
            try:
                for _ in range(2):  # the same keep-alive connection, twice
                    connection.request("GET", "/v1/orders",
                                       headers={"Authorization": "Bearer ol_whoever"})
                    answer = connection.getresponse()
                    body = json.loads(answer.read())
                    assert answer.status == 503, body
                    assert body["error"]["code"] == "database_busy"
                    assert answer.getheader("retry-after") == "1"
                    assert not answer.will_close
            finally:
                connection.close()
    finally:
        asyncio.run(admin(f'DROP ROLE "{role}"'))
