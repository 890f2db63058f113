"""Registering files as assets: probe first, then store bytes and record, so a refusal leaves nothing."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from mediasift.access import DEFAULT_TENANT
from mediasift.blobs import BlobStore
from mediasift.config import Settings
from mediasift.db import assets as asset_repo
from mediasift.db import erasure
from mediasift.db import keys as key_repo
from mediasift.db.connection import Database
from mediasift.ingest.probe import Probe, Rejected, probe_file
from mediasift.ingest.probe_text import LanguageOf

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Accepted:
    path: str
    asset_id: UUID
    media_type: str
    duplicate: bool


@dataclass(frozen=True)
class Refused:
    path: str
    reason: str


def shown_path(path: Path) -> str:
    """``path`` as text that a database row, JSON and a terminal can hold: the bytes of a name that
    are not UTF-8 (a file named on a system with another encoding) written as ``\\xNN``."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace")
    return text


def expand_paths(paths: Iterable[Path]) -> Iterator[Path]:
    """Files named, and every file under directories named (recursively, in a stable order), but for
    hidden ones (named with a leading dot: ``.git``, ``.DS_Store``, macOS's ``._`` copies) inside them.
    A symbolic link to a folder is followed (a library of links to other disks), each folder read once:
    a link back to a folder already being read (a loop) is yielded itself, and refused as such."""
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        read = {os.path.realpath(path)}
        for root, dirs, files in os.walk(path, followlinks=True):
            dirs[:] = sorted(name for name in dirs if not name.startswith("."))
            for name in list(dirs):
                real = os.path.realpath(os.path.join(root, name))
                if real in read:
                    dirs.remove(name)
                    yield Path(root) / name
                read.add(real)
            for name in sorted(files):
                if not name.startswith("."):
                    yield Path(root) / name


@dataclass
class Ingestor:
    """Registers files as assets of ``tenant``: probed (a text's language told by ``language_of``),
    stored, recorded as done by ``actor`` in the audit trail."""

    db: Database
    settings: Settings
    blobs: BlobStore
    language_of: LanguageOf
    actor: str = "ingest"
    tenant: str = DEFAULT_TENANT

    def ingest_file(self, path: Path, source: str | None = None) -> Accepted | Refused:
        """Register the file at ``path``, recorded as coming from ``source`` (default: its absolute
        path; an upload or a download names where it really came from)."""
        source = source or shown_path(path.absolute())
        if not path.is_file():
            if path.is_symlink() and not path.exists():
                reason = "a symbolic link to nothing (its target is missing, or it points back at itself)"
            elif path.is_dir():
                reason = "a folder already read through another path (a loop of symbolic links, or a second link to it)"
            else:
                reason = "no such file" if not path.exists() else "not a regular file"
            return Refused(source, reason)
        try:
            probe = probe_file(path, self.settings, self.language_of)
        except Rejected as exc:
            return Refused(source, str(exc))
        except OSError as exc:
            return Refused(source, f"cannot read file: {exc.strerror or exc}")
        sha256, size = self.blobs.put_file(path)
        try:
            return self._record(path, source, probe, sha256, size)
        except Exception:
            # Nothing records the bytes just stored (unless another asset has them): they go too.
            try:
                erasure.remove_unreferenced_bytes(self.db, [sha256], self.blobs.delete)
            except Exception:
                log.warning("the bytes of %s (%s) stay stored: removing them failed", source, sha256, exc_info=True)
            raise

    def _record(self, path: Path, source: str, probe: Probe, sha256: str, size: int) -> Accepted:
        with self.db.transaction() as conn:
            asset_repo.set_actor(conn, self.actor)
            # A deletion of another asset over these bytes may have removed them since they were
            # stored; under the digest's lock that is settled (see db/erasure.py).
            erasure.lock_blobs(conn, [sha256])
            if erasure.missing_blob_rows(conn, [sha256]) and not self.blobs.exists(sha256):
                self.blobs.put_file(path)
            key_repo.ensure_tenant(conn, self.tenant)
            asset_id, created = asset_repo.register_asset(
                conn,
                tenant=self.tenant,
                sha256=sha256,
                media_type=probe.media_type.value,
                mime=probe.mime,
                size_bytes=size,
                metadata=probe.metadata,
            )
            asset_repo.add_source(conn, asset_id, source)
        return Accepted(source, asset_id, probe.media_type.value, duplicate=not created)
