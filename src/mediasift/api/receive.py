"""Bytes that arrive over HTTP, written to a private file before ingest: an upload, or a download
from a URL. Both are cut off at ``max_file_bytes``; a download goes through :mod:`mediasift.net.fetch`
(public addresses only unless ``url_fetch_private`` is set, a deadline and a minimum rate), so the API
cannot be used to read services behind the firewall or to hold its threads."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from mediasift.config import Settings
from mediasift.net import fetch
from mediasift.net.errors import Unacceptable, too_large

__all__ = ["Unacceptable", "copy_limited", "download", "landing", "safe_name", "save_stream"]

CHUNK = 1024 * 1024


def safe_name(name: str | None, fallback: str) -> str:
    """A file name to keep: the last path component, without control characters, at most 200 bytes."""
    base = re.sub(r"[\x00-\x1f\x7f]", "", (name or "").replace("\\", "/").rsplit("/", 1)[-1]).strip()
    if base in ("", ".", ".."):
        return fallback
    return base.encode()[:200].decode(errors="ignore") or fallback


@contextmanager
def landing(settings: Settings) -> Iterator[Path]:
    """A private folder for received bytes under ``home/uploads``, removed afterwards (ingest has
    copied what it keeps into the blob store by then)."""
    root = settings.home / "uploads"
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=root))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def copy_limited(source: BinaryIO, target: Path, limit: int) -> int:
    """Copy ``source`` to ``target``; over ``limit`` bytes raises :class:`Unacceptable` (413)."""
    written = 0
    with target.open("wb") as out:
        while chunk := source.read(CHUNK):
            written += len(chunk)
            if written > limit:
                raise too_large(limit)
            out.write(chunk)
    return written


async def save_stream(chunks: AsyncIterator[bytes], target: Path, limit: int) -> int:
    """Write a request body to ``target`` as it arrives, stopping at ``limit`` bytes (413)."""
    written = 0
    with target.open("wb") as out:
        async for chunk in chunks:
            written += len(chunk)
            if written > limit:
                raise too_large(limit)
            out.write(chunk)
    return written


def download(url: str, settings: Settings, folder: Path) -> tuple[Path, str]:
    """Fetch ``url`` into ``folder`` under the name its server suggests, made safe. Returns the file
    and the URL it finally came from."""
    part = folder / ".download"
    fetched = fetch.download(url, settings, part)
    path = folder / safe_name(fetched.name, "download")
    part.rename(path)
    return path, fetched.url
