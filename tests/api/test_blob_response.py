"""Blobs over HTTP (api/blob_response.py): byte ranges, revalidation and headers from a folder and from
S3, and GET /blobs/{sha256} of a served API streaming a 60 MB blob to four clients at once in memory
far below the blob's size (measured on the server process)."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient

from mediasift.api.blob_response import (
    ByteRange,
    RangeNotSatisfiable,
    blob_response,
    content_disposition,
    none_match,
    parse_range,
)
from mediasift.blobs import BlobStore
from mediasift.config import Settings
from mediasift.db import assets as asset_repo
from mediasift.service import Mediasift

from support.apikeys import Keys, bearer
from support.apiserver import serving
from support.blob_stores import KINDS, blob_store_of

MIB = 1024 * 1024
DATA = os.urandom(2 * MIB + 1000)  # crosses the stores' 1 MiB chunks
SIZE = len(DATA)


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    return blob_store_of(request, request.param, tmp_path / "home")


@pytest.fixture
def client(store: BlobStore) -> Iterator[tuple[TestClient, str]]:
    """An app serving ``store`` at /b/{sha256} as text/plain (?name= for an attachment), and the sha256
    of DATA stored in it."""
    app = FastAPI()

    @app.get("/b/{sha256}")
    def get(sha256: str, request: Request, name: str | None = None) -> Response:
        return blob_response(store, sha256, "text/plain", request.headers, filename=name)

    with TestClient(app) as test_client:
        yield test_client, store.put_bytes(DATA)


def test_the_whole_blob_with_its_headers(client: tuple[TestClient, str]) -> None:
    http, sha = client
    answer = http.get(f"/b/{sha}")
    assert answer.status_code == 200 and answer.content == DATA
    assert answer.headers["content-length"] == str(SIZE)
    assert answer.headers["content-type"] == "text/plain"  # as stored: no charset added
    assert answer.headers["etag"] == f'"{sha}"'
    assert answer.headers["accept-ranges"] == "bytes"
    assert answer.headers["cache-control"].startswith("private, max-age=")
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "content-disposition" not in answer.headers and "content-range" not in answer.headers


@pytest.mark.parametrize(
    ("asked", "start", "end"),
    [
        ("bytes=10-19", 10, 20),
        ("bytes=0-0", 0, 1),
        (f"bytes={MIB - 3}-{MIB + 3}", MIB - 3, MIB + 4),  # across a chunk boundary
        (f"bytes={SIZE - 5}-", SIZE - 5, SIZE),
        ("bytes=-7", SIZE - 7, SIZE),
        (f"bytes=-{SIZE + 10}", 0, SIZE),  # a suffix longer than the blob is all of it
        (f"bytes=5-{SIZE * 2}", 5, SIZE),  # an end past the blob is clipped
        (f"bytes={SIZE - 1}-{SIZE - 1}", SIZE - 1, SIZE),  # the last byte
        (" BYTES = 3 - 4 ", 3, 5),
    ],
)
def test_one_range_is_206_with_its_part(client: tuple[TestClient, str], asked: str, start: int, end: int) -> None:
    http, sha = client
    answer = http.get(f"/b/{sha}", headers={"Range": asked})
    assert answer.status_code == 206, answer.text
    assert answer.content == DATA[start:end]
    assert answer.headers["content-range"] == f"bytes {start}-{end - 1}/{SIZE}"
    assert answer.headers["content-length"] == str(end - start)
    assert answer.headers["etag"] == f'"{sha}"'


@pytest.mark.parametrize("asked", [f"bytes={SIZE}-", f"bytes={SIZE}-{SIZE + 5}", "bytes=-0"])
def test_a_range_past_the_end_is_416_with_the_size(client: tuple[TestClient, str], asked: str) -> None:
    http, sha = client
    answer = http.get(f"/b/{sha}", headers={"Range": asked})
    assert answer.status_code == 416 and f"{SIZE} bytes" in answer.json()["detail"]
    assert answer.headers["content-range"] == f"bytes */{SIZE}"


@pytest.mark.parametrize("asked", ["bytes=0-1,5-9", "bytes=9-5", "items=0-5", "bytes=-", "bytes=a-b", "bytes 0-5"])
def test_ranges_not_served_as_one_part_get_the_whole_blob(client: tuple[TestClient, str], asked: str) -> None:
    """Several ranges, and headers that are no bytes range, are ignored (RFC 9110 14.2): 200 and all."""
    http, sha = client
    answer = http.get(f"/b/{sha}", headers={"Range": asked})
    assert answer.status_code == 200 and answer.content == DATA
    assert "content-range" not in answer.headers


def test_revalidation_by_etag(client: tuple[TestClient, str]) -> None:
    http, sha = client
    for tag in (f'"{sha}"', f'W/"{sha}"', "*", f'"other", "{sha}"'):
        answer = http.get(f"/b/{sha}", headers={"If-None-Match": tag})
        assert answer.status_code == 304 and answer.content == b"", tag
        assert answer.headers["etag"] == f'"{sha}"' and answer.headers["cache-control"].startswith("private")
    assert http.get(f"/b/{sha}", headers={"If-None-Match": '"other"'}).status_code == 200
    kept = http.get(f"/b/{sha}", headers={"Range": "bytes=0-9", "If-Range": f'"{sha}"'})
    assert kept.status_code == 206 and kept.content == DATA[:10]
    for stale in ('"other"', f'W/"{sha}"', "Wed, 21 Oct 2015 07:28:00 GMT"):
        whole = http.get(f"/b/{sha}", headers={"Range": "bytes=0-9", "If-Range": stale})
        assert whole.status_code == 200 and whole.content == DATA, stale


def test_attachments_and_missing_blobs(client: tuple[TestClient, str], store: BlobStore) -> None:
    http, sha = client
    plain = http.get(f"/b/{sha}", params={"name": "report 2024.txt"}, headers={"Range": "bytes=0-3"})
    assert plain.status_code == 206
    assert plain.headers["content-disposition"] == 'attachment; filename="report 2024.txt"'
    odd = http.get(f"/b/{sha}", params={"name": 'été "quoted".txt'})
    assert odd.headers["content-disposition"] == (
        "attachment; filename=\"_t_ _quoted_.txt\"; filename*=UTF-8''%C3%A9t%C3%A9%20%22quoted%22.txt"
    )
    assert http.get("/b/" + "0" * 64).status_code == 404
    empty = store.put_bytes(b"")
    assert http.get(f"/b/{empty}").content == b""
    assert http.get(f"/b/{empty}", headers={"Range": "bytes=0-"}).headers["content-range"] == "bytes */0"


def test_range_parsing_at_its_edges() -> None:
    assert parse_range("bytes=0-", 1) == ByteRange(0, 1)
    assert parse_range("bytes=-1", 1) == ByteRange(0, 1)
    assert parse_range("bytes=0-0", 1).content_range(1) == "bytes 0-0/1"  # type: ignore[union-attr]
    for unsatisfiable in ("bytes=1-", "bytes=-0"):
        with pytest.raises(RangeNotSatisfiable):
            parse_range(unsatisfiable, 1)
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=-5", 0)
    assert parse_range("bytes=1-0", 10) is None
    assert none_match('W/"a", "b"', '"b"') and not none_match('"ab"', '"b"') and not none_match("", '"b"')
    assert content_disposition("\r\n") == "attachment; filename=\"__\"; filename*=UTF-8''%0D%0A"


# -- GET /blobs/{sha256} of `mediasift serve`, a real process -----------------------------------------

BIG = 60 * MIB
CLIENTS = 4


def _status(pid: int) -> dict[str, int]:
    """The memory lines of /proc/PID/status, in bytes."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: int(v.split()[0]) * 1024 for k, v in (line.split(":", 1) for line in lines) if v.strip().endswith("kB")}


def _download(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, int]:
    """GET ``url`` read 64 KiB at a time, a little slower than the loopback could: (status, sha256, bytes)."""
    digest, size = hashlib.sha256(), 0
    with httpx.stream("GET", url, headers=headers, timeout=60) as answer:
        for chunk in answer.iter_raw(64 * 1024):
            digest.update(chunk)
            size += len(chunk)
            time.sleep(0.0005)
        return answer.status_code, digest.hexdigest(), size


@pytest.fixture
def big_blob(settings: Settings, tmp_path: Path) -> str:
    """A 60 MB blob in the settings' store: the original of a video of tenant alpha."""
    source = tmp_path / "big.bin"
    with source.open("wb") as out:
        for _ in range(BIG // MIB):
            out.write(os.urandom(MIB))
    system = Mediasift(settings)
    try:
        sha, size = system.blobs.put_file(source)
        with system.db.transaction() as conn:
            asset_repo.register_asset(
                conn, tenant="alpha", sha256=sha, media_type="video", mime="video/mp4", size_bytes=size, metadata={}
            )
    finally:
        system.close()
    source.unlink()
    return sha


@pytest.mark.slow
def test_served_blobs_stream_to_parallel_clients_in_bounded_memory(
    settings: Settings, keys: Keys, big_blob: str
) -> None:
    key = bearer(keys.read)
    with serving(settings) as server:
        url = f"{server.base}/v1/blobs/{big_blob}"
        part = httpx.get(url, headers={**key, "Range": "bytes=1000-1999"}, timeout=30)
        assert part.status_code == 206 and len(part.content) == 1000, part.text
        assert part.headers["content-disposition"] == f'attachment; filename="{big_blob[:16]}.mp4"', "saved as a video"
        assert part.headers["content-range"] == f"bytes 1000-1999/{BIG}" and part.headers["content-type"] == "video/mp4"
        assert httpx.get(url, headers={**key, "If-None-Match": f'"{big_blob}"'}, timeout=30).status_code == 304
        assert _download(url, key) == (200, big_blob, BIG)  # warm: every code path and pool thread in place

        before = _status(server.pid)["VmRSS"]
        Path(f"/proc/{server.pid}/clear_refs").write_text("5")  # VmHWM from now on
        results: list[tuple[int, str, int]] = []
        clients = [threading.Thread(target=lambda: results.append(_download(url, key))) for _ in range(CLIENTS)]
        started = time.monotonic()
        for client in clients:
            client.start()
        for client in clients:
            client.join(timeout=120)
        took = time.monotonic() - started
        peak = _status(server.pid)["VmHWM"]
    assert results == [(200, big_blob, BIG)] * CLIENTS
    grew = peak - before
    print(f"{CLIENTS} x {BIG // MIB} MiB in {took:.2f} s: RSS {before / MIB:.0f} MiB, peak +{grew / MIB:.1f} MiB")
    assert grew < BIG, f"the server's memory grew by {grew / MIB:.0f} MiB serving {CLIENTS} x {BIG / MIB:.0f} MiB"
