"""Settings from environment variables (prefix ``ORDERLINE_``), read once at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from orderline.core.retry import RetrySchedule

DEFAULT_DATA_DIR = Path("data")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERLINE_", extra="ignore")

    environment: Literal["development", "production"] = Field(
        default="development",
        description="production refuses to start with anything that is only safe on a "
        "developer's machine: the sandbox payment provider (its webhook secret is public), "
        "generated proof master keys, or Stripe without its webhook secret.",
    )
    data_dir: Path = Field(
        default=DEFAULT_DATA_DIR,
        description="Where the embedded SQLite database, the generated proof master keys and "
        "(by default) the proof files live.",
    )
    database_url: str = Field(
        default="",
        description="sqlite+aiosqlite:///path or postgresql://user@host/db (production); "
        "empty means a SQLite file under data_dir (data/orderline.db).",
    )
    database_read_url: str = Field(
        default="",
        description="postgresql://user@replica/db: a streaming read replica of database_url. "
        "Lists, stats, the console's pages and exports read from it once it has replayed the "
        "caller's business's own writes (tracked through redis_url; without it each such read "
        "first asks the primary for its current WAL position), else from the primary. Empty: "
        "every read goes to the primary. Needs a PostgreSQL database_url.",
    )
    replica_wait_seconds: float = Field(
        default=0.05,
        description="How long a read waits for the replica to replay its business's last "
        "write before it reads from the primary instead.")
    replica_max_lag_seconds: float = Field(
        default=30.0,
        description="A replica whose replay trails by more than this is not read from "
        "(reads go to the primary).")
    replica_rest_seconds: float = Field(
        default=5.0,
        description="After the replica failed to answer, reads go to the primary this long "
        "before it is tried again.")
    db_pool_size: int = Field(
        default=10, description="Database connections per server process (PostgreSQL).")
    max_body_bytes: int = Field(
        default=1_048_576,
        description="Larger request bodies get 413 payload_too_large (proof uploads have "
        "their own limit).",
    )
    default_reservation_ttl_seconds: int = Field(
        default=900,
        description="Payment deadline given to new businesses; each business changes its own "
        "with PATCH /v1/business.",
    )
    api_key_cache_seconds: float = Field(
        default=30.0,
        description="How long a server process keeps an API key it looked up (0: look it up "
        "on every request). Revoking a key or changing the business's settings forgets it at "
        "once in every process (PostgreSQL NOTIFY); the time bounds it only as a last resort.")
    sweep_interval_seconds: float = Field(
        default=2.0,
        description="How often the worker cancels unpaid orders past their deadline.")
    reconcile_interval_seconds: float = Field(
        default=600.0, description="How often the worker checks the stock ledger.")
    rollup_interval_seconds: float = Field(
        default=300.0,
        description="How often the worker sums closed UTC days of each business's orders "
        "into the overview's daily rollups, and sums again the days an order of which changed "
        "since (until then the overview reads those days live).")
    # The outbox relay polls this often, and at once when this process commits events or
    # (PostgreSQL) another one announces them.
    relay_interval_seconds: float = Field(
        default=1.0,
        description="How often the relay looks for events it was not woken for (it wakes at "
        "once when events commit).",
    )
    relay_batch_size: int = Field(default=100, description="Aggregates one relay round claims.")
    worker_metrics_port: int | None = Field(
        default=None,
        description="When set, `orderline worker` serves its own counters (events relayed, "
        "webhook attempts, sweeper cancellations) at http://0.0.0.0:<port>/metrics.",
    )
    relay_concurrency: int = Field(default=8, description="Aggregates one worker relays at once.")
    relay_lease_seconds: float = Field(
        default=60.0,
        description="How long a relay's claim lasts before another worker may take it over "
        "(a crashed worker's claims run out).",
    )
    outbox_retention_days: float = Field(
        default=7.0, description="Relayed events older than this are deleted.")
    webhook_delivery_retention_days: float = Field(
        default=30.0,
        description="Succeeded and dead webhook deliveries (and their attempts) older than this "
        "are deleted.",
    )
    outbox_prune_interval_seconds: float = Field(
        default=3600.0, description="How often the worker prunes the outbox.")
    notification_interval_seconds: float = Field(
        default=2.0, description="How often queued buyer and merchant notifications are sent.")
    smtp_host: str = Field(
        default="", description="SMTP server; empty means notifications go to the log.")
    smtp_port: int = Field(default=587, description="465 means TLS from the start (SMTPS).")
    smtp_username: str = Field(default="", description="SMTP login, if the server wants one.")
    smtp_password: SecretStr = Field(
        default=SecretStr(""), description="SMTP password, if the server wants one.")
    smtp_from: str = Field(
        default="",
        description="The sender address (an email address); the username if empty.")
    smtp_starttls: bool = Field(
        default=True, description="Require STARTTLS (ignored on port 465).")
    smtp_timeout: float = Field(default=30.0, description="Seconds each SMTP step may take.")
    # SMS and WhatsApp: each business sets its own sender (PUT /v1/business/messaging); these
    # say where the providers are and where they call back.
    messaging_public_url: str = Field(
        default="",
        description="This API's public base URL as SMS/WhatsApp providers reach it (e.g. "
        "https://shop.example.com): Twilio is asked to report delivery to "
        "{it}/v1/messaging/twilio/status, and its signatures are checked against that URL. "
        "Empty: no delivery reports are asked for.")
    twilio_api_url: str = Field(
        default="https://api.twilio.com", description="Twilio's REST API (Messages).")
    whatsapp_cloud_api_url: str = Field(
        default="https://graph.facebook.com", description="The WhatsApp Business Cloud API.")
    messaging_timeout_seconds: float = Field(
        default=10.0, description="Seconds one SMS/WhatsApp provider call may take.")
    nats_url: str = Field(
        default="",
        description="nats://host:4222; when set, every event is published to NATS JetStream.")
    nats_stream: str = Field(
        default="ORDERLINE",
        description="The JetStream stream, created with subjects <prefix>.> and a 10-minute "
        "duplicate window if missing.",
    )
    nats_subject_prefix: str = Field(
        default="orderline",
        description="Subjects are <prefix>.<business_id>.<event type>.")
    nats_timeout: float = Field(
        default=5.0,
        description="Seconds to connect and to wait for JetStream's acknowledgement.")
    webhook_retry_delays: tuple[float, ...] = Field(
        default=RetrySchedule().delays,
        description="Seconds before each retry of a failed webhook delivery (a JSON list, each "
        "moved by up to 20 %); after the last the delivery is dead.",
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, description="Total time limit of one webhook attempt.")
    webhook_sender_interval_seconds: float = Field(
        default=1.0, description="How often the sender looks for due webhook deliveries.")
    webhook_sender_concurrency: int = Field(
        default=16, description="Webhook deliveries one worker sends at once.")
    webhook_disable_after_failures: int = Field(
        default=30,
        description="Failed attempts in a row that disable a webhook endpoint (0: never).")
    # Live streams read at once when signalled (this process's commits, NOTIFY from others).
    live_poll_seconds: float = Field(
        default=3.0,
        description="How often a live stream (SSE) re-reads the outbox without a wake-up.")
    live_heartbeat_seconds: float = Field(
        default=15.0, description="An idle live stream sends a comment this often.")
    redis_url: str = Field(
        default="",
        description="redis://host:6379/0; when set, confirm rate limits and one-at-a-time "
        "guards are shared by every process through Redis (else kept in each process's "
        "memory, right for the embedded mode).",
    )
    confirm_guard_seconds: float = Field(
        default=30.0,
        description="Longest a buyer's one-confirm-at-a-time guard lasts if its holder dies.")
    idempotency_lock_seconds: float = Field(
        default=60.0,
        description="How long a request whose process died keeps its Idempotency-Key busy.")
    idempotency_ttl_hours: float = Field(
        default=24.0,
        description="How long an Idempotency-Key and its answer are remembered.")
    sandbox_enabled: bool = Field(
        default=True,
        description="Offer the sandbox payment provider: a local gateway (no money moves) for "
        "the demo and tests, whose webhooks are delivered to this process.",
    )
    authorization_hold_hours: float = Field(
        default=168.0,
        description="How long an authorised (not yet captured) card payment holds the order's "
        "stock.",
    )
    sandbox_webhook_secret: SecretStr = Field(
        default=SecretStr("whsec_sandbox_local"), description="Signs the sandbox's webhooks.")
    stripe_api_key: SecretStr = Field(
        default=SecretStr(""), description="When set, the stripe provider is offered.")
    stripe_webhook_secret: SecretStr = Field(
        default=SecretStr(""),
        description="Verifies Stripe's webhooks at POST /v1/payments/webhooks/stripe.")
    stripe_publishable_key: str = Field(
        default="",
        description="Stripe's publishable key (pk_...), for the card form of the hosted "
        "checkout (Stripe's Payment Element in the buyer's browser).")
    # Payment proofs are sealed with AES-GCM under per-file data keys wrapped by a master key
    # (manual_payments/files/encryption.py).
    proof_storage: str = Field(
        default="local",
        description="Where payment proof files go: local (a folder) or s3 (an S3-compatible "
        "bucket).",
    )
    proof_storage_dir: Path | None = Field(
        default=None, description="The folder of local proof storage; data_dir/proofs if unset.")
    proof_master_keys: SecretStr = Field(
        default=SecretStr(""),
        description="Comma-separated id:base64key pairs, the first sealing new proof files; "
        "when empty, a key file is generated under data_dir (fine for the embedded mode only).",
    )
    proof_s3_bucket: str = Field(default="", description="The S3 bucket of proof files.")
    proof_s3_endpoint_url: str = Field(
        default="", description="The S3-compatible endpoint; AWS's when empty.")
    proof_s3_region: str = Field(default="us-east-1", description="The S3 region.")
    proof_s3_access_key_id: str = Field(default="", description="The S3 access key id.")
    proof_s3_secret_access_key: SecretStr = Field(
        default=SecretStr(""), description="The S3 secret access key.")
    proof_s3_prefix: str = Field(
        default="proofs/", description="Prefix of the proof files' object keys.")
    proof_upload_max_bytes: int = Field(
        default=10 * 1024 * 1024,
        description="The largest proof upload the server reads; each business may accept less.")
    ocr_enabled: bool = Field(
        default=True, description="Read payment proofs with Tesseract in the worker.")
    ocr_languages: str = Field(default="eng", description="Tesseract's languages.")
    ocr_timeout_seconds: float = Field(
        default=30.0, description="Time limit of reading one proof.")
    ocr_max_attempts: int = Field(
        default=3,
        description="Tries to read a proof before it waits unscored in the queue.")
    proof_scoring_interval_seconds: float = Field(
        default=2.0, description="How often the worker looks for proofs to read.")
    proof_retention_interval_seconds: float = Field(
        default=3600.0,
        description="How often the worker deletes proof files past their retention.")
    # Staff of the merchant console (orderline.staff): sessions, invitations, login limits.
    console_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="The merchant console's public base URL; invitation links are "
        "{it}/console/invitations/{token}.")
    staff_session_idle_hours: float = Field(
        default=12.0,
        description="A console session not used for this long ends (log in again).")
    staff_session_absolute_days: float = Field(
        default=14.0,
        description="A console session ends this long after its login, however much it is "
        "used.")
    staff_invitation_hours: float = Field(
        default=72.0, description="How long a staff invitation link can be used.")
    staff_login_failures_per_email: int = Field(
        default=5,
        description="Failed console logins for one email before it is locked for "
        "staff_login_lockout_minutes.")
    staff_login_failures_per_ip: int = Field(
        default=20,
        description="Failed console logins from one client address before it is locked for "
        "staff_login_lockout_minutes.")
    staff_login_lockout_minutes: int = Field(
        default=15,
        description="The window over which failed console logins are counted, and so how "
        "long a lockout lasts at most.")
    log_level: str = Field(default="INFO", description="Level of the JSON logs.")
    embedded_worker: bool = Field(
        default=False,
        description="Run the worker's jobs inside the API process (the demo does).")
    enable_test_checkpoints: bool = Field(
        default=False,
        description="Only for the deterministic interleaving tests: lets a test pause named "
        "points.",
    )

    @model_validator(mode="after")
    def _replica_of_postgres(self) -> Self:
        if self.database_read_url and self.resolved_database_url().startswith("sqlite"):
            raise ValueError("ORDERLINE_DATABASE_READ_URL needs a PostgreSQL "
                             "ORDERLINE_DATABASE_URL (SQLite has no replicas).")
        return self

    @model_validator(mode="after")
    def _safe_for_its_environment(self) -> Self:
        problems = self.production_problems() if self.environment == "production" else []
        if problems:
            raise ValueError("ORDERLINE_ENVIRONMENT=production refuses to start: "
                             + " ".join(problems))
        return self

    def production_problems(self) -> list[str]:
        """What this configuration would expose in production, each with what to do."""
        problems = []
        if self.sandbox_enabled:
            problems.append("The sandbox payment provider is on, and anyone who reads the "
                            "docs can sign its webhooks and mark orders paid: set "
                            "ORDERLINE_SANDBOX_ENABLED=false.")
        if not self.proof_master_keys.get_secret_value().strip():
            problems.append("Payment proofs would be sealed with a key file generated on this "
                            "machine: set ORDERLINE_PROOF_MASTER_KEYS (the same on every "
                            "machine).")
        if (self.stripe_api_key.get_secret_value()
                and not self.stripe_webhook_secret.get_secret_value()):
            problems.append("Stripe is on without ORDERLINE_STRIPE_WEBHOOK_SECRET, so its "
                            "webhooks could not be verified: set it.")
        return problems

    def resolved_database_url(self) -> str:
        """The URL with the async driver filled in (asyncpg / aiosqlite)."""
        url = self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'orderline.db'}"
        return async_url(url)

    def resolved_read_url(self) -> str | None:
        """The read replica's URL with the async driver filled in, if one is set."""
        return async_url(self.database_read_url) if self.database_read_url else None


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
