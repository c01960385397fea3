"""Envelope encryption for files kept at rest (payment receipts and the like).

Each sealed object gets its own random 256-bit *data key*. The content is encrypted with
AES-256-GCM under that data key, and the data key itself is encrypted ("wrapped") with
AES-256-GCM under a *master key*. Master keys carry ids, so several can be configured at once:
the current one seals new objects, older ones still open what they sealed, and ``rewrap``
moves an object to the current master key by re-encrypting only its 32-byte data key, never
its (possibly large) content.

Envelope layout, version 1 (all lengths in bytes)::

    1        version (0x01)
    1        n = length of the master key id
    n        master key id, ASCII
    12       nonce used to wrap the data key
    48       wrapped data key (32 key + 16 GCM tag)
    12       content nonce
    rest     content ciphertext + 16-byte GCM tag

The wrapping is authenticated together with the version and key id, so a header cannot be
edited to point at another key. The caller's ``associated_data`` (for a receipt, its storage
key or proof id) authenticates the content: an envelope copied onto another record fails to
open there. Every failure to open is one error, ``SealedDataError``, whose message never
contains key material.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENVELOPE_VERSION = 1
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
WRAPPED_KEY_BYTES = KEY_BYTES + TAG_BYTES

_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_WRAP_CONTEXT = b"orderline/data-key/v1"
_CONTENT_CONTEXT = b"orderline/content/v1"

RandomBytes = Callable[[int], bytes]


class SealedDataError(Exception):
    """An envelope could not be opened: unknown master key, damaged or tampered data, or
    associated data that does not match what it was sealed with."""


class MasterKeys:
    """The master keys this process knows, by id, and which one seals new data.

    Build it from a mapping ``{key_id: 32-byte key}`` and ``current_id``, or from
    configuration with ``from_config``. ``repr`` shows ids only.
    """

    __slots__ = ("_current_id", "_keys")

    def __init__(self, keys: Mapping[str, bytes], *, current_id: str) -> None:
        if not keys:
            raise ValueError("at least one master key is required")
        for key_id, key in keys.items():
            _check_key_id(key_id)
            if len(key) != KEY_BYTES:
                raise ValueError(f"master key {key_id!r} must be {KEY_BYTES} bytes, got {len(key)}")
        if current_id not in keys:
            raise ValueError(f"current master key id {current_id!r} is not among the keys")
        self._keys = {key_id: bytes(key) for key_id, key in keys.items()}
        self._current_id = current_id

    @classmethod
    def from_config(cls, spec: str) -> MasterKeys:
        """Parse ``"k2:<base64>,k1:<base64>"``: comma-separated ``id:key`` pairs, the first
        being the current key. Ids are 1-64 characters of ``[A-Za-z0-9_.-]``; keys are
        standard base64 (padding required) of exactly 32 bytes. Whitespace around items is
        ignored. Errors name the item and the problem, never the key material.
        """
        keys: dict[str, bytes] = {}
        current_id: str | None = None
        items = [item.strip() for item in spec.split(",")]
        if not any(items):
            raise ValueError("master key spec is empty")
        for position, item in enumerate(items, start=1):
            if not item:
                raise ValueError(f"master key spec item {position} is empty")
            key_id, sep, encoded = item.partition(":")
            key_id, encoded = key_id.strip(), encoded.strip()
            if not sep or not key_id or not encoded:
                raise ValueError(f"master key spec item {position} is not of the form id:base64key")
            _check_key_id(key_id, where=f"the key id of master key spec item {position}")
            if key_id in keys:
                raise ValueError(f"master key id {key_id!r} appears more than once")
            try:
                key = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError(f"master key {key_id!r} is not valid base64") from None
            if len(key) != KEY_BYTES:
                raise ValueError(
                    f"master key {key_id!r} must decode to {KEY_BYTES} bytes, got {len(key)}"
                )
            keys[key_id] = key
            if current_id is None:
                current_id = key_id
        assert current_id is not None
        return cls(keys, current_id=current_id)

    @property
    def current_id(self) -> str:
        return self._current_id

    @property
    def current_key(self) -> bytes:
        return self._keys[self._current_id]

    def get(self, key_id: str) -> bytes | None:
        return self._keys.get(key_id)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __repr__(self) -> str:
        return f"MasterKeys(ids={list(self._keys)!r}, current_id={self._current_id!r})"


@dataclass(frozen=True, slots=True)
class _Envelope:
    key_id: str
    wrap_nonce: bytes
    wrapped_key: bytes
    content_nonce: bytes
    ciphertext: bytes

    def header(self) -> bytes:
        raw_id = self.key_id.encode("ascii")
        return bytes([ENVELOPE_VERSION, len(raw_id)]) + raw_id

    def to_bytes(self) -> bytes:
        return b"".join(
            (self.header(), self.wrap_nonce, self.wrapped_key, self.content_nonce, self.ciphertext)
        )

    @classmethod
    def parse(cls, envelope: bytes) -> _Envelope:
        if len(envelope) < 2:
            raise SealedDataError("sealed data is truncated")
        if envelope[0] != ENVELOPE_VERSION:
            raise SealedDataError(f"unsupported envelope version {envelope[0]}")
        id_len = envelope[1]
        pos = 2 + id_len
        if (
            id_len == 0
            or len(envelope) < pos + NONCE_BYTES + WRAPPED_KEY_BYTES + NONCE_BYTES + TAG_BYTES
        ):
            raise SealedDataError("sealed data is truncated")
        try:
            key_id = envelope[2:pos].decode("ascii")
        except UnicodeDecodeError:
            raise SealedDataError("sealed data names an invalid master key id") from None
        wrap_nonce = envelope[pos : pos + NONCE_BYTES]
        pos += NONCE_BYTES
        wrapped_key = envelope[pos : pos + WRAPPED_KEY_BYTES]
        pos += WRAPPED_KEY_BYTES
        content_nonce = envelope[pos : pos + NONCE_BYTES]
        pos += NONCE_BYTES
        return cls(key_id, wrap_nonce, wrapped_key, content_nonce, envelope[pos:])


def seal(
    plaintext: bytes,
    keys: MasterKeys,
    *,
    associated_data: bytes = b"",
    random_bytes: RandomBytes = os.urandom,
) -> bytes:
    """Encrypt ``plaintext`` under a fresh data key wrapped by the current master key.

    ``associated_data`` is not stored; the same bytes must be given to ``open_sealed``.
    """
    data_key = random_bytes(KEY_BYTES)
    content_nonce = random_bytes(NONCE_BYTES)
    ciphertext = AESGCM(data_key).encrypt(
        content_nonce, plaintext, _CONTENT_CONTEXT + associated_data
    )
    return _wrap(data_key, keys, content_nonce, ciphertext, random_bytes).to_bytes()


def open_sealed(envelope: bytes, keys: MasterKeys, *, associated_data: bytes = b"") -> bytes:
    """Decrypt an envelope made by ``seal``; raise ``SealedDataError`` if it cannot be."""
    parsed = _Envelope.parse(envelope)
    data_key = _unwrap(parsed, keys)
    try:
        return AESGCM(data_key).decrypt(
            parsed.content_nonce, parsed.ciphertext, _CONTENT_CONTEXT + associated_data
        )
    except InvalidTag:
        raise SealedDataError(
            "sealed data was altered or belongs to another record (associated data mismatch)"
        ) from None


def rewrap(envelope: bytes, keys: MasterKeys, *, random_bytes: RandomBytes = os.urandom) -> bytes:
    """Re-wrap the envelope's data key with the current master key, leaving the content
    ciphertext untouched. Returns ``envelope`` itself when it already uses the current key.

    The content is not verified here (that needs its associated data); only the wrapped key.
    """
    parsed = _Envelope.parse(envelope)
    if parsed.key_id == keys.current_id:
        return envelope
    data_key = _unwrap(parsed, keys)
    return _wrap(data_key, keys, parsed.content_nonce, parsed.ciphertext, random_bytes).to_bytes()


def sealed_key_id(envelope: bytes) -> str:
    """The id of the master key an envelope is wrapped with (for rotation reports)."""
    return _Envelope.parse(envelope).key_id


def _wrap(
    data_key: bytes,
    keys: MasterKeys,
    content_nonce: bytes,
    ciphertext: bytes,
    random_bytes: RandomBytes,
) -> _Envelope:
    wrap_nonce = random_bytes(NONCE_BYTES)
    draft = _Envelope(keys.current_id, wrap_nonce, b"", content_nonce, ciphertext)
    wrapped_key = AESGCM(keys.current_key).encrypt(
        wrap_nonce, data_key, _WRAP_CONTEXT + draft.header()
    )
    return _Envelope(keys.current_id, wrap_nonce, wrapped_key, content_nonce, ciphertext)


def _unwrap(parsed: _Envelope, keys: MasterKeys) -> bytes:
    master_key = keys.get(parsed.key_id)
    if master_key is None:
        raise SealedDataError(f"sealed data uses unknown master key id {parsed.key_id!r}")
    try:
        return AESGCM(master_key).decrypt(
            parsed.wrap_nonce, parsed.wrapped_key, _WRAP_CONTEXT + parsed.header()
        )
    except InvalidTag:
        raise SealedDataError(
            f"wrapped data key does not open with master key {parsed.key_id!r} (altered data)"
        ) from None


def _check_key_id(key_id: str, *, where: str = "a master key id") -> None:
    # The offending id is not echoed: a swapped "key:id" pair would put key material here.
    if not _KEY_ID.fullmatch(key_id):
        raise ValueError(f"{where} must be 1-64 characters of letters, digits, '_', '.', '-'")
