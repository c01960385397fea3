"""Manual payment templates, reading receipt text and scoring it against the order."""

from __future__ import annotations

from datetime import date

import pytest

from orderline.domain.manual_payments import (
    Expected,
    names_match,
    read_receipt,
    score_receipt,
    templates_for,
)

GCASH_RECEIPT = """GCash
Sent via GCash
Amount  PHP 1,250.00
Total Amount Sent  ₱1,250.00
Send to
JUAN DELA CRUZ
+63 917 123 4567
Message: OL-7K2Q9
Ref No. 5012 345 678901
Nov 23, 2026 3:45 PM
"""

EXPECTED = Expected(amount=125000, currency="PHP", reference="OL-7K2Q9",
                    window_start=date(2026, 11, 22), window_end=date(2026, 11, 25),
                    account_name="Juan Dela Cruz")


def test_templates_are_offered_per_country() -> None:
    assert [t.code for t in templates_for("ph")] == ["gcash", "maya", "ph_bank_transfer"]
    assert {t.code for t in templates_for("MY")} == {"duitnow", "touch_n_go",
                                                     "my_bank_transfer"}
    assert {t.code for t in templates_for("NP")} >= {"esewa", "khalti"}
    assert "upi" in {t.code for t in templates_for("IN")}
    assert templates_for("ZZ") == []


def test_a_receipt_gives_its_amount_in_minor_units_its_date_and_recipient() -> None:
    reading = read_receipt(GCASH_RECEIPT, currency="PHP")
    assert reading.amounts == (125000,)
    assert reading.dates == (date(2026, 11, 23),)
    assert reading.recipient == "JUAN DELA CRUZ"


def test_a_matching_receipt_scores_full_marks_with_its_reasons() -> None:
    scored = score_receipt(read_receipt(GCASH_RECEIPT, currency="PHP"), EXPECTED)
    assert scored.score == pytest.approx(1.0)
    assert all(c.passed for c in scored.checks)


def test_a_receipt_for_another_amount_scores_low_and_says_why() -> None:
    other = GCASH_RECEIPT.replace("1,250.00", "1,150.00")
    scored = score_receipt(read_receipt(other, currency="PHP"), EXPECTED)
    assert scored.score == pytest.approx(0.6)
    amount = next(c for c in scored.checks if c.name == "amount")
    assert not amount.passed and "115000" in amount.detail


def test_a_receipt_outside_the_window_without_the_reference_scores_lower_still() -> None:
    stale = GCASH_RECEIPT.replace("Nov 23, 2026", "Oct 02, 2026").replace("OL-7K2Q9", "gift")
    scored = score_receipt(read_receipt(stale, currency="PHP"), EXPECTED)
    assert scored.score == pytest.approx(0.55)
    assert [c.name for c in scored.checks if not c.passed] == ["reference", "date"]


@pytest.mark.parametrize("text, currency, minor", [
    ("Total: RM 89.50", "MYR", 8950), ("Amount paid ₹2,49,900", "INR", 249900 * 100),
    ("Paid Rs. 1500", "NPR", 150000), ("Amount: 1250", "PHP", 125000),
])
def test_amounts_in_each_currencys_usual_forms(text: str, currency: str, minor: int) -> None:
    assert minor in read_receipt(text, currency=currency).amounts


@pytest.mark.parametrize("text, day", [
    ("2026-11-23 10:01", date(2026, 11, 23)), ("23/11/2026", date(2026, 11, 23)),
    ("23 Nov 2026", date(2026, 11, 23)), ("November 23, 2026", date(2026, 11, 23)),
])
def test_dates_in_the_usual_formats(text: str, day: date) -> None:
    assert day in read_receipt(text, currency="PHP").dates


def test_names_match_despite_case_spacing_masking_and_a_small_ocr_slip() -> None:
    assert names_match("JUAN DELA CRUZ", "Juan Dela Cruz")
    assert names_match("JUAN DELA CRUZ", "Juan dela Cruz")
    assert names_match("JUAN DELA CRUZ.", "Juan Dela Cruz")
    assert names_match("JUAN DELA CRU2", "Juan Dela Cruz")  # OCR read Z as 2
    assert not names_match("MARIA SANTOS", "Juan Dela Cruz")
    assert not names_match("", "Juan Dela Cruz")
