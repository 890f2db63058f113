"""The S3 blob store against a real SeaweedFS S3 gateway (which checks signatures)."""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from mediasift.blobs import blob_store
from mediasift.blobs import s3 as s3_module
from mediasift.blobs.local import LocalBlobStore
from mediasift.blobs.s3 import S3BlobStore, parse_s3_url
from mediasift.config import Settings

BUCKET = "mediasift-blobs"


def s3_settings(server: Any, home: Path, blob_url: str, secret: str | None = None) -> Settings:
    return Settings(
        home=home,
        blob_url=blob_url,
        s3_endpoint_url=server.endpoint,
        s3_access_key_id=server.access_key,
        s3_secret_access_key=server.secret_key if secret is None else secret,
    )


def new_store(server: Any, home: Path, bucket: str = BUCKET, secret: str | None = None) -> S3BlobStore:
    """A store under a prefix of its own, so that tests sharing the bucket never see each other."""
    url = f"s3://{bucket}/tests/{uuid.uuid4().hex[:10]}"
    return S3BlobStore.from_settings(s3_settings(server, home, url, secret))


@pytest.fixture
def store(s3_server: Any, tmp_path: Path) -> S3BlobStore:
    return new_store(s3_server, tmp_path / "home")


@pytest.fixture
def calls(store: S3BlobStore) -> list[str]:
    """The names of the S3 operations the store's client makes from now on."""
    names: list[str] = []
    store.client.meta.events.register("before-call.s3", lambda model, **_: names.append(model.name))
    return names


def object_keys(store: S3BlobStore) -> list[str]:
    reply = store.client.list_objects_v2(Bucket=store.bucket, Prefix=store.prefix)
    return [item["Key"] for item in reply.get("Contents", [])]


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_round_trip(store: S3BlobStore, tmp_path: Path) -> None:
    data = os.urandom(100_000)
    sha, size = store.put_file(write(tmp_path / "a.bin", data))
    assert (sha, size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert store.exists(sha)
    assert store.read_bytes(sha) == data
    cached = store.local_path(sha)
    assert cached == tmp_path / "home" / "cache" / "blobs" / sha[:2] / sha[2:4] / sha
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == sha

    small = b"hello, bucket"
    small_sha = store.put_bytes(small)
    assert small_sha == hashlib.sha256(small).hexdigest()
    assert store.exists(small_sha)
    assert store.read_bytes(small_sha) == small
    assert store.local_path(small_sha).read_bytes() == small
    assert sorted(object_keys(store)) == sorted(
        f"{store.prefix}{digest[:2]}/{digest[2:4]}/{digest}" for digest in (sha, small_sha)
    )


def test_same_bytes_are_one_object_uploaded_once(store: S3BlobStore, calls: list[str], tmp_path: Path) -> None:
    data = os.urandom(50_000)
    sha, _ = store.put_file(write(tmp_path / "first.bin", data))
    first = store.client.head_object(Bucket=store.bucket, Key=store.key(sha))
    calls.clear()

    assert store.put_file(write(tmp_path / "second.bin", data)) == (sha, len(data))
    assert store.put_bytes(data) == sha
    assert calls == ["HeadObject", "HeadObject"]  # looked up, never uploaded
    again = store.client.head_object(Bucket=store.bucket, Key=store.key(sha))
    assert (again["LastModified"], again["ETag"]) == (first["LastModified"], first["ETag"])
    assert len(object_keys(store)) == 1


def test_missing_blob(store: S3BlobStore) -> None:
    sha = hashlib.sha256(b"never stored").hexdigest()
    assert not store.exists(sha)
    with pytest.raises(FileNotFoundError, match=f"blob {sha} is missing from s3://{BUCKET}/"):
        store.read_bytes(sha)
    with pytest.raises(FileNotFoundError, match=f"blob {sha} is missing"):
        store.local_path(sha)
    assert not [p for p in store.cache_dir.rglob("*") if p.is_file()]  # no temp file left behind
    with pytest.raises(ValueError, match="not a sha256"):
        store.exists("../../etc/passwd")


def test_local_path_downloads_once(store: S3BlobStore, calls: list[str]) -> None:
    sha = store.put_bytes(os.urandom(20_000))
    path = store.local_path(sha)
    mtime = path.stat().st_mtime_ns
    calls.clear()
    assert store.local_path(sha) == path
    assert path.stat().st_mtime_ns == mtime
    assert calls == []


def test_wrong_credentials_are_rejected(s3_server: Any, store: S3BlobStore, tmp_path: Path) -> None:
    sha = store.put_bytes(b"guarded")
    bad = S3BlobStore.from_settings(s3_settings(s3_server, tmp_path / "bad", store.url, secret="not-the-secret"))
    with pytest.raises(PermissionError, match=r"S3 refused to look up a blob .*MEDIASIFT_S3_SECRET_ACCESS_KEY"):
        bad.exists(sha)
    with pytest.raises(PermissionError, match="SignatureDoesNotMatch"):
        bad.read_bytes(sha)
    with pytest.raises(PermissionError):
        bad.local_path(sha)
    with pytest.raises(PermissionError):
        bad.put_bytes(b"written with a wrong secret")
    assert not store.exists(hashlib.sha256(b"written with a wrong secret").hexdigest())

    stranger = s3_settings(s3_server, tmp_path / "stranger", store.url).model_copy(
        update={"s3_access_key_id": "nobody"}
    )
    with pytest.raises(PermissionError):
        blob_store(stranger).exists(sha)


def test_prefixes_keep_stores_apart(s3_server: Any, tmp_path: Path) -> None:
    one, two = new_store(s3_server, tmp_path / "one"), new_store(s3_server, tmp_path / "two")
    sha = one.put_bytes(b"only in one")
    assert one.exists(sha)
    assert not two.exists(sha)
    with pytest.raises(FileNotFoundError):
        two.read_bytes(sha)
    with pytest.raises(FileNotFoundError):
        two.local_path(sha)
    assert two.put_bytes(b"only in one") == sha
    assert len(object_keys(one)) == len(object_keys(two)) == 1


def test_blob_store_factory(s3_server: Any, tmp_path: Path) -> None:
    store = blob_store(s3_settings(s3_server, tmp_path, f"s3://{BUCKET}/some/prefix/"))
    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.prefix) == (BUCKET, "some/prefix/")
    assert isinstance(blob_store(Settings(home=tmp_path)), LocalBlobStore)
    with pytest.raises(ValueError, match="unsupported blob_url"):
        blob_store(Settings(home=tmp_path, blob_url="gs://bucket"))
    assert parse_s3_url("s3://bucket") == ("bucket", "")
    assert parse_s3_url("s3://bucket/a/b") == ("bucket", "a/b/")
    with pytest.raises(ValueError, match="not an s3://"):
        parse_s3_url("s3:///prefix")


def test_big_file_goes_up_in_parts(store: S3BlobStore, calls: list[str], tmp_path: Path) -> None:
    data = os.urandom(12 * 1024 * 1024)
    sha, size = store.put_file(write(tmp_path / "big.bin", data))
    assert (sha, size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert calls.count("CreateMultipartUpload") == 1
    assert calls.count("UploadPart") == 2
    assert calls.count("CompleteMultipartUpload") == 1
    assert "PutObject" not in calls
    head = store.client.head_object(Bucket=store.bucket, Key=store.key(sha))
    assert head["ContentLength"] == len(data)
    assert hashlib.sha256(store.local_path(sha).read_bytes()).hexdigest() == sha


def test_bucket_is_created_once_by_racing_stores(s3_server: Any, tmp_path: Path) -> None:
    bucket = f"fresh-{uuid.uuid4().hex[:12]}"
    stores = [new_store(s3_server, tmp_path / f"s{i}", bucket=bucket) for i in range(4)]
    start = threading.Barrier(len(stores))

    def put(store: S3BlobStore) -> str:
        start.wait()
        return store.put_bytes(store.prefix.encode())

    with ThreadPoolExecutor(len(stores)) as pool:
        digests = list(pool.map(put, stores))
    assert all(store.exists(sha) for store, sha in zip(stores, digests, strict=True))
    names = [entry["Name"] for entry in stores[0].client.list_buckets()["Buckets"]]
    assert names.count(bucket) == 1


def test_file_changed_while_stored_leaves_nothing(
    store: S3BlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "moving.bin", b"before")
    hash_file = s3_module.sha256_of_file

    def hash_then_change(target: Path) -> tuple[str, int]:
        digest = hash_file(target)
        target.write_bytes(b"after, and longer")
        return digest

    monkeypatch.setattr(s3_module, "sha256_of_file", hash_then_change)
    with pytest.raises(OSError, match="changed while it was being stored"):
        store.put_file(path)
    assert object_keys(store) == []
