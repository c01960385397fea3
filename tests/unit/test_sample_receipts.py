"""The drawn payment proofs the OCR tests and benchmarks use are what they claim to be."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from pypdf import PdfReader

from orderline.bench.receipts import draw_receipt, draw_receipt_pdf, noisy_image, text_pdf
from orderline.manual_payments.files.cleaning import MAX_PROOF_BYTES, MAX_PROOF_PIXELS, clean_proof

RECEIPT = {"amount": "1,250.00", "reference": "K7M2XQ9D", "date": "Dec 02, 2026 10:15 AM",
           "recipient": "JUAN DELA CRUZ"}


@pytest.mark.parametrize("media_type", ["image/png", "image/jpeg", "image/webp"])
def test_a_receipt_is_drawn_in_the_format_and_width_asked(media_type: str) -> None:
    content = draw_receipt(**RECEIPT, media_type=media_type, width=540)

    proof = clean_proof(content)

    assert proof.media_type == media_type
    assert proof.width == 540 and proof.height is not None and proof.height > 540


def test_an_unknown_image_format_is_refused() -> None:
    with pytest.raises(ValueError, match="image/gif"):
        draw_receipt(**RECEIPT, media_type="image/gif")


def test_the_same_arguments_draw_the_same_bytes() -> None:
    assert draw_receipt(**RECEIPT) == draw_receipt(**RECEIPT)


def test_a_pdf_receipt_has_a_text_layer_with_every_line() -> None:
    content = draw_receipt_pdf(**RECEIPT, extra_lines=["Message: (thanks) \\o/"])

    assert clean_proof(content).media_type == "application/pdf"
    text = PdfReader(io.BytesIO(content)).pages[0].extract_text()
    assert text.splitlines() == [
        "GCash", "Sent via GCash", "Sent to", "JUAN DELA CRUZ", "Amount  PHP 1,250.00",
        "Fee  PHP 0.00", "Total Amount Sent  PHP 1,250.00", "Ref No.  K7M2XQ9D",
        "Message: (thanks) \\o/", "Dec 02, 2026 10:15 AM"]


def test_a_pdf_without_lines_is_a_valid_page_without_text() -> None:
    reader = PdfReader(io.BytesIO(text_pdf([])))

    assert len(reader.pages) == 1
    assert reader.pages[0].extract_text() == ""


@pytest.mark.parametrize("media_type", ["image/png", "image/jpeg"])
def test_a_noisy_image_is_valid_and_within_5_percent_under_its_target(media_type: str) -> None:
    content = noisy_image(200_000, media_type=media_type)

    assert 190_000 <= len(content) <= 200_000
    assert clean_proof(content).media_type == media_type


def test_a_noisy_image_near_the_upload_limit_stays_under_it_and_under_40_megapixels() -> None:
    content = noisy_image(MAX_PROOF_BYTES)

    assert 0.95 * MAX_PROOF_BYTES <= len(content) <= MAX_PROOF_BYTES
    with Image.open(io.BytesIO(content)) as img:
        assert img.width * img.height < MAX_PROOF_PIXELS
