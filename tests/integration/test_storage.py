"""Proof storage on a local folder, plain and encrypted (no database: tmp_path only)."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from orderline.manual_payments.files.encryption import MasterKeys, SealedDataError, sealed_key_id
from orderline.manual_payments.files.storage import (
    EncryptedStorage,
    LocalFolderStorage,
    ProofStorage,
)

K1 = bytes(range(32))
K2 = bytes(range(100, 132))
MARKER = b"RECEIPT-MARKER-0xC0FFEE bank transfer 1,250.00 EUR"


def keys(spec: str) -> MasterKeys:
    material = {"k1": K1, "k2": K2}
    parts = [f"{key_id}:{base64.b64encode(material[key_id]).decode()}" for key_id in spec.split()]
    return MasterKeys.from_config(",".join(parts))


def all_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


async def test_put_then_get_returns_the_bytes(tmp_path: Path) -> None:
    storage = LocalFolderStorage(tmp_path)

    await storage.put("proofs/b1/p1.jpg", MARKER)

    assert await storage.get("proofs/b1/p1.jpg") == MARKER
    assert (tmp_path / "proofs" / "b1" / "p1.jpg").read_bytes() == MARKER


async def test_put_overwrites_and_leaves_no_temp_files(tmp_path: Path) -> None:
    storage = LocalFolderStorage(tmp_path)

    await storage.put("a/b.pdf", b"first")
    await storage.put("a/b.pdf", b"second")

    assert await storage.get("a/b.pdf") == b"second"
    assert all_files(tmp_path) == [tmp_path / "a" / "b.pdf"]


async def test_a_failed_write_leaves_no_temp_file_and_keeps_the_old_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = LocalFolderStorage(tmp_path)
    await storage.put("a/b.pdf", b"old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        await storage.put("a/b.pdf", b"new")

    assert (tmp_path / "a" / "b.pdf").read_bytes() == b"old"
    assert all_files(tmp_path) == [tmp_path / "a" / "b.pdf"]


async def test_files_are_private_to_the_owner(tmp_path: Path) -> None:
    storage = LocalFolderStorage(tmp_path)

    await storage.put("x/y/z.png", b"data")

    assert stat.S_IMODE((tmp_path / "x/y/z.png").stat().st_mode) == 0o600


async def test_missing_key_raises_key_error(tmp_path: Path) -> None:
    storage = LocalFolderStorage(tmp_path)
    await storage.put("dir/file", b"x")

    with pytest.raises(KeyError):
        await storage.get("nope")
    with pytest.raises(KeyError):
        await storage.get("dir")
    with pytest.raises(KeyError):
        await storage.get("dir/file/deeper")


async def test_exists_and_delete(tmp_path: Path) -> None:
    storage = LocalFolderStorage(tmp_path)
    await storage.put("p/1", b"x")

    assert await storage.exists("p/1") is True
    assert await storage.exists("p") is False
    assert await storage.delete("p/1") is True
    assert await storage.exists("p/1") is False
    assert await storage.delete("p/1") is False
    assert await storage.delete("p") is False
    with pytest.raises(KeyError):
        await storage.get("p/1")


@pytest.mark.parametrize(
    "key",
    [
        "",
        "../escape",
        "a/../../escape",
        "..",
        "/etc/passwd",
        "a//b",
        "a/",
        "a/./b",
        ".hidden",
        "a/.tmp-x.part",
        "a\\b",
        "a b",
        "naïve",
        "a\x00b",
        "x" * 513,
    ],
)
async def test_unsafe_keys_are_refused(tmp_path: Path, key: str) -> None:
    storage = LocalFolderStorage(tmp_path / "root")

    with pytest.raises(ValueError):
        await storage.put(key, b"x")
    with pytest.raises(ValueError):
        await storage.get(key)
    with pytest.raises(ValueError):
        await storage.exists(key)
    with pytest.raises(ValueError):
        await storage.delete(key)
    assert all_files(tmp_path) == []


async def test_a_symlink_leading_outside_the_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside)
    storage = LocalFolderStorage(root)

    with pytest.raises(ValueError, match="outside"):
        await storage.put("link/file", b"x")
    assert list(outside.iterdir()) == []


async def test_encrypted_storage_round_trips_and_keeps_no_plaintext_on_disk(
    tmp_path: Path,
) -> None:
    storage: ProofStorage = EncryptedStorage(LocalFolderStorage(tmp_path), keys("k1"))

    await storage.put("proofs/p1.jpg", MARKER)

    assert await storage.get("proofs/p1.jpg") == MARKER
    on_disk = (tmp_path / "proofs" / "p1.jpg").read_bytes()
    assert b"RECEIPT-MARKER" not in on_disk
    assert K1 not in on_disk
    assert await storage.exists("proofs/p1.jpg") is True


async def test_stored_file_is_unreadable_without_the_key(tmp_path: Path) -> None:
    await EncryptedStorage(LocalFolderStorage(tmp_path), keys("k1")).put("p1", MARKER)

    # Same key id, different key material: a stolen disk plus a guessed id gets nothing.
    impostor = EncryptedStorage(
        LocalFolderStorage(tmp_path), MasterKeys({"k1": K2}, current_id="k1")
    )
    with pytest.raises(SealedDataError):
        await impostor.get("p1")
    with pytest.raises(SealedDataError, match="unknown master key"):
        await EncryptedStorage(LocalFolderStorage(tmp_path), keys("k2")).get("p1")


async def test_an_object_copied_to_another_key_does_not_open(tmp_path: Path) -> None:
    storage = EncryptedStorage(LocalFolderStorage(tmp_path), keys("k1"))
    await storage.put("proofs/p1", MARKER)

    (tmp_path / "proofs" / "p2").write_bytes((tmp_path / "proofs" / "p1").read_bytes())

    with pytest.raises(SealedDataError, match="associated data"):
        await storage.get("proofs/p2")


async def test_a_tampered_file_does_not_open(tmp_path: Path) -> None:
    storage = EncryptedStorage(LocalFolderStorage(tmp_path), keys("k1"))
    await storage.put("p1", MARKER)
    path = tmp_path / "p1"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x80
    path.write_bytes(bytes(data))

    with pytest.raises(SealedDataError):
        await storage.get("p1")


async def test_rotation_moves_stored_objects_to_the_new_master_key(tmp_path: Path) -> None:
    folder = LocalFolderStorage(tmp_path)
    await EncryptedStorage(folder, keys("k1")).put("proofs/p1", MARKER)

    rotating = EncryptedStorage(folder, keys("k2 k1"))
    assert await rotating.get("proofs/p1") == MARKER

    assert await rotating.rotate("proofs/p1") is True
    assert sealed_key_id(await folder.get("proofs/p1")) == "k2"
    assert await EncryptedStorage(folder, keys("k2")).get("proofs/p1") == MARKER
    with pytest.raises(SealedDataError):
        await EncryptedStorage(folder, keys("k1")).get("proofs/p1")

    assert await rotating.rotate("proofs/p1") is False
    assert all_files(tmp_path) == [tmp_path / "proofs" / "p1"]


async def test_rotating_a_missing_object_raises_key_error(tmp_path: Path) -> None:
    storage = EncryptedStorage(LocalFolderStorage(tmp_path), keys("k2 k1"))

    with pytest.raises(KeyError):
        await storage.rotate("nope")


async def test_encrypted_delete_removes_the_file(tmp_path: Path) -> None:
    storage = EncryptedStorage(LocalFolderStorage(tmp_path), keys("k1"))
    await storage.put("p1", MARKER)

    assert await storage.delete("p1") is True
    assert await storage.exists("p1") is False
    assert all_files(tmp_path) == []
