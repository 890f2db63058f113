"""Bytes that arrive over HTTP, written to a private file before ingest: an upload, or a download
from a URL. Both are cut off at ``max_file_bytes``; a download only goes to public addresses unless
``url_fetch_private`` is set, so the API cannot be used to read services behind the firewall."""

from __future__ import annotations

import ipaddress
import re
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

import httpx

from mediasift.config import Settings

CHUNK = 1024 * 1024


class Unacceptable(ValueError):
    """What was sent or pointed at cannot be taken; the message says why, for a person.
    ``status`` is the HTTP status that fits (413 too large, 422 otherwise)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


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


def _too_large(limit: int) -> Unacceptable:
    return Unacceptable(f"larger than the limit of {limit:,} bytes (MEDIASIFT_MAX_FILE_BYTES)", status=413)


def copy_limited(source: BinaryIO, target: Path, limit: int) -> int:
    """Copy ``source`` to ``target``; over ``limit`` bytes raises :class:`Unacceptable` (413)."""
    written = 0
    with target.open("wb") as out:
        while chunk := source.read(CHUNK):
            written += len(chunk)
            if written > limit:
                raise _too_large(limit)
            out.write(chunk)
    return written


async def save_stream(chunks: AsyncIterator[bytes], target: Path, limit: int) -> int:
    """Write a request body to ``target`` as it arrives, stopping at ``limit`` bytes (413)."""
    written = 0
    with target.open("wb") as out:
        async for chunk in chunks:
            written += len(chunk)
            if written > limit:
                raise _too_large(limit)
            out.write(chunk)
    return written


def check_public(host: str, port: int) -> None:
    """Refuse a host that resolves to an address that is not public: loopback, private, link-local
    (cloud metadata at 169.254.169.254), multicast, reserved or unspecified."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Unacceptable(f"cannot resolve host {host!r}: {exc.strerror}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global or address.is_multicast:
            raise Unacceptable(
                f"{host} resolves to {address}, which is not a public address (MEDIASIFT_URL_FETCH_PRIVATE=1 allows it)"
            )


def download(url: str, settings: Settings, target_dir: Path) -> tuple[Path, str]:
    """Fetch ``url`` (http or https, redirects followed and each hop checked) into ``target_dir``.
    Returns the file and the URL it finally came from."""
    limit = settings.max_file_bytes
    timeout = httpx.Timeout(settings.url_fetch_timeout_s)
    with httpx.Client(follow_redirects=False, timeout=timeout) as client:
        for _ in range(settings.url_fetch_max_redirects + 1):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise Unacceptable(f"not an http or https URL: {url!r}")
            try:
                port = parts.port or (443 if parts.scheme == "https" else 80)
            except ValueError:  # urlsplit reads the port only when asked, and refuses one out of range
                raise Unacceptable(f"not a valid port in {url!r}") from None
            trusted = parts.hostname.lower().rstrip(".") in settings.url_fetch_trusted
            if not settings.url_fetch_private and not trusted:
                check_public(parts.hostname, port)
            try:
                with client.stream("GET", url) as response:
                    if response.is_redirect and "location" in response.headers:
                        url = str(response.url.join(response.headers["location"]))
                        continue
                    if response.status_code != 200:
                        raise Unacceptable(f"{url} answered HTTP {response.status_code} {response.reason_phrase}")
                    declared = response.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > limit:
                        raise _too_large(limit)
                    target = target_dir / _download_name(response, parts.path)
                    written = 0
                    with target.open("wb") as out:
                        for chunk in response.iter_bytes(CHUNK):
                            written += len(chunk)
                            if written > limit:
                                raise _too_large(limit)
                            out.write(chunk)
                    return target, url
            except httpx.HTTPError as exc:
                raise Unacceptable(f"cannot fetch {url}: {exc.__class__.__name__}: {exc}") from None
    raise Unacceptable(f"more than {settings.url_fetch_max_redirects} redirects from {url}")


def _download_name(response: httpx.Response, path: str) -> str:
    disposition = response.headers.get("content-disposition", "")
    match = re.search(r"filename\*?=(?:UTF-8'')?\"?([^\";]+)", disposition, flags=re.IGNORECASE)
    return safe_name(unquote(match.group(1)) if match else unquote(path), "download")
