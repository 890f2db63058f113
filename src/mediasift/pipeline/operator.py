"""The operator contract: a small, versioned step that turns an asset into segments and artifacts.

An operator never writes to the database itself. It returns an ``OperatorResult`` and the runner
replaces everything that operator produced for the asset before, in one transaction, so running an
operator twice leaves exactly one set of results (idempotent by lineage identity).
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

import numpy as np

from mediasift.config import Settings
from mediasift.mediatype import MediaType
from mediasift.models import ModelRef


@dataclass(frozen=True)
class AssetView:
    id: UUID
    media_type: MediaType
    mime: str
    sha256: str
    metadata: Mapping[str, Any]


@dataclass(frozen=True)
class StoredSegment:
    """A segment as stored, as dependents of the operator that produced it see it."""

    id: int
    operator: str
    kind: str
    key: str
    start: float | None
    end: float | None
    region: Mapping[str, Any] | None
    text: str | None
    confidence: float | None
    data: Mapping[str, Any]


@dataclass
class SegmentOut:
    """A time range and/or region of the asset. ``key`` is unique among one operator's segments.

    ``vectors`` holds embeddings of this segment computed by the operator itself (for example a
    visual feature vector), keyed by the model that made them.
    """

    kind: str
    key: str
    start: float | None = None
    end: float | None = None
    region: dict[str, Any] | None = None
    text: str | None = None
    confidence: float | None = None
    data: dict[str, Any] = field(default_factory=dict)
    vectors: dict[ModelRef, np.ndarray] = field(default_factory=dict)


@dataclass
class ArtifactOut:
    """A derived result. ``blob_sha256`` names derived media stored with ``ctx.put_blob``;
    ``segment_key`` ties the artifact to a segment of the same result."""

    kind: str
    key: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    blob_sha256: str | None = None
    confidence: float | None = None
    segment_key: str | None = None


@dataclass
class EmbeddingOut:
    """A vector for a segment that another operator produced (the text-embedding step)."""

    segment_id: int
    model: ModelRef
    vector: np.ndarray


@dataclass
class OperatorResult:
    segments: list[SegmentOut] = field(default_factory=list)
    artifacts: list[ArtifactOut] = field(default_factory=list)
    embeddings: list[EmbeddingOut] = field(default_factory=list)
    cost: float = 0.0


@dataclass
class OperatorContext:
    """What an operator may read: the asset, its bytes, its parameters, its dependencies' output."""

    asset: AssetView
    settings: Settings
    params: Mapping[str, Any]
    media_path: Path
    read_segments: Callable[..., list[StoredSegment]]
    read_blob: Callable[[str], bytes]
    put_blob: Callable[[bytes, str], str]

    def segments(self, *, operator: str | None = None, kind: str | None = None) -> list[StoredSegment]:
        """Stored segments of this asset, optionally of one producing operator or kind."""
        return self.read_segments(operator=operator, kind=kind)


class Operator(ABC):
    """One concern, one version. Bump ``version`` whenever the output would change."""

    name: ClassVar[str]
    version: ClassVar[str]
    media_types: ClassVar[frozenset[MediaType]]
    model: ClassVar[ModelRef | None] = None

    def requires(self, media_type: MediaType) -> tuple[str, ...]:
        """Names of the operators whose results this one reads, for this media type."""
        return ()

    def params(self, settings: Settings) -> dict[str, Any]:
        """The settings that change this operator's output; part of its lineage."""
        return {}

    def applies(self, asset: AssetView) -> bool:
        """Whether this operator has anything to do for this asset (a silent video has no speech)."""
        return asset.media_type in self.media_types

    def enabled(self, settings: Settings) -> bool:
        """Whether the settings switch this operator on (one that needs a configured service is off
        without it); a disabled operator is left out of every asset's jobs."""
        return True

    @abstractmethod
    def run(self, ctx: OperatorContext) -> OperatorResult: ...


def params_hash(params: Mapping[str, Any]) -> str:
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
