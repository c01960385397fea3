"""Proof storage in an S3 bucket, plain and encrypted, against a real S3 HTTP server.

The server is moto's ``ThreadedMotoServer`` on a free local port: the adapter speaks HTTP to
it exactly as it would to MinIO or AWS (nothing inside botocore is patched). Every test gets
its own bucket, and a separate plain client reads the bucket behind the adapter's back to
see what is really stored. AWS variables are cleared for the module so nothing here can lean
on the developer's credentials, profile or endpoint settings.
"""

from __future__ import annotations

import base64
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from aiobotocore.session import AioSession, get_session  # type: ignore[import-untyped]
from moto.server import ThreadedMotoServer
from pydantic import SecretStr

from orderline.core.config import Settings
from orderline.manual_payments.files.configured import build_proof_storage
from orderline.manual_payments.files.encryption import MasterKeys, SealedDataError, sealed_key_id
from orderline.manual_payments.files.s3_storage import S3Storage, StorageUnavailable
from orderline.manual_payments.files.storage import EncryptedStorage, ProofStorage
from tests.support.servers import free_port

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

K1 = bytes(range(32))
K2 = bytes(range(100, 132))
MARKER = b"RECEIPT-MARKER-0xC0FFEE bank transfer 1,250.00 EUR"
CREDENTIALS: dict[str, Any] = {"access_key_id": "testing", "secret_access_key": "testing"}

MakeStorage = Callable[..., S3Storage]


def keys(spec: str) -> MasterKeys:
    material = {"k1": K1, "k2": K2}
    parts = [f"{key_id}:{base64.b64encode(material[key_id]).decode()}" for key_id in spec.split()]
    return MasterKeys.from_config(",".join(parts))


@pytest.fixture(scope="module", autouse=True)
def no_aws_environment() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("AWS_")]:
            patch.delenv(name)
        patch.setenv("AWS_CONFIG_FILE", os.devnull)
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        yield


@pytest.fixture(scope="module")
def endpoint(no_aws_environment: None) -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def session(no_aws_environment: None) -> AioSession:
    """Shared by every client here: loading the S3 model once per client costs ~0.1 s."""
    return get_session()


@pytest.fixture(scope="module")
async def raw(endpoint: str, session: AioSession) -> AsyncIterator[S3Client]:
    """A plain client, to look at the bucket without the adapter."""
    async with session.create_client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    ) as client:
        yield client


@pytest.fixture
async def bucket(raw: S3Client) -> str:
    name = f"proofs-{uuid.uuid4().hex[:12]}"
    await raw.create_bucket(Bucket=name)
    return name


@pytest.fixture
async def make_storage(
    endpoint: str, bucket: str, session: AioSession
) -> AsyncIterator[MakeStorage]:
    """Adapters on this test's bucket (arguments override), all closed at the end."""
    made: list[S3Storage] = []

    def make(**overrides: Any) -> S3Storage:
        arguments: dict[str, Any] = {
            "bucket": bucket, "endpoint_url": endpoint, "session": session, **CREDENTIALS,
        }
        storage = S3Storage(**(arguments | overrides))
        made.append(storage)
        return storage

    yield make
    for storage in made:
        await storage.aclose()


@pytest.fixture
def storage(make_storage: MakeStorage) -> S3Storage:
    return make_storage()


async def object_keys(raw: S3Client, bucket: str) -> list[str]:
    listing = await raw.list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listing.get("Contents", []))


async def raw_object(raw: S3Client, bucket: str, name: str) -> bytes:
    response = await raw.get_object(Bucket=bucket, Key=name)
    async with response["Body"] as body:
        data: bytes = await body.read()
    return data


async def test_put_then_get_returns_the_bytes_and_put_overwrites(storage: S3Storage) -> None:
    await storage.put("b1/p1.jpg", MARKER)
    assert await storage.get("b1/p1.jpg") == MARKER

    await storage.put("b1/p1.jpg", b"second")
    assert await storage.get("b1/p1.jpg") == b"second"


async def test_empty_and_binary_objects_round_trip(storage: S3Storage) -> None:
    every_byte = bytes(range(256)) * 64

    await storage.put("empty", b"")
    await storage.put("binary", every_byte)

    assert await storage.get("empty") == b""
    assert await storage.get("binary") == every_byte


async def test_a_missing_key_raises_key_error(storage: S3Storage) -> None:
    await storage.put("dir/file", b"x")

    with pytest.raises(KeyError):
        await storage.get("nope")
    # Folders are only a naming convention in S3: a key's prefix is not an object.
    with pytest.raises(KeyError):
        await storage.get("dir")


async def test_exists_is_true_only_for_stored_objects(storage: S3Storage) -> None:
    await storage.put("p/1", b"x")

    assert await storage.exists("p/1") is True
    assert await storage.exists("p") is False
    assert await storage.exists("p/2") is False


async def test_delete_reports_whether_the_object_existed_and_removes_it(
    storage: S3Storage, raw: S3Client, bucket: str
) -> None:
    await storage.put("p/1", b"x")

    assert await storage.delete("p/1") is True
    assert await storage.exists("p/1") is False
    with pytest.raises(KeyError):
        await storage.get("p/1")
    assert await storage.delete("p/1") is False
    assert await object_keys(raw, bucket) == []


@pytest.mark.parametrize("prefix", ["proofs/", "proofs", "tenant-a/proofs/"])
async def test_the_prefix_is_the_folder_every_key_is_stored_under(
    make_storage: MakeStorage, raw: S3Client, bucket: str, prefix: str
) -> None:
    storage = make_storage(prefix=prefix)
    folder = prefix.rstrip("/") + "/"

    await storage.put("b1/p1.jpg", MARKER)

    assert await object_keys(raw, bucket) == [f"{folder}b1/p1.jpg"]
    assert await raw_object(raw, bucket, f"{folder}b1/p1.jpg") == MARKER
    assert await storage.exists("b1/p1.jpg") is True
    # An object outside the prefix is invisible to the adapter.
    await raw.put_object(Bucket=bucket, Key="outside.jpg", Body=b"other")
    assert await storage.exists("outside.jpg") is False


@pytest.mark.parametrize("prefix", ["/proofs", "../proofs", "a//b", ".hidden/", "a b"])
def test_an_unsafe_prefix_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        S3Storage(bucket="b", prefix=prefix, **CREDENTIALS)


def test_half_a_credential_pair_is_refused() -> None:
    with pytest.raises(ValueError, match="both"):
        S3Storage(bucket="b", access_key_id="testing")


@pytest.mark.parametrize(
    "key", ["", "../escape", "/etc/passwd", "a//b", "a/", ".hidden", "a b", "x" * 513]
)
async def test_unsafe_keys_are_refused_before_any_request(
    make_storage: MakeStorage, raw: S3Client, bucket: str, key: str
) -> None:
    # Nothing listens on the dead endpoint: any request would fail as StorageUnavailable.
    dead = make_storage(endpoint_url=f"http://127.0.0.1:{free_port()}", max_attempts=1)
    live = make_storage()
    operations: list[Callable[[S3Storage], Awaitable[object]]] = [
        lambda s: s.put(key, b"x"), lambda s: s.get(key),
        lambda s: s.exists(key), lambda s: s.delete(key),
    ]

    for storage in (dead, live):
        for operation in operations:
            with pytest.raises(ValueError, match="storage key"):
                await operation(storage)
    assert await object_keys(raw, bucket) == []


async def test_encrypted_storage_keeps_only_ciphertext_in_the_bucket(
    make_storage: MakeStorage, raw: S3Client, bucket: str
) -> None:
    storage: ProofStorage = EncryptedStorage(make_storage(prefix="proofs/"), keys("k1"))

    await storage.put("b1/p1.jpg", MARKER)

    assert await storage.get("b1/p1.jpg") == MARKER
    stored = await raw_object(raw, bucket, "proofs/b1/p1.jpg")
    assert b"RECEIPT-MARKER" not in stored
    assert K1 not in stored
    assert sealed_key_id(stored) == "k1"
    assert await storage.exists("b1/p1.jpg") is True
    assert await storage.delete("b1/p1.jpg") is True
    assert await object_keys(raw, bucket) == []


async def test_an_object_copied_to_another_key_in_the_bucket_does_not_open(
    storage: S3Storage, raw: S3Client, bucket: str
) -> None:
    encrypted = EncryptedStorage(storage, keys("k1"))
    await encrypted.put("p1", MARKER)

    await raw.copy_object(Bucket=bucket, Key="p2", CopySource={"Bucket": bucket, "Key": "p1"})

    with pytest.raises(SealedDataError, match="associated data"):
        await encrypted.get("p2")


async def test_rotation_keeps_the_object_readable_under_the_new_master_key(
    storage: S3Storage, raw: S3Client, bucket: str
) -> None:
    await EncryptedStorage(storage, keys("k1")).put("proofs/p1", MARKER)

    rotating = EncryptedStorage(storage, keys("k2 k1"))
    assert await rotating.rotate("proofs/p1") is True

    assert sealed_key_id(await raw_object(raw, bucket, "proofs/p1")) == "k2"
    assert await EncryptedStorage(storage, keys("k2")).get("proofs/p1") == MARKER
    with pytest.raises(SealedDataError):
        await EncryptedStorage(storage, keys("k1")).get("proofs/p1")
    assert await rotating.rotate("proofs/p1") is False
    assert await object_keys(raw, bucket) == ["proofs/p1"]
    with pytest.raises(KeyError):
        await rotating.rotate("proofs/missing")


async def test_a_missing_bucket_is_an_outage_not_a_missing_receipt(
    make_storage: MakeStorage,
) -> None:
    storage = make_storage(bucket=f"missing-{uuid.uuid4().hex[:12]}")

    with pytest.raises(StorageUnavailable, match="NoSuchBucket"):
        await storage.get("p1")
    with pytest.raises(StorageUnavailable, match="NoSuchBucket"):
        await storage.put("p1", MARKER)


async def test_an_unreachable_store_fails_fast_with_storage_unavailable(
    make_storage: MakeStorage,
) -> None:
    storage = make_storage(endpoint_url=f"http://127.0.0.1:{free_port()}", max_attempts=1,
                           timeout=1.0)
    started = time.monotonic()

    operations: list[Callable[[], Awaitable[object]]] = [
        lambda: storage.get("p1"), lambda: storage.exists("p1"),
        lambda: storage.put("p1", b"x"), lambda: storage.delete("p1"),
    ]

    for operation in operations:
        with pytest.raises(StorageUnavailable, match="EndpointConnectionError"):
            await operation()
    # Not a speed check: a store that retried with backoff, or waited out botocore's 60 s
    # connect timeout, would hang here far past this cap.
    assert time.monotonic() - started < 30


async def test_create_bucket_makes_a_missing_bucket_on_first_use(
    make_storage: MakeStorage, raw: S3Client
) -> None:
    name = f"created-{uuid.uuid4().hex[:12]}"
    first = make_storage(bucket=name, create_bucket=True)

    await first.put("p1", MARKER)

    assert await object_keys(raw, name) == ["p1"]
    # A second process finding the bucket already there just uses it.
    second = make_storage(bucket=name, create_bucket=True)
    assert await second.get("p1") == MARKER


async def test_a_closed_storage_reopens_on_the_next_call(storage: S3Storage) -> None:
    await storage.put("p1", MARKER)

    await storage.aclose()
    await storage.aclose()

    assert await storage.get("p1") == MARKER


async def test_the_s3_setting_builds_sealed_storage_in_the_bucket(
        endpoint: str, bucket: str, raw: S3Client) -> None:
    settings = Settings(proof_storage="s3", proof_s3_bucket=bucket,
                        proof_s3_endpoint_url=endpoint, proof_s3_access_key_id="testing",
                        proof_s3_secret_access_key=SecretStr("testing"),
                        proof_s3_prefix="proofs/",
                        proof_master_keys=SecretStr(f"live:{base64.b64encode(K1).decode()}"))
    storage = build_proof_storage(settings)
    try:
        await storage.put("b/o/p", b"receipt bytes")
        assert await storage.get("b/o/p") == b"receipt bytes"
        assert await object_keys(raw, bucket) == ["proofs/b/o/p"]
        assert b"receipt bytes" not in await raw_object(raw, bucket, "proofs/b/o/p")
    finally:
        await storage.aclose()
