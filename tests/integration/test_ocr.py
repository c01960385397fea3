"""The OCR adapter on the real Tesseract program: drawn receipts read back and scored against
their order, PDFs read through their text layer, and every way a proof cannot be read.

No mocks. Without Tesseract the tests that need it are skipped, and fail with ``CI=true``:
a CI run without OCR must not pass for one that checked it. What is asserted of OCR is what
it does reliably on these receipts (the amount, the reference within one misread character,
a high score), not every character of its output.
"""

from __future__ import annotations

import asyncio
import io
import shutil
from datetime import date
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from orderline.bench.receipts import (
    draw_receipt,
    draw_receipt_image,
    draw_receipt_pdf,
    receipt_font,
    text_pdf,
)
from orderline.manual_payments.files.ocr import NoReader, OcrFailed, OcrUnavailable, TesseractReader
from orderline.manual_payments.rules import (
    WEIGHTS,
    Expected,
    ProofScore,
    read_receipt,
    score_receipt,
)

REFERENCE = "K7M2XQ9D"  # drawn from the real reference alphabet
EXPECTED = Expected(amount=125000, currency="PHP", reference=REFERENCE,
                    window_start=date(2026, 12, 1), window_end=date(2026, 12, 3),
                    account_name="Juan Dela Cruz")
RECEIPT = {"amount": "1,250.00", "reference": REFERENCE, "date": "Dec 02, 2026 10:15 AM",
           "recipient": "JUAN DELA CRUZ"}


def check(score: ProofScore, name: str) -> bool:
    return next(c.passed for c in score.checks if c.name == name)


async def read_and_score(reader: TesseractReader, content: bytes,
                         media_type: str) -> tuple[str, ProofScore]:
    text = await reader.read_text(content, media_type)
    return text, score_receipt(read_receipt(text, currency="PHP"), EXPECTED)


@pytest.mark.parametrize("media_type", ["image/png", "image/jpeg", "image/webp"])
async def test_a_screenshot_receipt_is_read_with_its_exact_amount_and_reference(
    tesseract: TesseractReader, media_type: str
) -> None:
    content = draw_receipt(**RECEIPT, media_type=media_type)

    text, score = await read_and_score(tesseract, content, media_type)

    assert 125000 in read_receipt(text, currency="PHP").amounts
    assert check(score, "amount") and check(score, "reference"), score.as_dict()
    assert score.score >= 0.85, score.as_dict()


@pytest.mark.parametrize("width", [360, 1080])
async def test_small_and_large_screenshots_are_read_too(tesseract: TesseractReader,
                                                        width: int) -> None:
    content = draw_receipt(**RECEIPT, media_type="image/jpeg", width=width)

    _, score = await read_and_score(tesseract, content, "image/jpeg")

    assert check(score, "amount") and check(score, "reference"), score.as_dict()
    assert score.score >= 0.7, score.as_dict()


async def test_a_receipt_for_another_amount_scores_lower_by_at_least_the_amounts_weight(
    tesseract: TesseractReader,
) -> None:
    _, matching = await read_and_score(tesseract, draw_receipt(**RECEIPT), "image/png")
    other = draw_receipt(**{**RECEIPT, "amount": "1,150.00"})

    _, wrong = await read_and_score(tesseract, other, "image/png")

    assert not check(wrong, "amount")
    assert wrong.score <= matching.score - WEIGHTS["amount"] + 1e-9
    assert wrong.score < 0.7


async def test_a_receipt_on_a_transparent_background_is_read_on_white(
    tesseract: TesseractReader,
) -> None:
    # Black text on transparent black: without flattening onto white it is all black.
    img = Image.new("RGBA", (720, 240), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.text((40, 40), "Amount PHP 1,250.00", font=receipt_font(32), fill=(0, 0, 0, 255))
    draw.text((40, 120), f"Ref No. {REFERENCE}", font=receipt_font(32), fill=(0, 0, 0, 255))
    out = io.BytesIO()
    img.save(out, format="PNG")

    text = await tesseract.read_text(out.getvalue(), "image/png")

    assert 125000 in read_receipt(text, currency="PHP").amounts


async def test_readers_with_different_commands_can_read_at_the_same_time(
    tesseract: TesseractReader,
) -> None:
    by_path = TesseractReader(tesseract_cmd=shutil.which("tesseract"))
    content = draw_receipt(**RECEIPT, width=540)

    texts = await asyncio.gather(*(reader.read_text(content, "image/png")
                                   for reader in (tesseract, by_path, tesseract, by_path)))

    assert all(125000 in read_receipt(text, currency="PHP").amounts for text in texts)


async def test_a_pdf_receipt_is_read_through_its_text_layer_without_tesseract() -> None:
    reader = TesseractReader(tesseract_cmd="/nonexistent/tesseract")
    content = draw_receipt_pdf(**RECEIPT)

    text = await reader.read_text(content, "application/pdf")

    assert "Amount  PHP 1,250.00" in text and REFERENCE in text
    assert score_receipt(read_receipt(text, currency="PHP"), EXPECTED).score == pytest.approx(1)


def scanned_pdf() -> bytes:
    """A receipt saved as PDF by Pillow: a picture of the page, no text layer (a scan)."""
    out = io.BytesIO()
    draw_receipt_image(**RECEIPT).save(out, format="PDF")
    return out.getvalue()


@pytest.mark.parametrize("content", [text_pdf([]), scanned_pdf()], ids=["blank", "scanned"])
async def test_a_pdf_without_text_cannot_be_read(content: bytes) -> None:
    with pytest.raises(OcrFailed, match="no text layer"):
        await TesseractReader().read_text(content, "application/pdf")


@pytest.mark.parametrize("media_type", ["image/png", "image/jpeg", "image/webp"])
async def test_garbage_bytes_are_not_a_readable_image(tesseract: TesseractReader,
                                                      media_type: str) -> None:
    with pytest.raises(OcrFailed, match="not a readable"):
        await tesseract.read_text(b"\x89PNG this is not really an image" * 10, media_type)


async def test_garbage_bytes_are_not_a_readable_pdf() -> None:
    with pytest.raises(OcrFailed, match="not a readable PDF"):
        await TesseractReader().read_text(b"%PDF-1.4 garbage", "application/pdf")


async def test_an_image_in_another_format_than_declared_cannot_be_read(
    tesseract: TesseractReader,
) -> None:
    with pytest.raises(OcrFailed):
        await tesseract.read_text(draw_receipt(**RECEIPT, media_type="image/jpeg"),
                                  "image/png")


async def test_an_unsupported_media_type_cannot_be_read() -> None:
    with pytest.raises(OcrFailed, match="cannot read 'image/gif'"):
        await TesseractReader().read_text(b"GIF89a", "image/gif")


async def test_an_image_over_40_megapixels_is_refused_before_it_is_decoded(
    tesseract: TesseractReader,
) -> None:
    out = io.BytesIO()
    Image.new("1", (8000, 5001)).save(out, format="PNG")

    with pytest.raises(OcrFailed):
        await tesseract.read_text(out.getvalue(), "image/png")


async def test_a_proof_that_takes_too_long_fails_instead_of_blocking_the_worker(
    tmp_path: Path,
) -> None:
    # A tesseract that never finishes (it knows its languages, then hangs): the timeout fires
    # whatever the speed of the machine, which a real tesseract with a tiny limit would not.
    hanging = tmp_path / "tesseract"
    hanging.write_text('#!/bin/sh\nif [ "$1" = --list-langs ]; then\n'
                       '  echo "List of available languages (1):"; echo eng; exit 0\nfi\n'
                       'exec sleep 60\n')
    hanging.chmod(0o755)
    hurried = TesseractReader(timeout_seconds=0.5, tesseract_cmd=str(hanging))

    with pytest.raises(OcrFailed, match=r"took over 0\.5 s"):
        await hurried.read_text(draw_receipt(**RECEIPT), "image/png")


async def test_a_missing_tesseract_is_unavailable_and_images_cannot_be_read() -> None:
    reader = TesseractReader(tesseract_cmd="/nonexistent/tesseract")

    assert not reader.available()
    with pytest.raises(OcrUnavailable, match="/nonexistent/tesseract"):
        await reader.read_text(draw_receipt(**RECEIPT), "image/png")


def test_a_missing_language_makes_tesseract_unavailable(tesseract: TesseractReader) -> None:
    assert tesseract.available()
    assert not TesseractReader(languages="eng+zzz").available()


async def test_no_reader_reads_nothing() -> None:
    reader = NoReader()

    assert not reader.available()
    with pytest.raises(OcrUnavailable):
        await reader.read_text(draw_receipt_pdf(**RECEIPT), "application/pdf")
