"""Reading a payment proof's text: receipt screenshots through Tesseract, PDFs through their
text layer.

``ProofReader`` is what the worker uses; ``domain.manual_payments.read_receipt`` then turns the
text into amounts, dates and a recipient. Two failures are told apart because they need
different handling: ``OcrUnavailable`` (no engine on this machine: every proof waits for a
person, fix the deployment) and ``OcrFailed`` (this one file could not be read: the proof goes
to the queue unscored). Neither message ever quotes the receipt's text.

Images are prepared lightly before Tesseract, each step measured on drawn phone receipts
(``entrypoints.sample_receipts``, 360 to 1080 px wide, PNG/JPEG/WebP, 144 proofs): grayscale
(the wallet's coloured header and grey labels are only contrast to Tesseract) and a 2x
upscale below 1000 px wide (a 720-px screenshot's labels are about 20 px high, under what
Tesseract's models like). Page segmentation mode 4, "one column of variable-size text", keeps
a receipt's "label ... value" rows on one line where the default mode can split them into a
column of labels and a column of values. Together these took the exact reading of the payment
reference from 121 to 130 of 144 proofs and of the amount from 143 to 144, for about 0.15 s
more per proof; autocontrast made it worse (126) and was left out. (The domain's reference
check, which forgives one misread character, passes 142 of the 144.)

Tesseract starts OpenMP threads for each page, and they cost more than they bring on a
receipt: on two vCPUs a 720-px proof took 0.72 s with them and 0.47 s with one thread, and
two proofs at a time 0.37 s against 0.20 s each. So a ``TesseractReader`` sets
``OMP_THREAD_LIMIT=1`` in the environment its ``tesseract`` processes inherit, unless the
operator set it already; throughput comes from reading several proofs at once instead.

pytesseract keeps the command to run in a module global, so calls are grouped by command
(``_CommandGate``): readers with the same command run concurrently, a reader with another
command waits for them.

PDFs are never rasterised (Tesseract cannot read a PDF and we ship no renderer): a PDF
without a text layer, such as a scan, is ``OcrFailed`` and waits for a person.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import subprocess
import threading
from collections.abc import Iterator
from typing import Protocol

import pytesseract  # type: ignore[import-untyped]
from PIL import Image
from pypdf import PdfReader

from orderline.manual_payments.files.cleaning import JPEG, MAX_PROOF_PIXELS, PDF, PNG, WEBP

_IMAGE_FORMATS = {JPEG: "JPEG", PNG: "PNG", WEBP: "WEBP"}
_UPSCALE_BELOW_WIDTH = 1000
_TESSERACT_CONFIG = "--psm 4"
MAX_PDF_PAGES = 10  # a receipt is a page or two; a long PDF is not a receipt


class OcrUnavailable(Exception):
    """No OCR engine here (Tesseract or its language data is not installed)."""


class OcrFailed(Exception):
    """This proof could not be read: damaged, unsupported, no text layer, or too slow."""


class ProofReader(Protocol):
    """Reads the text of a proof (bytes and the media type sniffed from them)."""

    async def read_text(self, content: bytes, media_type: str) -> str: ...

    def available(self) -> bool: ...


class NoReader:
    """For deployments without OCR: every proof goes to a person unscored."""

    def available(self) -> bool:
        return False

    async def read_text(self, content: bytes, media_type: str) -> str:
        raise OcrUnavailable("OCR is turned off in this deployment")


class _CommandGate:
    """Lets calls that need the same ``tesseract_cmd`` run together and makes a call that
    needs another one wait until they are done, since pytesseract reads the command from a
    module global at each call."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._command: str | None = None
        self._running = 0

    @contextlib.contextmanager
    def using(self, command: str) -> Iterator[None]:
        with self._changed:
            while self._running and self._command != command:
                self._changed.wait()
            self._command = command
            pytesseract.pytesseract.tesseract_cmd = command
            self._running += 1
        try:
            yield
        finally:
            with self._changed:
                self._running -= 1
                if not self._running:
                    self._changed.notify_all()


_GATE = _CommandGate()


class TesseractReader:
    """Images through the ``tesseract`` program (in a thread), PDFs through pypdf.

    ``languages`` is Tesseract's ``-l`` value ("eng", "eng+fil"); ``timeout_seconds`` bounds
    one proof; ``tesseract_cmd`` is the program's path when it is not ``tesseract`` on PATH.
    PDFs are read without Tesseract, so they work even where ``available()`` is False.
    """

    def __init__(self, *, languages: str = "eng", timeout_seconds: float = 30.0,
                 tesseract_cmd: str | None = None) -> None:
        self._languages = languages
        self._timeout = timeout_seconds
        self._command = tesseract_cmd or "tesseract"
        self._available: bool | None = None
        # pytesseract starts tesseract with this process's environment (see the module doc).
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")

    def available(self) -> bool:
        """Whether the program runs and has every language asked for (checked once)."""
        if self._available is None:
            self._available = _has_languages(self._command, self._languages.split("+"))
        return self._available

    async def read_text(self, content: bytes, media_type: str) -> str:
        if media_type == PDF:
            try:
                return await asyncio.wait_for(asyncio.to_thread(pdf_text, content),
                                              self._timeout)
            except TimeoutError:
                # The thread cannot be stopped; it finishes on its own and is ignored.
                raise OcrFailed(f"reading the PDF took over {self._timeout:g} s") from None
        if media_type not in _IMAGE_FORMATS:
            raise OcrFailed(f"cannot read {media_type!r}; images are JPEG, PNG or WebP")
        if self._available is None:
            await asyncio.to_thread(self.available)
        if not self.available():
            raise OcrUnavailable(f"tesseract ({self._command}) with languages "
                                 f"{self._languages!r} is not installed")
        return await asyncio.to_thread(self._read_image, content, media_type)

    def _read_image(self, content: bytes, media_type: str) -> str:
        prepared = prepare_image(content, media_type)
        try:
            with _GATE.using(self._command):
                text: str = pytesseract.image_to_string(
                    prepared, lang=self._languages, config=_TESSERACT_CONFIG,
                    timeout=self._timeout)
        except pytesseract.TesseractNotFoundError as exc:
            self._available = False
            raise OcrUnavailable(f"tesseract ({self._command}) is not installed") from exc
        except pytesseract.TesseractError as exc:
            raise OcrFailed(f"tesseract could not read the image (exit {exc.status})") from exc
        except RuntimeError as exc:
            if "timeout" not in str(exc).lower():
                raise
            # pytesseract killed the process; the message is its own, not the receipt's.
            raise OcrFailed(f"tesseract took over {self._timeout:g} s") from exc
        return text


def _has_languages(command: str, languages: list[str]) -> bool:
    try:
        done = subprocess.run([command, "--list-langs"], capture_output=True, timeout=10,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    if done.returncode != 0:
        return False
    # Tesseract 4 lists on stderr, 5 on stdout, after a "List of available languages" line.
    listed = (done.stdout + done.stderr).decode(errors="replace").split()
    return all(language in listed for language in languages)


def prepare_image(content: bytes, media_type: str) -> Image.Image:
    """The proof decoded (its declared type only, at most 40 megapixels), flattened onto
    white, in grayscale, and doubled when narrower than 1000 px."""
    try:
        img = Image.open(io.BytesIO(content), formats=[_IMAGE_FORMATS[media_type]])
    except Exception as exc:  # not an image of that type, or a decompression bomb
        raise OcrFailed(f"the file is not a readable {media_type} image") from exc
    with img:
        width, height = img.size
        if width * height > MAX_PROOF_PIXELS:
            raise OcrFailed(f"the image is {width} x {height} pixels, over the limit")
        try:
            img.load()
            flat: Image.Image = img
            if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
                rgba = img.convert("RGBA")
                flat = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
            gray = flat.convert("L")
        except Exception as exc:  # truncated or damaged pixel data
            raise OcrFailed(f"the {media_type} image is damaged") from exc
    if gray.width < _UPSCALE_BELOW_WIDTH:
        gray = gray.resize((gray.width * 2, gray.height * 2), Image.Resampling.LANCZOS)
    return gray


def pdf_text(content: bytes) -> str:
    """The text layer of the PDF's first pages, or ``OcrFailed`` if it has none."""
    try:
        reader = PdfReader(io.BytesIO(content))
        if reader.is_encrypted:
            raise OcrFailed("the PDF is password-protected")
        pages = [page.extract_text() or "" for page in reader.pages[:MAX_PDF_PAGES]]
    except OcrFailed:
        raise
    except Exception as exc:
        raise OcrFailed("the file is not a readable PDF") from exc
    text = "\n".join(pages).strip()
    if not text:
        raise OcrFailed("the PDF has no text layer (a scanned page?); it needs a person, "
                        "or upload a screenshot instead")
    return text
