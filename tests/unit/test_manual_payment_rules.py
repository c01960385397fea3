"""Manual payment templates, reading receipt text and scoring it against the order."""

from __future__ import annotations

from datetime import date

import pytest

from orderline.manual_payments.rules import (
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


@pytest.mark.parametrize("text, minor", [
    ("Amount PHP 349,99", 34999),  # OCR of a small screenshot: the decimal point as a comma
    ("Total Amount Sent PHP 1,250,00", 125000),
    ("Amount PHP1,250.00", 125000), ("Amount ₱ 1,250.00", 125000), ("Amount P 1,250.00", 125000),
    ("Amount: 1,250.00", 125000),
])
def test_amounts_as_ocr_writes_them(text: str, minor: int) -> None:
    assert read_receipt(text, currency="PHP").amounts == (minor,)


def test_a_comma_before_three_digits_still_groups_thousands() -> None:
    assert read_receipt("Amount PHP 1,250", currency="PHP").amounts == (125000,)
    assert read_receipt("Amount paid ₹2,49,900", currency="INR").amounts == (24990000,)


def reference_check(text: str, reference: str) -> tuple[bool, str]:
    expected = Expected(amount=1, currency="PHP", reference=reference,
                        window_start=date(2026, 11, 22), window_end=date(2026, 11, 25),
                        account_name="Juan Dela Cruz")
    found = next(c for c in score_receipt(read_receipt(text, currency="PHP"), expected).checks
                 if c.name == "reference")
    return found.passed, found.detail


@pytest.mark.parametrize("seen, reference", [
    ("Ref No. WKER46N)", "WKER46NJ"),  # a bold J read as ")": one character dropped
    ("Ref No. ZU9S6QQTA", "ZU96QQTA"),  # a 9 read as "9S": one character added
    ("Ref No. G0PV4Q3R", "G6PV4Q3R"),  # a 6 read as "0": one character changed
])
def test_a_long_reference_is_found_despite_one_ocr_slip(seen: str, reference: str) -> None:
    assert reference_check(seen, reference) == (
        True, "the payment reference was found with one character misread")


def test_a_reference_read_exactly_says_so() -> None:
    assert reference_check("Message: k7m2-xq9d", "K7M2XQ9D") == (
        True, "the payment reference was found")


def test_two_slips_or_another_orders_reference_do_not_count() -> None:
    assert not reference_check("Ref No. WKER4GG6N)J", "WKER46NJ")[0]
    assert not reference_check("Ref No. F7HT34ZP", "WKER46NJ")[0]


def test_a_reference_under_six_characters_must_match_exactly() -> None:
    assert reference_check("Message: gift", "gift")[0]
    assert not reference_check("Message: gitf", "gift")[0]
    assert not reference_check("Message: 7K2Q9", "7K2QX")[0]
    assert reference_check("Message: 7K2Q9X", "7K2QXX")[0]
