"""An operator's context without a database: its segments and blobs held in memory, its models reached
through an inference door (:class:`mediasift.inference.door.Inference`)."""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from uuid import uuid4

from mediasift.inference.door import Inference
from mediasift.mediatype import MediaType
from mediasift.pipeline.operator import AssetView, OperatorContext
from mediasift.records import StoredSegment


def memory_context(
    door: Inference,
    path: Path,
    media_type: MediaType,
    *,
    metadata: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    segments: list[StoredSegment] | None = None,
    blobs: dict[str, bytes] | None = None,
) -> OperatorContext:
    """The context of an operator run on ``path`` with ``door``'s settings. ``segments`` (read as they
    are when the operator asks, so a caller may add to the list between runs) and ``blobs`` stand in
    for what earlier operators stored; blobs the operator puts are added to ``blobs``. The asset's type
    is told from ``path``'s suffix, as ingest would tell it from the bytes."""
    stored = segments if segments is not None else []
    held = blobs if blobs is not None else {}

    def read_segments(*, operator: str | None = None, kind: str | None = None) -> list[StoredSegment]:
        return [s for s in stored if operator in (None, s.operator) and kind in (None, s.kind)]

    def put_blob(data: bytes, mime: str) -> str:
        held[sha := hashlib.sha256(data).hexdigest()] = data
        return sha

    return OperatorContext(
        asset=AssetView(uuid4(), media_type, mimetypes.guess_type(path)[0] or "", "", dict(metadata or {})),
        settings=door.settings,
        inference=door,
        params=dict(params or {}),
        media_path=path,
        read_segments=read_segments,
        read_blob=held.__getitem__,
        put_blob=put_blob,
        put_file=lambda path, mime: put_blob(path.read_bytes(), mime),
    )
