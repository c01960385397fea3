"""The one place that wires adapters into the runtime the services use."""

from __future__ import annotations

import base64
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from orderline.core.checkpoints import Checkpoints
from orderline.core.clock import Clock, SystemClock
from orderline.core.config import Settings
from orderline.core.db.engine import Database
from orderline.core.event_hub import EventHub
from orderline.core.notifier import LogNotifier, Notifier
from orderline.core.ratelimit import Limiter, MemoryLimiter, build_limiter
from orderline.events.broker import EventPublisher, NoPublisher
from orderline.events.nats_publisher import NatsPublisher
from orderline.manual_payments.files.encryption import KEY_BYTES, MasterKeys
from orderline.manual_payments.files.storage import (
    EncryptedStorage,
    LocalFolderStorage,
    ProofStorage,
)
from orderline.notifications.smtp_notifier import SmtpNotifier
from orderline.payments.providers.base import PaymentProvider
from orderline.payments.providers.sandbox import SandboxGateway
from orderline.payments.providers.stripe_gateway import StripeGateway

if TYPE_CHECKING:
    from orderline.manual_payments.files.ocr import ProofReader

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    checkpoints: Checkpoints = field(default_factory=Checkpoints)
    hub: EventHub = field(default_factory=EventHub)
    notifier: Notifier = field(default_factory=LogNotifier)
    publisher: EventPublisher = field(default_factory=NoPublisher)
    limiter: Limiter = field(default_factory=MemoryLimiter)
    # Payment providers by name ("sandbox", "stripe", ...), chosen per business and method.
    providers: dict[str, PaymentProvider] = field(default_factory=dict)
    # Payment proofs: sealed storage and the OCR reader, built from the settings when first
    # needed (so a runtime that never sees a proof never touches a key or a folder).
    proof_storage: EncryptedStorage | None = None
    proof_reader: ProofReader | None = None

    def __post_init__(self) -> None:
        self.db.on_events_committed = self.hub.signal

    def proofs(self) -> EncryptedStorage:
        if self.proof_storage is None:
            self.proof_storage = build_proof_storage(self.settings)
        return self.proof_storage

    def reader(self) -> ProofReader:
        if self.proof_reader is None:
            self.proof_reader = build_proof_reader(self.settings)
        return self.proof_reader

    async def close(self) -> None:
        await self.publisher.close()
        await self.limiter.close()
        if self.proof_storage is not None:
            await self.proof_storage.aclose()
        for provider in self.providers.values():
            closing = getattr(provider, "aclose", None)
            if closing is not None:
                await closing()
        await self.db.dispose()


def build_runtime(settings: Settings | None = None, *, clock: Clock | None = None) -> Runtime:
    settings = settings or Settings()
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url(), pool_size=settings.db_pool_size)
    runtime = Runtime(settings=settings, db=db, clock=clock or SystemClock(),
                      notifier=build_notifier(settings), publisher=build_publisher(settings),
                      limiter=build_limiter(settings.redis_url))
    runtime.providers.update(build_providers(runtime))
    return runtime


def build_providers(runtime: Runtime) -> dict[str, PaymentProvider]:
    """The sandbox (its webhooks handed to this process's webhook handler, as a real gateway
    would POST them), and Stripe when an API key is configured."""
    settings = runtime.settings
    providers: dict[str, PaymentProvider] = {}
    if settings.sandbox_enabled:
        async def deliver(headers: dict[str, str], body: bytes) -> None:
            from orderline.payments.service import receive_webhook

            await receive_webhook(runtime, "sandbox", headers, body)

        providers["sandbox"] = SandboxGateway(
            secret=settings.sandbox_webhook_secret.get_secret_value(), deliver=deliver)
    if settings.stripe_api_key.get_secret_value():
        providers["stripe"] = StripeGateway(
            api_key=settings.stripe_api_key.get_secret_value(),
            webhook_secret=settings.stripe_webhook_secret.get_secret_value())
    return providers


def build_notifier(settings: Settings) -> Notifier:
    """Email through SMTP when a host is configured, else the log."""
    if settings.smtp_host:
        return SmtpNotifier.from_settings(settings)
    return LogNotifier()


def build_publisher(settings: Settings) -> EventPublisher:
    """NATS JetStream when a URL is configured, else nothing is published."""
    if settings.nats_url:
        return NatsPublisher.from_settings(settings)
    return NoPublisher()


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
