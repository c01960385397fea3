"""Payment proof files for tests: small images with or without EXIF/GPS, PDFs, and a PNG
decompression bomb."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import ExifTags, Image
from pypdf import PdfWriter

GPS_IFD = ExifTags.IFD.GPSInfo
ORIENTATION = ExifTags.Base.Orientation


def image_bytes(fmt: str, size: tuple[int, int] = (64, 32), mode: str = "RGB",
                **save: object) -> bytes:
    img = Image.new(mode, size, "red" if mode in ("RGB", "RGBA") else 1)
    if mode in ("RGB", "RGBA"):
        # Left half red, right half blue: lets tests tell which way the picture is turned.
        img.paste((0, 0, 255) if mode == "RGB" else (0, 0, 255, 255),
                  (size[0] // 2, 0, size[0], size[1]))
    out = io.BytesIO()
    img.save(out, format=fmt, **save)
    return out.getvalue()


def exif_with_gps(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneCo"
    exif[ExifTags.Base.Model] = "Snap 12"
    if orientation is not None:
        exif[ORIENTATION] = orientation
    exif.get_ifd(GPS_IFD).update({
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (13.0, 45.0, 1.5),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (100.0, 30.0, 2.25),
    })
    return exif


def pdf_bytes(*, password: str | None = None) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=300)
    if password is not None:
        writer.encrypt(password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return (struct.pack(">I", len(body)) + kind + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))


def png_bomb_bytes(side: int = 20_000) -> bytes:
    """A valid ``side`` x ``side`` 1-bit PNG (400 million pixels at 20,000) that weighs a few
    tens of KB.

    Written chunk by chunk: asking Pillow to build it would allocate the 400 MB it must never
    decode."""
    row = b"\x00" + bytes(side // 8)  # filter byte + one bit per pixel, all black
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat)
            + _chunk(b"IEND", b""))
