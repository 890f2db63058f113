"""Content-addressed blob storage (sha256) behind one small protocol."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Protocol

from mediasift.config import Settings


class BlobStore(Protocol):
    """Stores immutable bytes under their sha256. Writing the same bytes twice is a no-op."""

    def put_file(self, path: Path) -> tuple[str, int]:
        """Copy a file in; return its sha256 and size."""
        ...

    def put_bytes(self, data: bytes) -> str:
        """Store bytes; return their sha256."""
        ...

    def exists(self, sha256: str) -> bool: ...

    def local_path(self, sha256: str) -> Path:
        """A local file holding the blob (for stores that are not local, a cached copy)."""
        ...

    def read_bytes(self, sha256: str) -> bytes: ...

    def size(self, sha256: str) -> int:
        """The blob's size in bytes; FileNotFoundError when it is not stored."""
        ...

    def open_range(self, sha256: str, start: int, end: int) -> Generator[bytes, None, None]:
        """Bytes ``start`` up to (not including) ``end`` of the blob, in chunks of at most 1 MiB read as
        they are consumed, so memory stays bounded whatever the size. Nothing is opened before the
        first chunk is asked for (FileNotFoundError then, when the blob is not stored); ``close()``
        releases what is open before the end."""
        ...

    def delete(self, sha256: str) -> None:
        """Remove the blob (and any local copy of it); removing one that is not there is no error.
        Only for bytes nothing references any more: the caller checks that (see ``db/erasure.py``)."""
        ...


def blob_store(settings: Settings) -> BlobStore:
    """The store ``settings.blob_url`` names: empty for files under ``home``, ``s3://…`` for a bucket."""
    # Imported here so that local use never pays for importing boto3.
    if not settings.blob_url:
        from mediasift.blobs.local import LocalBlobStore

        return LocalBlobStore(settings.blob_dir)
    if settings.blob_url.startswith("s3://"):
        from mediasift.blobs.s3 import S3BlobStore

        return S3BlobStore.from_settings(settings)
    raise ValueError(f"unsupported blob_url {settings.blob_url!r}: leave it empty or use s3://bucket/prefix")
