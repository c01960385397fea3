import hashlib
import io
import time

import pytest
from PIL import Image, PngImagePlugin

from orderline.api.errors import STATUS_BY_CODE
from orderline.core.errors import (
    CorruptFile,
    FileTooLarge,
    ImageTooLarge,
    ProofRefused,
    UnsupportedFileType,
)
from orderline.manual_payments.files.cleaning import CleanProof, clean_proof, sniff_media_type
from tests.support.proof_samples import (
    GPS_IFD,
    ORIENTATION,
    exif_with_gps,
    image_bytes,
    pdf_bytes,
    png_bomb_bytes,
)


@pytest.fixture(scope="module")
def png_bomb() -> bytes:
    return png_bomb_bytes()


def test_a_jpeg_with_gps_comes_back_without_any_exif_and_the_same_size() -> None:
    original = image_bytes("JPEG", (64, 32), exif=exif_with_gps())
    with Image.open(io.BytesIO(original)) as before:
        assert before.getexif().get_ifd(GPS_IFD)  # the upload really carries a position

    proof = clean_proof(original)

    assert proof.media_type == "image/jpeg"
    assert (proof.width, proof.height) == (64, 32)
    assert b"Exif" not in proof.content and b"PhoneCo" not in proof.content
    with Image.open(io.BytesIO(proof.content)) as after:
        assert after.format == "JPEG"
        assert after.size == (64, 32)
        exif = after.getexif()
        assert len(exif) == 0
        assert GPS_IFD not in exif and not exif.get_ifd(GPS_IFD)
        assert "exif" not in after.info and "icc_profile" not in after.info
    assert proof.sha256 == hashlib.sha256(proof.content).hexdigest()


def test_the_exif_orientation_is_applied_so_the_picture_stays_upright() -> None:
    # Stored 64 wide x 32 high, red left / blue right; orientation 6 = "rotate 90 clockwise
    # to display", so the upright picture is 32 x 64 with red on top.
    original = image_bytes("JPEG", (64, 32), exif=exif_with_gps(orientation=6))

    proof = clean_proof(original)

    assert (proof.width, proof.height) == (32, 64)
    with Image.open(io.BytesIO(proof.content)) as after:
        assert after.size == (32, 64)
        assert ORIENTATION not in after.getexif()
        rgb = after.convert("RGB")
        top, bottom = rgb.getpixel((16, 8)), rgb.getpixel((16, 56))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 200 and top[2] < 60  # red
    assert bottom[2] > 200 and bottom[0] < 60  # blue


def test_a_png_round_trips_without_its_text_chunks_and_keeps_its_transparency() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Somchai, 12 Sukhumvit Rd")
    original = image_bytes("PNG", (40, 30), mode="RGBA", pnginfo=info)

    proof = clean_proof(original)

    assert proof.media_type == "image/png"
    assert (proof.width, proof.height) == (40, 30)
    assert b"Sukhumvit" not in proof.content
    with Image.open(io.BytesIO(proof.content)) as after:
        assert after.format == "PNG" and after.mode == "RGBA"
        assert after.getpixel((5, 5)) == (255, 0, 0, 255)
        assert after.getpixel((35, 5)) == (0, 0, 255, 255)
        assert "Author" not in after.info


def test_a_webp_round_trips_without_its_exif() -> None:
    original = image_bytes("WEBP", (50, 20), quality=95, exif=exif_with_gps())

    proof = clean_proof(original)

    assert proof.media_type == "image/webp"
    assert (proof.width, proof.height) == (50, 20)
    assert b"PhoneCo" not in proof.content
    with Image.open(io.BytesIO(proof.content)) as after:
        assert after.format == "WEBP" and after.size == (50, 20)
        assert len(after.getexif()) == 0


def test_a_png_bomb_is_refused_from_its_header_without_being_decoded(
        png_bomb: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(png_bomb) < 200_000

    def no_decoding(self: object) -> None:
        raise AssertionError("the bomb was decoded")

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", no_decoding)
    started = time.perf_counter()
    with pytest.raises(ImageTooLarge) as refused:
        clean_proof(png_bomb)
    assert time.perf_counter() - started < 1.0

    assert refused.value.code == "image_too_large"
    assert refused.value.details == {"width": 20_000, "height": 20_000,
                                     "max_pixels": 40_000_000}
    assert STATUS_BY_CODE["image_too_large"] == 413


def test_max_pixels_decides_which_images_are_too_large() -> None:
    png = image_bytes("PNG", (100, 100))

    assert clean_proof(png, max_pixels=10_000).width == 100
    with pytest.raises(ImageTooLarge) as refused:
        clean_proof(png, max_pixels=9_999)
    assert refused.value.details == {"width": 100, "height": 100, "max_pixels": 9_999}


def test_a_pdf_is_recognised_from_its_bytes_whatever_it_was_called_and_kept_as_is() -> None:
    data = pdf_bytes()  # e.g. uploaded as "receipt.jpg" with Content-Type image/jpeg

    proof = clean_proof(data)

    assert proof == CleanProof(content=data, media_type="application/pdf",
                               sha256=hashlib.sha256(data).hexdigest(), width=None, height=None)


def test_a_password_protected_pdf_is_an_unsupported_file_type() -> None:
    with pytest.raises(UnsupportedFileType) as refused:
        clean_proof(pdf_bytes(password="secret"))
    assert refused.value.code == "unsupported_file_type"
    assert "password" in refused.value.message.lower()


def test_a_pdf_header_on_garbage_is_a_corrupt_file() -> None:
    with pytest.raises(CorruptFile) as refused:
        clean_proof(b"%PDF-1.7\nthis is not really a pdf at all\n")
    assert refused.value.code == "corrupt_file"


def test_a_text_file_is_an_unsupported_file_type_whatever_it_is_named() -> None:
    text = b"Transferred 1,250.00 THB to the shop on 3 Dec. Ref 88231.\n"  # "receipt.png"

    assert sniff_media_type(text) is None
    with pytest.raises(UnsupportedFileType) as refused:
        clean_proof(text)
    assert refused.value.code == "unsupported_file_type"
    assert STATUS_BY_CODE["unsupported_file_type"] == 415


@pytest.mark.parametrize("data", [
    b"GIF89a" + bytes(40),
    b"RIFF\x00\x00\x00\x00WAVEfmt ",
    b"\x89PNG\r\n",  # a PNG signature cut short
    b"",
], ids=["gif", "wav", "short-png-signature", "empty"])
def test_other_formats_are_unsupported_file_types(data: bytes) -> None:
    with pytest.raises(UnsupportedFileType):
        clean_proof(data)


def test_a_truncated_jpeg_is_a_corrupt_file() -> None:
    whole = image_bytes("JPEG", (256, 256), quality=95)

    with pytest.raises(CorruptFile) as refused:
        clean_proof(whole[: len(whole) // 2])
    assert refused.value.code == "corrupt_file"
    assert STATUS_BY_CODE["corrupt_file"] == 422


def test_a_jpeg_signature_followed_by_garbage_is_a_corrupt_file() -> None:
    with pytest.raises(CorruptFile):
        clean_proof(b"\xff\xd8\xff" + b"\x00" * 500)


def test_a_file_of_exactly_max_bytes_passes_and_one_byte_more_is_refused() -> None:
    data = pdf_bytes()

    assert clean_proof(data, max_bytes=len(data)).content == data
    with pytest.raises(FileTooLarge) as refused:
        clean_proof(data + b"\n", max_bytes=len(data))
    assert refused.value.code == "file_too_large"
    assert refused.value.details == {"max_bytes": len(data), "size": len(data) + 1}
    assert STATUS_BY_CODE["file_too_large"] == 413


def test_the_size_is_checked_before_the_type() -> None:
    with pytest.raises(FileTooLarge):
        clean_proof(b"not a receipt", max_bytes=5)


def test_every_refusal_is_a_proof_refused() -> None:
    for refusal in (FileTooLarge, ImageTooLarge, UnsupportedFileType, CorruptFile):
        assert issubclass(refusal, ProofRefused)
