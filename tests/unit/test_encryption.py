"""Envelope encryption: sealing, tamper detection, master key rotation, key configuration."""

from __future__ import annotations

import base64
import os

import pytest

from orderline.manual_payments.files.encryption import (
    KEY_BYTES,
    MasterKeys,
    SealedDataError,
    open_sealed,
    rewrap,
    seal,
    sealed_key_id,
)

K1 = bytes(range(32))
K2 = bytes(range(100, 132))
MARKER = b"RECEIPT-MARKER-0xC0FFEE bank transfer 1,250.00 EUR"


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def only_k1() -> MasterKeys:
    return MasterKeys({"k1": K1}, current_id="k1")


def k2_then_k1() -> MasterKeys:
    return MasterKeys.from_config(f"k2:{b64(K2)},k1:{b64(K1)}")


def only_k2() -> MasterKeys:
    return MasterKeys({"k2": K2}, current_id="k2")


def test_sealed_data_opens_back_to_the_same_bytes() -> None:
    envelope = seal(MARKER, only_k1(), associated_data=b"proof-1")

    assert open_sealed(envelope, only_k1(), associated_data=b"proof-1") == MARKER


def test_empty_plaintext_round_trips() -> None:
    envelope = seal(b"", only_k1())

    assert open_sealed(envelope, only_k1()) == b""


def test_envelope_does_not_contain_the_plaintext_or_the_master_key() -> None:
    envelope = seal(MARKER, only_k1())

    assert MARKER not in envelope
    assert b"RECEIPT-MARKER" not in envelope
    assert K1 not in envelope


def test_envelope_names_its_version_and_master_key_id() -> None:
    envelope = seal(MARKER, only_k1())

    assert envelope[0] == 1
    assert envelope[1] == 2
    assert envelope[2:4] == b"k1"
    assert sealed_key_id(envelope) == "k1"


def test_each_seal_uses_a_fresh_data_key_and_nonce() -> None:
    first = seal(MARKER, only_k1())
    second = seal(MARKER, only_k1())

    assert first != second
    assert len(first) == len(second)


def test_randomness_can_be_injected_for_deterministic_envelopes() -> None:
    def fixed(n: int) -> bytes:
        return b"\x07" * n

    assert seal(MARKER, only_k1(), random_bytes=fixed) == seal(
        MARKER, only_k1(), random_bytes=fixed
    )


def test_any_flipped_byte_is_refused() -> None:
    envelope = seal(MARKER, only_k1(), associated_data=b"proof-1")

    # Every byte after the header: wrap nonce, wrapped key, content nonce, ciphertext, tag.
    for index in range(4, len(envelope)):
        tampered = bytearray(envelope)
        tampered[index] ^= 0x01
        with pytest.raises(SealedDataError):
            open_sealed(bytes(tampered), only_k1(), associated_data=b"proof-1")


def test_truncated_envelope_is_refused() -> None:
    envelope = seal(MARKER, only_k1())

    for length in (0, 1, 3, 30, len(envelope) - 1):
        with pytest.raises(SealedDataError):
            open_sealed(envelope[:length], only_k1())


def test_unknown_envelope_version_is_refused() -> None:
    envelope = bytearray(seal(MARKER, only_k1()))
    envelope[0] = 2

    with pytest.raises(SealedDataError, match="version"):
        open_sealed(bytes(envelope), only_k1())


def test_wrong_associated_data_is_refused() -> None:
    envelope = seal(MARKER, only_k1(), associated_data=b"proof-1")

    with pytest.raises(SealedDataError, match="associated data"):
        open_sealed(envelope, only_k1(), associated_data=b"proof-2")
    with pytest.raises(SealedDataError):
        open_sealed(envelope, only_k1())


def test_unknown_master_key_id_is_refused_by_name() -> None:
    envelope = seal(MARKER, only_k1())

    with pytest.raises(SealedDataError, match="unknown master key id 'k1'"):
        open_sealed(envelope, only_k2())


def test_same_id_with_a_different_key_is_refused() -> None:
    envelope = seal(MARKER, only_k1())
    impostor = MasterKeys({"k1": K2}, current_id="k1")

    with pytest.raises(SealedDataError):
        open_sealed(envelope, impostor)


def test_editing_the_key_id_in_the_header_is_refused() -> None:
    # Both ids map to the same key material: only the authenticated header tells them apart.
    keys = MasterKeys({"k1": K1, "k9": K1}, current_id="k1")
    envelope = bytearray(seal(MARKER, keys))
    envelope[2:4] = b"k9"

    with pytest.raises(SealedDataError):
        open_sealed(bytes(envelope), keys)


def test_data_sealed_with_an_old_key_still_opens_after_a_new_key_becomes_current() -> None:
    envelope = seal(MARKER, only_k1(), associated_data=b"p")

    assert open_sealed(envelope, k2_then_k1(), associated_data=b"p") == MARKER
    assert seal(MARKER, k2_then_k1())[2:4] == b"k2"


def test_rewrap_moves_the_envelope_to_the_current_key_without_touching_the_content() -> None:
    envelope = seal(MARKER, only_k1(), associated_data=b"p")

    rotated = rewrap(envelope, k2_then_k1())

    assert sealed_key_id(rotated) == "k2"
    assert open_sealed(rotated, only_k2(), associated_data=b"p") == MARKER
    # Content nonce + ciphertext + tag are the same bytes: only the wrapped key changed.
    content_length = 12 + len(MARKER) + 16
    assert rotated[-content_length:] == envelope[-content_length:]
    with pytest.raises(SealedDataError):
        open_sealed(rotated, only_k1(), associated_data=b"p")


def test_rewrap_returns_the_same_envelope_when_already_current() -> None:
    envelope = seal(MARKER, k2_then_k1())

    assert rewrap(envelope, k2_then_k1()) is envelope


def test_rewrap_refuses_an_unknown_master_key() -> None:
    envelope = seal(MARKER, only_k1())

    with pytest.raises(SealedDataError, match="unknown master key"):
        rewrap(envelope, only_k2())


def test_from_config_takes_the_first_key_as_current() -> None:
    keys = MasterKeys.from_config(f" k2:{b64(K2)} , k1:{b64(K1)} ")

    assert keys.current_id == "k2"
    assert keys.get("k2") == K2
    assert keys.get("k1") == K1
    assert list(keys) == ["k2", "k1"]


def test_repr_shows_ids_but_no_key_material() -> None:
    text = repr(k2_then_k1())

    assert "k2" in text
    assert "k1" in text
    assert b64(K1) not in text
    assert b64(K2) not in text
    assert repr(K1) not in text


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("", "empty"),
        ("  ", "empty"),
        (f"k1:{b64(K1)},", "item 2 is empty"),
        ("k1", "not of the form id:base64key"),
        (f":{b64(K1)}", "not of the form"),
        ("k1:", "not of the form"),
        ("k1:not*base64!", "'k1' is not valid base64"),
        (f"k1:{b64(K1)[:-1]}", "'k1' is not valid base64"),
        (f"k1:{b64(b'short')}", "'k1' must decode to 32 bytes, got 5"),
        (f"k1:{b64(bytes(48))}", "must decode to 32 bytes, got 48"),
        (f"k1:{b64(K1)},k1:{b64(K2)}", "'k1' appears more than once"),
        (f"bad id:{b64(K1)}", "key id of master key spec item 1"),
    ],
)
def test_bad_key_specs_are_refused_naming_the_problem(spec: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as caught:
        MasterKeys.from_config(spec)

    assert b64(K1) not in str(caught.value)
    assert b64(K2) not in str(caught.value)


def test_a_swapped_id_and_key_does_not_leak_the_key_in_the_error() -> None:
    secret = b64(os.urandom(KEY_BYTES))

    with pytest.raises(ValueError) as caught:
        MasterKeys.from_config(f"{secret}:k1")

    assert secret not in str(caught.value)
    assert secret[:10] not in str(caught.value)


def test_master_keys_refuse_wrong_lengths_and_a_missing_current_id() -> None:
    with pytest.raises(ValueError, match="32 bytes, got 16"):
        MasterKeys({"k1": bytes(16)}, current_id="k1")
    with pytest.raises(ValueError, match="not among the keys"):
        MasterKeys({"k1": K1}, current_id="k2")
    with pytest.raises(ValueError, match="at least one"):
        MasterKeys({}, current_id="k1")
