"""Blob stores for tests that run against each kind: a folder, and a bucket of the test S3 server."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from mediasift.blobs import BlobStore
from mediasift.blobs.local import LocalBlobStore
from mediasift.blobs.s3 import S3BlobStore
from mediasift.config import Settings

KINDS = ["local", "s3"]


def blob_store_of(request: pytest.FixtureRequest, kind: str, home: Path) -> BlobStore:
    """A fresh, empty store of ``kind``; for S3, a prefix of its own in a shared bucket (the session's
    ``s3_server`` is started on first use)."""
    if kind == "local":
        return LocalBlobStore(home / "blobs")
    server = request.getfixturevalue("s3_server")
    return S3BlobStore.from_settings(
        Settings(
            home=home,
            blob_url=f"s3://mediasift-blobs/tests/{uuid.uuid4().hex[:10]}",
            s3_endpoint_url=server.endpoint,
            s3_access_key_id=server.access_key,
            s3_secret_access_key=server.secret_key,
        )
    )
