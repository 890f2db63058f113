"""What operators produce and the pipeline stores: segments (time ranges and regions of an asset,
with their text and vectors), artifacts (derived results), embeddings of other operators' segments,
a segment as stored, read back by the operators that depend on it, and the model reference each
result's lineage names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True)
class ModelRef:
    """The identity a result's lineage records: which model (``id``) and which version of it (its
    weights, and whatever else changes its output)."""

    id: str
    version: str


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
class FaceOut:
    """One face of a segment of the same result (``segment_key``), ``index`` its place among that
    segment's faces, with its embedding: what people are grouped from."""

    segment_key: str
    index: int
    box: tuple[int, int, int, int]  # x, y, w, h in the picture's pixels
    confidence: float
    model: ModelRef
    vector: np.ndarray


@dataclass
class OperatorResult:
    segments: list[SegmentOut] = field(default_factory=list)
    artifacts: list[ArtifactOut] = field(default_factory=list)
    embeddings: list[EmbeddingOut] = field(default_factory=list)
    faces: list[FaceOut] = field(default_factory=list)
    cost: float = 0.0
