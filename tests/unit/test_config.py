from orderline.core.config import async_url, driver_free_url


def test_database_urls_get_the_async_driver_and_lose_it_again_for_plain_clients() -> None:
    assert async_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert async_url("sqlite:///data/x.db") == "sqlite+aiosqlite:///data/x.db"
    assert driver_free_url("postgresql+asyncpg://u:p@h:5432/db") == "postgresql://u:p@h:5432/db"
    assert driver_free_url("postgresql://u@h/db") == "postgresql://u@h/db"
