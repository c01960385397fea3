"""Settings from environment variables (prefix ``ORDERLINE_``), read once at start-up."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from orderline.events.event_types import RetrySchedule

DEFAULT_DATA_DIR = Path("data")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERLINE_", extra="ignore")

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = Field(
        default="",
        description="sqlite+aiosqlite:///path or postgresql://user@host/db; "
        "empty means a SQLite file under data_dir.",
    )
    db_pool_size: int = 10
    max_body_bytes: int = 1_048_576
    default_reservation_ttl_seconds: int = 900
    sweep_interval_seconds: float = 2.0
    reconcile_interval_seconds: float = 600.0
    # The outbox relay polls this often, and at once when this process commits events or
    # (PostgreSQL) another one announces them.
    relay_interval_seconds: float = 1.0
    # Aggregates one relay round claims, how many it works on at once, and how long its
    # claim lasts before another worker may take over (a crashed worker's claims run out).
    relay_batch_size: int = 100
    # When set, `orderline worker` serves its own counters (events relayed, webhook attempts,
    # sweeper cancellations) at http://0.0.0.0:<port>/metrics for Prometheus.
    worker_metrics_port: int | None = None
    relay_concurrency: int = 8
    relay_lease_seconds: float = 60.0
    outbox_retention_days: float = 7.0
    # Succeeded and dead webhook deliveries (and their attempts) are kept this long.
    webhook_delivery_retention_days: float = 30.0
    outbox_prune_interval_seconds: float = 3600.0
    # Buyer and merchant notifications: the sender's poll interval, and SMTP when a host is
    # set (else messages go to the log). Port 465 means TLS from the start (SMTPS).
    notification_interval_seconds: float = 2.0
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_from: str = Field(default="", description="The sender address; the username if empty.")
    smtp_starttls: bool = True
    smtp_timeout: float = 30.0
    # Publish every event to NATS JetStream (nats://host:4222) when set, to subjects
    # <prefix>.<business_id>.<event type> of this stream (created if missing).
    nats_url: str = ""
    nats_stream: str = "ORDERLINE"
    nats_subject_prefix: str = "orderline"
    nats_timeout: float = 5.0
    # Merchant webhooks: waits (seconds) before each retry, then the delivery is dead; a
    # total time limit per attempt; how often the sender looks for due deliveries; how many
    # it sends at once; and after how many failed attempts in a row an endpoint is disabled.
    webhook_retry_delays: tuple[float, ...] = RetrySchedule().delays
    webhook_timeout_seconds: float = 10.0
    webhook_sender_interval_seconds: float = 1.0
    webhook_sender_concurrency: int = 16
    webhook_disable_after_failures: int = 30
    # Live streams (SSE): they read at once when signalled (this process's commits, NOTIFY
    # from others) and also poll this often; an idle stream sends a comment this often.
    live_poll_seconds: float = 3.0
    live_heartbeat_seconds: float = 15.0
    # Rate limits and "one confirm at a time" guards: in Redis (shared by every process) when
    # set, such as redis://127.0.0.1:6379/0; in this process's memory otherwise.
    redis_url: str = ""
    # Confirm: how long the one-at-a-time guard of a buyer lasts at most, how long an
    # unfinished idempotent request blocks its key, and how long keys are remembered.
    confirm_guard_seconds: float = 30.0
    idempotency_lock_seconds: float = 60.0
    idempotency_ttl_hours: float = 24.0
    # Payment providers. The sandbox is a local gateway (no money moves) for the demo and
    # tests; its webhooks are signed with this secret and delivered to this process.
    sandbox_enabled: bool = True
    # An authorised (not yet captured) card payment holds the order's stock this long.
    authorization_hold_hours: float = 168.0
    sandbox_webhook_secret: SecretStr = SecretStr("whsec_sandbox_local")
    # Stripe, when an API key is set; its webhooks go to POST /v1/payments/webhooks/stripe.
    stripe_api_key: SecretStr = SecretStr("")
    stripe_webhook_secret: SecretStr = SecretStr("")
    # Payment proofs (bank transfer and e-wallet receipts): where the files go ("local": a
    # folder, data_dir/proofs unless set; "s3": an S3-compatible bucket), sealed with AES-GCM
    # under per-file data keys wrapped by a master key. Master keys are "id:base64key" pairs,
    # comma-separated, the first one sealing new files (manual_payments/files/encryption.py); when
    # empty, a key file is generated under data_dir (fine for the embedded mode only).
    proof_storage: str = "local"
    proof_storage_dir: Path | None = None
    proof_master_keys: SecretStr = SecretStr("")
    proof_s3_bucket: str = ""
    proof_s3_endpoint_url: str = ""
    proof_s3_region: str = "us-east-1"
    proof_s3_access_key_id: str = ""
    proof_s3_secret_access_key: SecretStr = SecretStr("")
    proof_s3_prefix: str = "proofs/"
    # The largest upload the server reads for a proof; each business may accept less.
    proof_upload_max_bytes: int = 10 * 1024 * 1024
    # Reading proofs (worker): Tesseract with these languages; how often the worker looks for
    # proofs to read, and how often it deletes proof files past their retention.
    ocr_enabled: bool = True
    ocr_languages: str = "eng"
    ocr_timeout_seconds: float = 30.0
    ocr_max_attempts: int = 3
    proof_scoring_interval_seconds: float = 2.0
    proof_retention_interval_seconds: float = 3600.0
    log_level: str = "INFO"
    # Run the payment-deadline sweeper inside the API process (the demo does).
    embedded_worker: bool = False
    # Only for the deterministic interleaving tests: lets a test pause named points.
    enable_test_checkpoints: bool = False

    def resolved_database_url(self) -> str:
        """The URL with the async driver filled in (asyncpg / aiosqlite)."""
        url = self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'orderline.db'}"
        return async_url(url)


def async_url(url: str) -> str:
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg://",
                   "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    if url.startswith("sqlite://") and not url.startswith("sqlite+aiosqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://"):]
    return url


def driver_free_url(url: str) -> str:
    """The URL without a SQLAlchemy driver suffix (``postgresql+asyncpg://`` -> ``postgresql://``),
    as asyncpg and other plain clients take it."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+')[0]}{sep}{rest}"
