"""Fixtures shared by every test layer.

Both databases are real: a SQLite file, and a fresh PostgreSQL database for this run (see
``tests/support/postgres.py``). With ``CI=true`` a missing PostgreSQL fails the run instead of
skipping its tests.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from orderline.core.config import Settings, async_url
from orderline.core.db.engine import Database
from orderline.core.runtime import Runtime
from orderline.manual_payments.files.ocr import TesseractReader
from orderline.schema.migrate import upgrade_to_head
from orderline.tenancy import service as tenancy
from orderline.tenancy.rules import Principal
from orderline.wiring import provide_parts
from tests.support import postgres

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with postgres.own_database(in_ci=IN_CI) as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("sqlite") / "orderline.db"
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    """The URL of a migrated database, once per backend."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture(scope="session")
async def shared_db(database_url: str) -> AsyncIterator[Database]:
    db = Database(async_url(database_url), pool_size=20)
    await upgrade_to_head(db)
    yield db
    await db.dispose()


@pytest.fixture
def runtime(shared_db: Database, database_url: str) -> Runtime:
    """A runtime on the shared engine, with its own checkpoints and the system clock."""
    return provide_parts(Runtime(settings=Settings(database_url=database_url), db=shared_db))


@dataclass
class Merchant:
    principal: Principal
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


async def new_merchant(runtime: Runtime, name: str = "Test shop",
                       reservation_ttl_seconds: int | None = None) -> Merchant:
    created = await tenancy.create_business(runtime, name=name, currency="USD",
                                            reservation_ttl_seconds=reservation_ttl_seconds)
    principal = await tenancy.authenticate(runtime, created.api_key.key)
    return Merchant(principal=principal, key=created.api_key.key)


@pytest.fixture
async def merchant(runtime: Runtime) -> Merchant:
    return await new_merchant(runtime)


@pytest.fixture(scope="session")
def tesseract() -> TesseractReader:
    """The reader on this machine's Tesseract; skipped without it, failed without it in CI."""
    reader = TesseractReader()
    if not reader.available():
        reason = "tesseract is not installed (apt-get install tesseract-ocr)"
        if IN_CI:
            pytest.fail(reason + " (CI=true: the OCR tests must not be skipped)")
        pytest.skip(reason)
    return reader
