"""Settings from environment variables (prefix ``ORDERLINE_``), read once at start-up."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("data")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERLINE_", extra="ignore")

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = Field(
        default="",
        description="sqlite+aiosqlite:///path or postgresql://user@host/db; "
        "empty means a SQLite file under data_dir.",
    )
    db_pool_size: int = 10
    max_body_bytes: int = 1_048_576
    default_reservation_ttl_seconds: int = 900
    sweep_interval_seconds: float = 2.0
    reconcile_interval_seconds: float = 600.0
    log_level: str = "INFO"
    # Run the payment-deadline sweeper inside the API process (the demo does).
    embedded_worker: bool = False
    # Only for the deterministic interleaving tests: lets a test pause named points.
    enable_test_checkpoints: bool = False

    def resolved_database_url(self) -> str:
        """The URL with the async driver filled in (asyncpg / aiosqlite)."""
        url = self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'orderline.db'}"
        return async_url(url)


def async_url(url: str) -> str:
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg://",
                   "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    if url.startswith("sqlite://") and not url.startswith("sqlite+aiosqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://"):]
    return url


def driver_free_url(url: str) -> str:
    """The URL without a SQLAlchemy driver suffix (``postgresql+asyncpg://`` -> ``postgresql://``),
    as asyncpg and other plain clients take it."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+')[0]}{sep}{rest}"
