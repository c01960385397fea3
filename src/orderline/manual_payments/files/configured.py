"""The proof storage and OCR reader a runtime holds, built from the settings when first needed
(so a runtime that never sees a proof never touches a key or a folder)."""

from __future__ import annotations

import base64
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from orderline.core.config import Settings
from orderline.core.runtime import Part, Runtime
from orderline.manual_payments.files.encryption import KEY_BYTES, MasterKeys
from orderline.manual_payments.files.storage import (
    EncryptedStorage,
    LocalFolderStorage,
    ProofStorage,
)

if TYPE_CHECKING:
    from orderline.manual_payments.files.ocr import ProofReader

log = logging.getLogger(__name__)


def master_keys(settings: Settings) -> MasterKeys:
    """The configured master keys; without any, the embedded mode's own key file under
    ``data_dir`` (created once, 0600). A production deployment sets
    ``ORDERLINE_PROOF_MASTER_KEYS`` so every process, on every machine, has the same keys."""
    spec = settings.proof_master_keys.get_secret_value()
    if spec.strip():
        return MasterKeys.from_config(spec)
    path = Path(settings.data_dir) / "proof-master-keys"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        line = f"local1:{base64.b64encode(os.urandom(KEY_BYTES)).decode()}\n"
        # Written aside, then linked into place: several server processes starting at once
        # agree on one key, and none reads a half-written file.
        fd, draft = tempfile.mkstemp(dir=path.parent, prefix=".proof-master-keys-")
        try:
            with os.fdopen(fd, "w") as out:
                out.write(line)
            os.link(draft, path)
            log.warning("generated a master key for payment proofs; set "
                        "ORDERLINE_PROOF_MASTER_KEYS in production", extra={"path": str(path)})
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            os.unlink(draft)
    return MasterKeys.from_config(path.read_text().strip())


def build_proof_storage(settings: Settings) -> EncryptedStorage:
    """Sealed proof storage: a local folder by default, an S3-compatible bucket when
    ``proof_storage`` is ``s3``."""
    inner: ProofStorage
    if settings.proof_storage == "s3":
        from orderline.manual_payments.files.s3_storage import S3Storage

        if not settings.proof_s3_bucket:
            raise ValueError("ORDERLINE_PROOF_S3_BUCKET must be set when ORDERLINE_PROOF_STORAGE"
                             " is s3")
        inner = S3Storage(bucket=settings.proof_s3_bucket,
                          endpoint_url=settings.proof_s3_endpoint_url or None,
                          region=settings.proof_s3_region,
                          access_key_id=settings.proof_s3_access_key_id or None,
                          secret_access_key=(
                              settings.proof_s3_secret_access_key.get_secret_value() or None),
                          prefix=settings.proof_s3_prefix)
    elif settings.proof_storage == "local":
        inner = LocalFolderStorage(settings.proof_storage_dir
                                   or Path(settings.data_dir) / "proofs")
    else:
        raise ValueError(f"ORDERLINE_PROOF_STORAGE is 'local' or 's3', not "
                         f"{settings.proof_storage!r}")
    return EncryptedStorage(inner, master_keys(settings))


def build_proof_reader(settings: Settings) -> ProofReader:
    """Tesseract when OCR is on (it reports itself unavailable if not installed)."""
    from orderline.manual_payments.files.ocr import NoReader, TesseractReader

    if not settings.ocr_enabled:
        return NoReader()
    return TesseractReader(languages=settings.ocr_languages,
                           timeout_seconds=settings.ocr_timeout_seconds)


async def _close_storage(storage: EncryptedStorage) -> None:
    await storage.aclose()


PROOF_STORAGE: Part[EncryptedStorage] = Part(
    "proof storage", build=lambda runtime: build_proof_storage(runtime.settings),
    close=_close_storage)
PROOF_READER: Part[ProofReader] = Part(
    "proof reader", build=lambda runtime: build_proof_reader(runtime.settings))


def proof_storage(runtime: Runtime) -> EncryptedStorage:
    return runtime.get(PROOF_STORAGE)


def proof_reader(runtime: Runtime) -> ProofReader:
    return runtime.get(PROOF_READER)
