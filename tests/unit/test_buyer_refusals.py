"""Every refusal the hosted checkout can meet has a plain sentence for the buyer (never the
code, never the API's message for integrators), in English and in Indonesian."""

from __future__ import annotations

import re
from pathlib import Path

from orderline.web.buyer.refusals import FALLBACK, SENTENCES, sentence_for
from orderline.web.translations import read_catalog

ERRORS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "errors.md"
# The errors page lists the checkout's codes from cart_empty to otp_already_used (carts,
# coupons, the checkout and its confirm, cash on delivery, one-time codes); these others
# come from the use cases the checkout's pages call too.
ALSO = ("out_of_stock", "variant_archived", "unknown_sku", "quantity_above_limit",
        "otp_required", "message_not_sent", "payment_failed", "payment_in_progress",
        "payment_provider_unavailable", "payment_method_unavailable",
        "payment_deadline_passed", "unknown_payment_provider", "validation_error",
        "version_conflict")

# In that range, but a merchant's refusal (the courier's collection), never the buyer's.
MERCHANT_ONLY = {"collected_amount_mismatch"}


def documented_codes() -> list[str]:
    codes = re.findall(r"^\| `([a-z_]+)` \|", ERRORS_PAGE.read_text(encoding="utf-8"), re.M)
    return codes[codes.index("cart_empty"):codes.index("otp_already_used") + 1]


def test_every_checkout_cod_and_coupon_code_of_the_errors_page_has_a_sentence() -> None:
    codes = documented_codes()
    assert "coupon_exhausted" in codes and "cod_trust_too_low" in codes
    assert "price_changed" in codes and "rate_limited" in codes
    missing = sorted((set(codes) | set(ALSO)) - MERCHANT_ONLY - set(SENTENCES))
    assert not missing, f"no sentence for {missing} in web/buyer/refusals.py"


def test_each_sentence_is_a_sentence_with_a_next_step_not_the_code() -> None:
    for code, sentence in SENTENCES.items():
        assert code not in sentence and sentence.endswith("."), code
        assert len(sentence.split(". ")) >= 2 or code in {"checkout_already_confirmed",
                                                          "otp_required"}, code


def test_the_figures_of_a_refusal_fill_its_sentence() -> None:
    said = sentence_for("rate_limited", "en", {"retry_after_seconds": 30})
    assert said == "Too many tries in a short time. Try again in 30 seconds."
    assert sentence_for("rate_limited", "id", {"retry_after_seconds": 30}).endswith(
        "30 detik.")
    # A figure missing from the details never breaks the page: the general sentence.
    assert sentence_for("rate_limited", "en", {}) == FALLBACK
    assert sentence_for("a_code_added_later", "en") == FALLBACK


def test_every_sentence_has_its_indonesian_translation() -> None:
    catalog = read_catalog("id")
    for sentence in [*SENTENCES.values(), FALLBACK]:
        assert sentence in catalog and catalog[sentence].string, sentence
