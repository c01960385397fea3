"""Where uploaded payment proofs (receipt images, PDFs) are kept.

``ProofStorage`` is the interface the services use: a flat space of string keys holding
bytes. ``LocalFolderStorage`` keeps them as files under one folder; ``EncryptedStorage``
wraps any ``ProofStorage`` so that everything it holds is sealed with envelope encryption
(``adapters.encryption``) and bound to its own key. An S3-compatible object store would be
one more adapter implementing the same Protocol (not built here); wrapped in
``EncryptedStorage`` it would never see a plaintext receipt either.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from orderline.manual_payments.files.encryption import MasterKeys, open_sealed, rewrap, seal

# Segments are letters, digits, '_', '.', '-', and may not start with '.': that rules out
# "..", ".", hidden files, and collisions with our own ".tmp-" files in the same folder.
_KEY = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*")
MAX_KEY_LENGTH = 512


class StorageUnavailable(Exception):
    """The store failed or refused a request (anything but "no such object"): an outage,
    never a missing receipt. The store's own error is chained as ``__cause__``; the message
    names the operation, bucket and key, never credentials."""


class ProofStorage(Protocol):
    """Bytes by key. ``get`` raises ``KeyError`` for a missing key."""

    async def put(self, key: str, data: bytes) -> None: ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> bool: ...

    async def exists(self, key: str) -> bool: ...


def check_storage_key(key: str) -> str:
    """Return ``key`` if it is a safe relative path, else raise ``ValueError``.

    Allowed: ``/``-separated segments of ``[A-Za-z0-9_.-]``, none empty or starting with
    ``.`` (so no ``..``), no leading or trailing ``/``, at most 512 characters.
    """
    if len(key) > MAX_KEY_LENGTH or not _KEY.fullmatch(key):
        raise ValueError(
            "storage key must be a relative path of [A-Za-z0-9/_.-] segments, "
            "none empty or starting with '.'"
        )
    return key


class LocalFolderStorage(ProofStorage):
    """Files under ``root``, one per key. Writes are atomic (a temp file in the same folder,
    flushed, then ``os.replace``), so a reader sees the old bytes or the new, never half.
    Files are created ``0o600`` and folders ``0o700``. Blocking I/O runs in a thread.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self._root = Path(root).resolve()

    @property
    def root(self) -> Path:
        return self._root

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._put, check_storage_key(key), data)

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._get, check_storage_key(key))

    async def delete(self, key: str) -> bool:
        return await asyncio.to_thread(self._delete, check_storage_key(key))

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._exists, check_storage_key(key))

    def _path(self, key: str) -> Path:
        path = self._root / key
        # Key validation already forbids "..": this also refuses symlinks leading outside.
        if not path.resolve().is_relative_to(self._root):
            raise ValueError("storage key resolves outside the storage folder")
        return path

    def _put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkstemp creates the file 0o600 and with a name no key can take (keys never start
        # with '.').
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(data)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise

    def _get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise KeyError(key) from None

    def _exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def _delete(self, key: str) -> bool:
        path = self._path(key)
        if not path.is_file():
            return False
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True


class EncryptedStorage(ProofStorage):
    """Seals every object before it reaches ``inner`` and opens it on the way back.

    The storage key is the associated data, so an object moved or copied to another key
    fails to open (``SealedDataError``) rather than passing as that key's receipt.
    """

    def __init__(self, inner: ProofStorage, keys: MasterKeys) -> None:
        self._inner = inner
        self._keys = keys

    async def put(self, key: str, data: bytes) -> None:
        check_storage_key(key)
        await self._inner.put(key, seal(data, self._keys, associated_data=key.encode()))

    async def get(self, key: str) -> bytes:
        envelope = await self._inner.get(key)
        return open_sealed(envelope, self._keys, associated_data=key.encode())

    async def delete(self, key: str) -> bool:
        return await self._inner.delete(key)

    async def exists(self, key: str) -> bool:
        return await self._inner.exists(key)

    async def aclose(self) -> None:
        """Close the inner store's connections, if it keeps any (an S3 client does)."""
        closing = getattr(self._inner, "aclose", None)
        if closing is not None:
            await closing()

    @property
    def keys(self) -> MasterKeys:
        return self._keys

    async def rotate(self, key: str) -> bool:
        """Re-wrap one stored object with the current master key; True if it changed.

        Only the wrapped data key is rewritten, so this is cheap for large files. Raises
        ``KeyError`` if missing and ``SealedDataError`` if its master key is unknown. Not
        safe against a concurrent ``put`` of the same key (last write wins); proofs are
        written once, so a rotation sweep can run while the app is live.
        """
        envelope = await self._inner.get(key)
        rewrapped = rewrap(envelope, self._keys)
        if rewrapped == envelope:
            return False
        await self._inner.put(key, rewrapped)
        return True
