"""Byte ranges read as streams, from a folder and from S3: the right bytes across chunk boundaries,
memory bounded by the chunk size whatever the blob's size, and a missing blob said as such."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from pathlib import Path

import pytest

from mediasift.blobs import BlobStore

from support.blob_stores import KINDS, blob_store_of

MIB = 1024 * 1024


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    return blob_store_of(request, request.param, tmp_path / "home")


def test_ranges_are_the_right_bytes_in_bounded_chunks(store: BlobStore) -> None:
    data = os.urandom(2 * MIB + 12_345)
    sha = store.put_bytes(data)
    assert store.size(sha) == len(data)
    for start, end in [
        (0, len(data)),
        (0, 1),
        (10, 20),
        (MIB - 5, MIB + 5),
        (MIB, 2 * MIB + 1),
        (len(data) - 7, len(data)),
    ]:
        chunks = list(store.open_range(sha, start, end))
        assert b"".join(chunks) == data[start:end], (start, end)
        assert all(0 < len(chunk) <= MIB for chunk in chunks)
    assert list(store.open_range(sha, 5, 5)) == []


def test_a_missing_blob_is_said_when_read_not_before(store: BlobStore) -> None:
    sha = hashlib.sha256(b"never stored").hexdigest()
    with pytest.raises(FileNotFoundError, match=f"blob {sha} is missing"):
        store.size(sha)
    reader = store.open_range(sha, 0, 10)  # nothing is opened yet
    with pytest.raises(FileNotFoundError, match=f"blob {sha} is missing"):
        next(reader)


def test_a_big_range_streams_in_memory_bounded_by_the_chunk(store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(24 * MIB))
    sha, size = store.put_file(source)
    digest = hashlib.sha256()
    tracemalloc.start()
    try:
        reader = store.open_range(sha, 0, size)
        for chunk in reader:
            digest.update(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert digest.hexdigest() == sha
    assert peak < 4 * MIB, f"reading {size:,} bytes peaked at {peak:,} bytes"


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_reader_closed_early_releases_its_file_or_connection(store: BlobStore) -> None:
    data = os.urandom(3 * MIB)
    sha = store.put_bytes(data)
    before = open_fds()
    reader = store.open_range(sha, 0, len(data))
    assert next(reader) == data[:MIB]
    reading = open_fds()  # the file, or the connection the GET holds (maybe one the client had open)
    reader.close()
    assert open_fds() < reading and open_fds() <= before
    with pytest.raises(StopIteration):
        next(reader)
    assert b"".join(store.open_range(sha, MIB, 2 * MIB)) == data[MIB : 2 * MIB]  # the store reads on
