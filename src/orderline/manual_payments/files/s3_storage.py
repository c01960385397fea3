"""Payment proofs in an S3-compatible object store (AWS S3, MinIO, Ceph RGW, moto), async.

``S3Storage`` implements ``ProofStorage`` over ``aiobotocore``; production wraps it in
``EncryptedStorage`` so the bucket only ever holds sealed envelopes. One client is opened on
the first call and kept (its connection pool is the point), so the owner must ``aclose()`` it.

Choices worth knowing:

- Path-style addressing (``endpoint/bucket/key``), because MinIO, Ceph and moto are usually
  reached by an IP or a single host name that has no per-bucket DNS.
- The prefix is a folder: ``"proofs"`` and ``"proofs/"`` both put key ``p1`` at
  ``proofs/p1``, so a missing slash cannot glue the prefix onto every key.
- Not found is ``KeyError`` (``get``) or ``False`` (``exists``, ``delete``); every other
  failure (access denied, a missing bucket on ``get``/``put``, a timeout, an unreachable
  endpoint) is ``StorageUnavailable``, so an outage is never mistaken for a missing receipt.
  On AWS, credentials without ``s3:ListBucket`` get 403 rather than 404 for a missing
  object, which is reported as ``StorageUnavailable``: grant it on the bucket. A ``HEAD``
  answer carries no error code, so ``exists`` and ``delete`` cannot tell a missing bucket
  from a missing object and say ``False`` for both.
- ``delete`` asks ``HEAD`` first because S3's ``DELETE`` succeeds whether or not the object
  was there; the answer is best effort under a concurrent writer of the same key, which
  proofs (written once) do not have.
- Credentials given here are used as they are; when both are left out, botocore's usual
  chain (environment, shared files, instance role) finds them.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, cast

from aiobotocore.config import AioConfig  # type: ignore[import-untyped]
from aiobotocore.session import AioSession, get_session  # type: ignore[import-untyped]
from botocore.exceptions import (  # type: ignore[import-untyped]
    BotoCoreError,
    ClientError,
)

from orderline.manual_payments.files.storage import (
    ProofStorage,
    StorageUnavailable,
    check_storage_key,
)

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.literals import BucketLocationConstraintType

# Codes S3 and compatible stores use for "no such object": GET carries ``NoSuchKey``, HEAD has
# no body, so botocore reports the bare status. ``NoSuchBucket`` is deliberately absent.
_MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "NotFound", "404"})


class S3Storage(ProofStorage):
    """Proofs as objects ``<prefix><key>`` in one bucket (see the module docstring).

    ``create_bucket`` makes the bucket on first use if it is missing (tests, a local MinIO);
    production buckets are provisioned with their policies and left alone. ``timeout``
    bounds connecting and each read, and ``max_attempts`` counts the first try, so a dead
    store fails a request in about ``timeout * max_attempts`` rather than botocore's
    minute-long defaults. Empty strings for the endpoint or credentials mean "not set",
    as in ``Settings``. Pass one ``session`` to several storages (or other aiobotocore
    clients) to load the service model and resolve credentials once; each storage still
    has its own client.
    """

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        prefix: str = "",
        create_bucket: bool = False,
        timeout: float = 10.0,
        max_attempts: int = 3,
        session: AioSession | None = None,
    ) -> None:
        if not bucket:
            raise ValueError("S3 bucket name is empty")
        if bool(access_key_id) != bool(secret_access_key):
            raise ValueError("give both the S3 access key id and the secret access key, or neither")
        self._bucket = bucket
        self._prefix = _folder_prefix(prefix)
        self._endpoint_url = endpoint_url or None
        self._region = region
        self._access_key_id = access_key_id or None
        self._secret_access_key = secret_access_key or None
        self._create_bucket = create_bucket
        self._config = AioConfig(
            s3={"addressing_style": "path"},
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"total_max_attempts": max_attempts, "mode": "standard"},
        )
        # Kept so that reopening after aclose() reuses the parsed service model (~0.1 s).
        self._session = session if session is not None else get_session()
        self._client: S3Client | None = None
        # Holds the open client's context; replaced by each (re)open, emptied by aclose().
        self._stack = AsyncExitStack()
        self._opening = asyncio.Lock()

    @property
    def bucket(self) -> str:
        return self._bucket

    @property
    def prefix(self) -> str:
        return self._prefix

    def object_key(self, key: str) -> str:
        """The bucket's name for storage key ``key`` (``ValueError`` if the key is unsafe)."""
        return self._prefix + check_storage_key(key)

    async def put(self, key: str, data: bytes) -> None:
        name = self.object_key(key)
        client = await self._ready()
        try:
            await client.put_object(Bucket=self._bucket, Key=name, Body=data)
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable("put", name, exc) from exc

    async def get(self, key: str) -> bytes:
        name = self.object_key(key)
        client = await self._ready()
        try:
            response = await client.get_object(Bucket=self._bucket, Key=name)
            async with response["Body"] as body:
                data: bytes = await body.read()
        except ClientError as exc:
            if _error_code(exc) in _MISSING_OBJECT_CODES:
                raise KeyError(key) from None
            raise self._unavailable("get", name, exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable("get", name, exc) from exc
        return data

    async def delete(self, key: str) -> bool:
        name = self.object_key(key)
        if not await self._head(name):
            return False
        client = await self._ready()
        try:
            await client.delete_object(Bucket=self._bucket, Key=name)
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable("delete", name, exc) from exc
        return True

    async def exists(self, key: str) -> bool:
        return await self._head(self.object_key(key))

    async def aclose(self) -> None:
        """Close the client and its connections; a later call opens a new one."""
        async with self._opening:
            self._client = None
            stack, self._stack = self._stack, AsyncExitStack()
            await stack.aclose()

    async def _head(self, name: str) -> bool:
        client = await self._ready()
        try:
            await client.head_object(Bucket=self._bucket, Key=name)
        except ClientError as exc:
            if _error_code(exc) in _MISSING_OBJECT_CODES:
                return False
            raise self._unavailable("head", name, exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable("head", name, exc) from exc
        return True

    async def _ready(self) -> S3Client:
        if self._client is not None:
            return self._client
        # The lock keeps concurrent first calls from each opening (and leaking) a client.
        async with self._opening:
            if self._client is None:
                self._client = await self._open()
            return self._client

    async def _open(self) -> S3Client:
        stack = AsyncExitStack()
        try:
            client: S3Client = await stack.enter_async_context(self._session.create_client(
                "s3",
                region_name=self._region,
                endpoint_url=self._endpoint_url,
                aws_access_key_id=self._access_key_id,
                aws_secret_access_key=self._secret_access_key,
                config=self._config,
            ))
            if self._create_bucket:
                await self._ensure_bucket(client)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        return client

    async def _ensure_bucket(self, client: S3Client) -> None:
        try:
            await client.head_bucket(Bucket=self._bucket)
            return
        except ClientError as exc:
            if _error_code(exc) not in {"404", "NoSuchBucket", "NotFound"}:
                raise self._unavailable("head bucket", "", exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable("head bucket", "", exc) from exc
        try:
            if self._region == "us-east-1":
                await client.create_bucket(Bucket=self._bucket)
            else:
                # Self-hosted stores name their regions freely; the stubs list AWS's only.
                region = cast("BucketLocationConstraintType", self._region)
                await client.create_bucket(
                    Bucket=self._bucket,
                    CreateBucketConfiguration={"LocationConstraint": region},
                )
        except ClientError as exc:
            # Another process made it between our HEAD and CREATE: that is what we wanted.
            if _error_code(exc) != "BucketAlreadyOwnedByYou":
                raise self._unavailable("create bucket", "", exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable("create bucket", "", exc) from exc

    def _unavailable(self, operation: str, name: str, exc: Exception) -> StorageUnavailable:
        where = f"s3://{self._bucket}/{name}"
        code = _error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
        return StorageUnavailable(f"S3 {operation} of {where} failed: {code}: {exc}")


def _folder_prefix(prefix: str) -> str:
    folder = prefix.rstrip("/")
    if not folder:
        return ""
    try:
        check_storage_key(folder)
    except ValueError:
        raise ValueError(
            f"S3 prefix {prefix!r} must be '/'-separated segments of [A-Za-z0-9_.-], "
            "none empty or starting with '.'"
        ) from None
    return folder + "/"


def _error_code(exc: ClientError) -> str:
    code = exc.response.get("Error", {}).get("Code")
    return str(code) if code is not None else ""
