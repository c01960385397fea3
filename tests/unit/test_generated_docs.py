"""The committed pages that are generated from the code are what the generator writes now.

``docs/errors.md`` comes from the error classes and the status table; the settings table in
``docs/operating.md`` from ``core.config.Settings``; the table of placements in
``docs/scaling.md`` from ``schema.distribution``. Regenerate them with ``scripts/gen-docs``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orderline.cli.docs import (
    ERRORS_PAGE,
    OPERATING_PAGE,
    REGENERATE,
    SCALING_PAGE,
    generated_pages,
    settings_table,
)
from orderline.core.config import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("page", [ERRORS_PAGE, OPERATING_PAGE, SCALING_PAGE],
                         ids=lambda p: p.name)
def test_generated_page_is_up_to_date(page: Path) -> None:
    assert (ROOT / OPERATING_PAGE).exists(), f"{OPERATING_PAGE} is missing"
    assert (ROOT / page).exists(), f"{page} is missing: run {REGENERATE}"
    expected = generated_pages(ROOT)[ROOT / page]
    assert (ROOT / page).read_text(encoding="utf-8") == expected, (
        f"{page} differs from what the code says: run {REGENERATE} and commit the result")


def test_every_setting_is_described_and_none_leaks_a_secret() -> None:
    table = settings_table()
    assert "**undescribed**" not in table
    assert "whsec_sandbox_local" not in table
    for name in Settings.model_fields:
        assert f"`ORDERLINE_{name.upper()}`" in table
