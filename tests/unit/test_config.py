import pytest
from pydantic import ValidationError

from orderline.core.config import Settings, async_url, driver_free_url


def test_database_urls_get_the_async_driver_and_lose_it_again_for_plain_clients() -> None:
    assert async_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert async_url("sqlite:///data/x.db") == "sqlite+aiosqlite:///data/x.db"
    assert driver_free_url("postgresql+asyncpg://u:p@h:5432/db") == "postgresql://u:p@h:5432/db"
    assert driver_free_url("postgresql://u@h/db") == "postgresql://u@h/db"


def test_production_refuses_the_sandbox_a_generated_key_and_unverifiable_stripe() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(environment="production", stripe_api_key="sk_live_x")
    said = str(refused.value)
    for setting in ("ORDERLINE_SANDBOX_ENABLED", "ORDERLINE_PROOF_MASTER_KEYS",
                    "ORDERLINE_STRIPE_WEBHOOK_SECRET"):
        assert setting in said


def test_production_starts_when_nothing_unsafe_is_configured() -> None:
    safe = Settings(environment="production", sandbox_enabled=False,
                    proof_master_keys="k1:" + "A" * 44)
    assert safe.production_problems() == []


def test_development_keeps_the_sandbox_and_its_documented_secret() -> None:
    dev = Settings(environment="development", sandbox_enabled=True, proof_master_keys="",
                   sandbox_webhook_secret="whsec_sandbox_local")
    assert dev.environment == "development" and dev.sandbox_enabled
    assert dev.sandbox_webhook_secret.get_secret_value() == "whsec_sandbox_local"
    assert len(dev.production_problems()) == 2  # what production would refuse


def test_a_read_replica_needs_a_postgresql_primary() -> None:
    with pytest.raises(ValidationError, match="ORDERLINE_DATABASE_READ_URL"):
        Settings(database_url="", database_read_url="postgresql://u@replica/db")
    on_postgres = Settings(database_url="postgresql://u@primary/db",
                           database_read_url="postgresql://u@replica/db")
    assert on_postgres.resolved_read_url() == "postgresql+asyncpg://u@replica/db"
    assert Settings(database_url="postgresql://u@primary/db").resolved_read_url() is None
