"""Models mediasift builds from the files an installed package ships (the object detector's ONNX graph,
rebuilt from a TensorFlow graph), kept on disk so that a new process reads them instead of building
them again.

They live in a folder of the user's cache (``Settings.built_models_dir``), not in a data directory:
they depend only on the package files and the code that built them, so every data directory and
process of the user shares them. An entry is named by a digest of what it was built
from (the source files' paths, sizes and modification times, and a version the builder gives), written
to a temporary folder and renamed into place, so a reader sees a whole entry or none. Nothing here is
trusted beyond its bytes: a caller that cannot use an entry builds the model again and replaces it.
A cache that cannot be written (a read-only home) only costs the build.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


def entry_name(kind: str, version: str, sources: Sequence[Path]) -> str:
    """The entry of ``kind`` built by ``version`` of its builder from ``sources``."""
    digest = hashlib.sha256(f"{kind}\0{version}".encode())
    for source in sources:
        stat = source.stat()
        digest.update(f"\0{source.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return f"{kind}-{digest.hexdigest()[:32]}"


def read(root: Path, name: str) -> Path | None:
    """The folder of entry ``name`` in the cache ``root``, if it is there."""
    folder = root / name
    return folder if folder.is_dir() else None


def opened(root: Path | None, name: str, open_entry: Callable[[Path], T]) -> T | None:
    """``open_entry(folder)`` of entry ``name`` in the cache ``root``; None where there is no cache, no
    such entry, or one that does not open (a damaged entry, whatever it raises: the caller builds the
    model again and replaces it)."""
    folder = None if root is None else read(root, name)
    if folder is None:
        return None
    try:
        return open_entry(folder)
    except Exception as exc:
        log.warning("the cached model in %s does not load (%s); building it again", folder, exc)
        return None


def write(root: Path, name: str, fill: Callable[[Path], None]) -> None:
    """Make entry ``name`` in the cache ``root`` with ``fill(folder)``, replacing any there; a failure
    to write is logged."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    except OSError as exc:
        log.info("built models are not cached (%s): %s", root, exc)
        return
    try:
        fill(staging)
        target = root / name
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
    except OSError as exc:
        log.info("could not cache the built model %s: %s", name, exc)
        shutil.rmtree(staging, ignore_errors=True)


def built(root: Path | None, name: str, fill: Callable[[Path], None], open_entry: Callable[[Path], T]) -> T:
    """``open_entry`` of entry ``name`` of the cache ``root``; where it is not there or does not open,
    built with ``fill(folder)`` and kept there first where the cache can be written, else built in a
    temporary folder, opened from there and not kept (what is opened must not need its files afterwards)."""
    kept = opened(root, name, open_entry)
    if kept is not None:
        return kept
    if root is not None:
        write(root, name, fill)
        kept = opened(root, name, open_entry)
        if kept is not None:
            return kept
    with tempfile.TemporaryDirectory(prefix=f"mediasift-{name}-") as scratch:
        fill(Path(scratch))
        return open_entry(Path(scratch))
