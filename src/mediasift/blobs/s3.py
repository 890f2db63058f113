"""Blobs in an S3 bucket (AWS or any S3-compatible server): ``{prefix}ab/cd/abcd…`` by sha256.

Reads go through a local cache (``settings.cache_dir / "blobs"``, same sharded layout) because the
pipeline hands file paths to decoders. The cache is shared by every store: its keys are content
hashes, so a cached file is correct for any bucket that holds that digest.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from mediasift.blobs.local import sha256_of_file
from mediasift.config import Settings

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Files above the threshold go up (and down) in parallel parts of this size.
_PART_BYTES = 8 * 1024 * 1024
_TRANSFER = TransferConfig(multipart_threshold=_PART_BYTES, multipart_chunksize=_PART_BYTES)
_READ_CHUNK = 1024 * 1024  # streamed reads (open_range)
_AUTH_CODES = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"}
_ALREADY_CODES = {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/optional/prefix`` → (bucket, prefix); the prefix is empty or ends with ``/``."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"not an s3://bucket/optional/prefix URL: {url!r}")
    prefix = parts.path.strip("/")
    return parts.netloc, f"{prefix}/" if prefix else ""


def s3_client(settings: Settings) -> Any:
    """A client for the configured endpoint; empty credentials fall back to boto3's own chain."""
    config = Config(
        signature_version="s3v4",
        # Path-style (endpoint/bucket/key): S3-compatible servers such as SeaweedFS have no
        # per-bucket DNS names.
        s3={"addressing_style": "path"},
        retries={"max_attempts": 5, "mode": "standard"},
        connect_timeout=10,
        read_timeout=60,
    )
    # A session of its own: boto3's default session is not safe to share between threads.
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.s3_endpoint_url or None,
        aws_access_key_id=settings.s3_access_key_id or None,
        aws_secret_access_key=settings.s3_secret_access_key or None,
        region_name=settings.s3_region,
        config=config,
    )


def _status(error: ClientError) -> int | None:
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _is_missing(error: ClientError) -> bool:
    # HEAD responses have no body, so only the status tells a missing key (or bucket).
    return _status(error) == 404 or _code(error) in {"404", "NoSuchKey", "NoSuchBucket", "NotFound"}


class S3BlobStore:
    def __init__(self, client: Any, bucket: str, prefix: str, cache_dir: Path) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.cache_dir = cache_dir
        self._bucket_ready = False

    @classmethod
    def from_settings(cls, settings: Settings) -> S3BlobStore:
        bucket, prefix = parse_s3_url(settings.blob_url)
        return cls(s3_client(settings), bucket, prefix, settings.cache_dir / "blobs")

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def key(self, sha256: str) -> str:
        if not _SHA256.match(sha256):
            raise ValueError(f"not a sha256 digest: {sha256!r}")
        return f"{self.prefix}{sha256[:2]}/{sha256[2:4]}/{sha256}"

    @contextmanager
    def _auth_errors(self, action: str) -> Iterator[None]:
        """Turn the server's refusals into a PermissionError that says which settings to check."""
        try:
            yield
        except ClientError as error:
            if _status(error) in (401, 403) or _code(error) in _AUTH_CODES:
                raise PermissionError(
                    f"S3 refused to {action} in {self.url} ({_code(error) or _status(error)}): check "
                    "MEDIASIFT_S3_ACCESS_KEY_ID, MEDIASIFT_S3_SECRET_ACCESS_KEY and MEDIASIFT_S3_ENDPOINT_URL"
                ) from error
            raise

    def _head(self, sha256: str) -> dict[str, Any] | None:
        with self._auth_errors("look up a blob"):
            try:
                head: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=self.key(sha256))
            except ClientError as error:
                if _is_missing(error):
                    return None
                raise
        return head

    def _present(self, sha256: str, size: int) -> bool:
        """Stored already, whole: an object of the wrong size (a broken write) is written over."""
        head = self._head(sha256)
        return head is not None and head["ContentLength"] == size

    def _ensure_bucket(self) -> None:
        """Create the bucket on first write; another process creating it at the same moment is fine."""
        if self._bucket_ready:
            return
        with self._auth_errors("create the bucket"):
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError as error:
                if not _is_missing(error):
                    raise
                region = self.client.meta.region_name
                # us-east-1 is the one region that refuses to be named as a location constraint.
                options = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
                try:
                    self.client.create_bucket(Bucket=self.bucket, **options)
                except ClientError as create_error:
                    if _code(create_error) not in _ALREADY_CODES:
                        raise
                    # Lost the race, or the name is someone else's: only the latter fails here.
                    self.client.head_bucket(Bucket=self.bucket)
        self._bucket_ready = True

    def _upload(self, sha256: str, source: Path | bytes) -> None:
        self._ensure_bucket()
        key = self.key(sha256)
        if isinstance(source, Path):
            self.client.upload_file(str(source), self.bucket, key, Config=_TRANSFER)
        else:
            self.client.upload_fileobj(io.BytesIO(source), self.bucket, key, Config=_TRANSFER)

    def _discard(self, sha256: str, problem: str) -> NoReturn:
        """Delete an object that does not hold its key's bytes, rather than leave it to be trusted."""
        self.client.delete_object(Bucket=self.bucket, Key=self.key(sha256))
        raise OSError(problem)

    def _check_size(self, sha256: str, size: int) -> None:
        head = self._head(sha256)
        stored = None if head is None else head["ContentLength"]
        if stored != size:
            self._discard(sha256, f"blob {sha256} in {self.url} holds {stored} bytes after upload, expected {size}")

    def put_file(self, path: Path) -> tuple[str, int]:
        """Hash first, so bytes already stored are never uploaded again; big files go up in parts."""
        before = path.stat()
        sha256, size = sha256_of_file(path)
        if self._present(sha256, size):
            return sha256, size
        self._upload(sha256, path)
        after = path.stat()
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            self._discard(sha256, f"{path} changed while it was being stored")
        self._check_size(sha256, size)
        return sha256, size

    def put_bytes(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        if not self._present(sha256, len(data)):
            self._upload(sha256, data)
            self._check_size(sha256, len(data))
        return sha256

    def exists(self, sha256: str) -> bool:
        return self._head(sha256) is not None

    def _missing(self, sha256: str) -> FileNotFoundError:
        return FileNotFoundError(f"blob {sha256} is missing from {self.url}")

    def local_path(self, sha256: str) -> Path:
        """The cached copy, downloaded (and its sha256 checked) on first use only."""
        key = self.key(sha256)
        path = self.cache_dir / sha256[:2] / sha256[2:4] / sha256
        if path.is_file():
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        os.close(handle)
        temp = Path(name)
        try:
            with self._auth_errors("read a blob"):
                try:
                    self.client.download_file(self.bucket, key, name, Config=_TRANSFER)
                except ClientError as error:
                    if _is_missing(error):
                        raise self._missing(sha256) from error
                    raise
            got, _ = sha256_of_file(temp)
            if got != sha256:
                raise OSError(f"blob {sha256} downloaded from {self.url} hashes to {got}")
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return path

    def read_bytes(self, sha256: str) -> bytes:
        with self._auth_errors("read a blob"):
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=self.key(sha256))
            except ClientError as error:
                if _is_missing(error):
                    raise self._missing(sha256) from error
                raise
        data: bytes = response["Body"].read()
        got = hashlib.sha256(data).hexdigest()
        if got != sha256:
            raise OSError(f"blob {sha256} read from {self.url} hashes to {got}")
        return data

    def size(self, sha256: str) -> int:
        head = self._head(sha256)
        if head is None:
            raise self._missing(sha256)
        return int(head["ContentLength"])

    def open_range(self, sha256: str, start: int, end: int) -> Generator[bytes, None, None]:
        """One ranged GET, its body read chunk by chunk as the chunks are consumed (not checked against
        the sha256, which needs every byte: the object's size was checked when it was written)."""
        if end <= start:
            return
        with self._auth_errors("read a blob"):
            try:
                response = self.client.get_object(
                    Bucket=self.bucket, Key=self.key(sha256), Range=f"bytes={start}-{end - 1}"
                )
            except ClientError as error:
                if _is_missing(error):
                    raise self._missing(sha256) from error
                raise
        body = response["Body"]
        try:
            yield from body.iter_chunks(_READ_CHUNK)
        finally:
            body.close()  # before the end too: the connection is not left half read

    def delete(self, sha256: str) -> None:
        """Delete the object (S3 answers a missing key with success too) and the cached copy."""
        with self._auth_errors("delete a blob"):
            try:
                self.client.delete_object(Bucket=self.bucket, Key=self.key(sha256))
            except ClientError as error:
                if not _is_missing(error):  # a bucket that is not there holds nothing to delete
                    raise
        (self.cache_dir / sha256[:2] / sha256[2:4] / sha256).unlink(missing_ok=True)
