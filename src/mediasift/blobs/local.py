"""Blobs as files in a directory tree: ``ab/cd/abcd…`` by sha256."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Generator
from pathlib import Path

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1024 * 1024


def sha256_of_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise ValueError(f"not a sha256 digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def _commit(self, temp: Path, sha256: str) -> None:
        """Move a fully written temp file into place; a concurrent writer of the same bytes is harmless."""
        final = self._path(sha256)
        if final.exists():
            temp.unlink(missing_ok=True)
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp, final)

    def _temp(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        os.close(handle)
        return Path(name)

    def put_file(self, path: Path) -> tuple[str, int]:
        """Hash first, so bytes already stored are never copied again; then copy and re-check."""
        expected, size = sha256_of_file(path)
        if self.exists(expected):
            return expected, size
        temp = self._temp()
        digest = hashlib.sha256()
        size = 0
        try:
            with path.open("rb") as source, temp.open("wb") as target:
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    target.write(chunk)
            sha256 = digest.hexdigest()
            if sha256 != expected:
                raise OSError(f"{path} changed while it was being stored")
            self._commit(temp, sha256)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return sha256, size

    def put_bytes(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        if self.exists(sha256):
            return sha256
        temp = self._temp()
        try:
            temp.write_bytes(data)
            self._commit(temp, sha256)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return sha256

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).is_file()

    def local_path(self, sha256: str) -> Path:
        path = self._path(sha256)
        if not path.is_file():
            raise FileNotFoundError(f"blob {sha256} is missing from {self.root}")
        return path

    def read_bytes(self, sha256: str) -> bytes:
        return self.local_path(sha256).read_bytes()

    def size(self, sha256: str) -> int:
        try:
            return self._path(sha256).stat().st_size
        except FileNotFoundError:
            raise FileNotFoundError(f"blob {sha256} is missing from {self.root}") from None

    def open_range(self, sha256: str, start: int, end: int) -> Generator[bytes, None, None]:
        with self.local_path(sha256).open("rb") as handle:
            handle.seek(start)
            left = end - start
            while left > 0 and (chunk := handle.read(min(_CHUNK, left))):
                left -= len(chunk)
                yield chunk

    def delete(self, sha256: str) -> None:
        self._path(sha256).unlink(missing_ok=True)
