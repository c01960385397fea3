"""Payment proofs drawn on demand: phone-screenshot receipts, text-layer PDFs and padded images.

The OCR tests, the demo and the benchmarks need receipts that look like what buyers upload (a
coloured header, grey labels on the left, bold values on the right, a JPEG's artefacts) without
keeping binary fixtures in the repository or a buyer's real receipt anywhere. Everything here is
deterministic for the same arguments (the font is Pillow's own, not the machine's), so a failing
OCR test can be drawn again.

``draw_receipt_pdf`` writes its PDF by hand because Pillow's PDF output is a picture without a
text layer; a bank's "download receipt" PDF has real text, which is what the PDF reader uses.
"""

from __future__ import annotations

import functools
import io
import math
import random
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
# A wallet app's colours: a saturated header with white text is the usual OCR trap.
_HEADER = (0, 92, 230)
_PAGE = (244, 246, 250)
_LABEL = (122, 134, 154)
_VALUE = (31, 42, 68)
_RULE = (226, 230, 238)


@functools.lru_cache(maxsize=64)
def receipt_font(size: int) -> Font:
    """Pillow's own bundled font at ``size`` pixels: the same glyphs on every machine whatever
    fonts it has installed, so a receipt draws (and reads) the same everywhere. Bold text is
    drawn with a stroke (``BOLD``), since the bundled font has one weight."""
    return ImageFont.load_default(size=size)


def _receipt_rows(*, amount: str, reference: str, currency_label: str,
                  extra_lines: Sequence[str]) -> list[tuple[str, str]]:
    money = f"{currency_label} {amount}".strip()
    rows = [("Amount", money), ("Fee", f"{currency_label} 0.00".strip()),
            ("Total Amount Sent", money), ("Ref No.", reference)]
    rows += [("", line) for line in extra_lines]
    return rows


def draw_receipt_image(*, provider: str = "GCash", amount: str, reference: str, date: str,
                       recipient: str, currency_label: str = "PHP", width: int = 720,
                       extra_lines: Sequence[str] = ()) -> Image.Image:
    """The receipt as a Pillow image (RGB), laid out like an e-wallet's confirmation screen;
    every size scales with ``width`` so a 360-px and a 1440-px screenshot look alike."""
    s = width / 720
    rows = _receipt_rows(amount=amount, reference=reference,
                         currency_label=currency_label, extra_lines=extra_lines)
    row_h, pad = round(64 * s), round(40 * s)
    status_h, header_h = round(48 * s), round(150 * s)
    card_top = status_h + header_h + round(24 * s)
    recipient_h = round(164 * s)
    card_h = recipient_h + row_h * len(rows) + round(96 * s)
    height = card_top + card_h + round(120 * s)

    img = Image.new("RGB", (width, height), _PAGE)
    draw = ImageDraw.Draw(img)
    small, label = receipt_font(round(22 * s)), receipt_font(round(26 * s))
    value = receipt_font(round(28 * s))
    bold = int(s)  # a stroke as wide: none on a small screen, where it would blot the digits

    # Status bar and header, white on the wallet's colour.
    draw.rectangle((0, 0, width, status_h + header_h), fill=_HEADER)
    draw.text((pad, status_h // 2), "10:15", font=small, fill="white", anchor="lm")
    draw.text((width - pad, status_h // 2), "87%", font=small, fill="white", anchor="rm")
    draw.text((width // 2, status_h + round(60 * s)), provider,
              font=receipt_font(round(44 * s)), fill="white", anchor="mm", stroke_fill="white",
              stroke_width=bold)
    draw.text((width // 2, status_h + round(115 * s)), "Sent via " + provider, font=label,
              fill="white", anchor="mm")

    # The card: recipient first, then label/value rows, then the date.
    left, right = round(24 * s), width - round(24 * s)
    draw.rounded_rectangle((left, card_top, right, card_top + card_h), radius=round(18 * s),
                           fill="white")
    x0, x1 = left + pad, right - pad
    y = card_top + round(36 * s)
    draw.text((x0, y), "Sent to", font=label, fill=_LABEL)
    draw.text((x0, y + round(40 * s)), recipient, font=receipt_font(round(32 * s)),
              fill=_VALUE, stroke_fill=_VALUE, stroke_width=bold)
    draw.text((x0, y + round(86 * s)), "+63 917 *** 4567", font=label, fill=_LABEL)
    y = card_top + recipient_h
    for name, text in rows:
        draw.line((x0, y, x1, y), fill=_RULE, width=max(1, round(2 * s)))
        middle = y + row_h // 2
        if name:
            draw.text((x0, middle), name, font=label, fill=_LABEL, anchor="lm")
            draw.text((x1, middle), text, font=value, fill=_VALUE, anchor="rm",
                      stroke_fill=_VALUE, stroke_width=bold)
        else:
            draw.text((x0, middle), text, font=label, fill=_VALUE, anchor="lm")
        y += row_h
    draw.line((x0, y, x1, y), fill=_RULE, width=max(1, round(2 * s)))
    draw.text((width // 2, y + round(48 * s)), date, font=label, fill=_LABEL, anchor="mm")
    draw.text((width // 2, height - round(60 * s)), "Done", font=value, fill=_HEADER,
              anchor="mm", stroke_fill=_HEADER, stroke_width=bold)
    return img


def encode_image(img: Image.Image, media_type: str = "image/png") -> bytes:
    """``img`` as PNG, JPEG or WebP bytes; the lossy formats at the quality phones use, so
    the OCR sees their artefacts too."""
    if media_type not in _FORMATS:
        raise ValueError(f"cannot draw {media_type}; use one of {sorted(_FORMATS)}")
    out = io.BytesIO()
    options: dict[str, int] = {} if media_type == "image/png" else {"quality": 80}
    img.save(out, format=_FORMATS[media_type], **options)
    return out.getvalue()


def draw_receipt(*, provider: str = "GCash", amount: str, reference: str, date: str,
                 recipient: str, currency_label: str = "PHP", media_type: str = "image/png",
                 width: int = 720, extra_lines: Sequence[str] = ()) -> bytes:
    """A phone-screenshot receipt as image bytes (PNG, JPEG or WebP).

    ``amount`` is written as given ("1,250.00"), after ``currency_label``; ``date`` too
    ("Dec 02, 2026 10:15 AM"). ``extra_lines`` are added as rows under the reference.
    """
    return encode_image(draw_receipt_image(provider=provider, amount=amount,
                                           reference=reference, date=date,
                                           recipient=recipient, currency_label=currency_label,
                                           width=width, extra_lines=extra_lines), media_type)


# --- PDFs with a text layer --------------------------------------------------------------------


def _pdf_string(text: str) -> bytes:
    """A PDF literal string in WinAnsi (what the standard Helvetica font reads); characters it
    lacks (a peso sign) become '?', as a bank's own export would do."""
    raw = text.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def text_pdf(lines: Sequence[tuple[str, bool]], *, page_width: int = 300,
             page_height: int = 420) -> bytes:
    """A one-page PDF whose page shows ``lines`` (text, bold?) top to bottom in Helvetica.
    With no lines it is a valid, empty page: a PDF without text."""
    ops = []
    y = page_height - 40
    for text, bold in lines:
        ops.append(b"BT /%s %d Tf 24 %d Td %s Tj ET" % (b"F2" if bold else b"F1",
                                                        14 if bold else 11, y,
                                                        _pdf_string(text)))
        y -= 24 if bold else 20
    content = b"\n".join(ops)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /Font << "
        b"/F1 4 0 R /F2 5 0 R >> >> /Contents 6 0 R >>" % (page_width, page_height),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold "
        b"/Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def draw_receipt_pdf(*, provider: str = "GCash", amount: str, reference: str, date: str,
                     recipient: str, currency_label: str = "PHP",
                     extra_lines: Sequence[str] = ()) -> bytes:
    """The same receipt as a downloaded PDF with a real text layer (one row per line)."""
    rows = _receipt_rows(amount=amount, reference=reference,
                         currency_label=currency_label, extra_lines=extra_lines)
    lines = [(provider, True), ("Sent via " + provider, False), ("Sent to", False),
             (recipient, True)]
    lines += [(f"{name}  {text}" if name else text, False) for name, text in rows]
    lines.append((date, False))
    return text_pdf(lines)


# --- images of a given size ---------------------------------------------------------------------


def noisy_image(target_bytes: int, *, media_type: str = "image/png", seed: int = 0) -> bytes:
    """A valid image, noise then flat grey, whose file is at most ``target_bytes`` and within
    5% of it: noise does not compress, so a benchmark gets a file of the size it asks for (a
    ~10 MB upload, a ~200 KB one) that decoding and re-encoding must really work through. Its
    pixel count stays far under 40 megapixels (a 10 MB PNG is about 4 megapixels)."""
    if target_bytes < 10_000:  # below that a format's own headers are a large share
        raise ValueError("target_bytes must be at least 10000")
    rng = random.Random(seed)
    # One 192 KB tile of noise, repeated: deflate looks back 32 KB only, so it still does not
    # compress, and a 10 MB image costs no 10 MB of random numbers.
    noise = rng.randbytes(3 * 65536)

    def encoded(width: int, height: int, noisy: int) -> bytes:
        # The first ``noisy`` pixels are noise and the rest flat grey, which costs next to
        # nothing: the size then follows ``noisy`` closely even where a JPEG's blocks are big.
        repeats = -(-3 * noisy // len(noise))
        pixels = (noise * repeats)[:3 * noisy] + b"\x80" * (3 * (width * height - noisy))
        return encode_image(Image.frombytes("RGB", (width, height), pixels), media_type)

    # Learn the format's bytes per pixel on a sample, then correct from the real size.
    per_pixel = len(encoded(256, 256, 65536)) / 65536
    side = math.isqrt(round(1.1 * target_bytes / per_pixel)) + 16
    noisy = min(side * side, round(target_bytes / per_pixel))
    data = encoded(side, side, noisy)
    for _ in range(8):
        if 0.95 * target_bytes <= len(data) <= target_bytes:
            return data
        noisy = min(side * side, int(noisy * target_bytes / len(data) * 0.985))
        data = encoded(side, side, noisy)
    raise RuntimeError(f"could not make a {media_type} of about {target_bytes} bytes")
