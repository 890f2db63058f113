"""The operator contract: a small, versioned step that turns an asset into segments and artifacts.

An operator never writes to the database itself. It returns an ``OperatorResult``
(:mod:`mediasift.records`) and the runner replaces everything that operator produced for the asset
before, in one transaction, so running an operator twice leaves exactly one set of results
(idempotent by lineage identity).

An operator names what it reads in two ways: the operators it requires by name, and the kinds of
output it consumes (``consumes``), which the pipeline resolves to every operator of the media type
that ``produces`` them. The text-embedding step consumes "text", so a plugin that produces text is
embedded, and embedded again when it changes, like the shipped operators.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

from mediasift.config import Settings
from mediasift.inference.catalog import Role, model_ref
from mediasift.inference.door import Inference
from mediasift.mediatype import MediaType
from mediasift.records import ModelRef, OperatorResult, StoredSegment

TEXT = "text"  # what an operator produces when its segments carry searchable text


@dataclass(frozen=True)
class AssetView:
    id: UUID
    media_type: MediaType
    mime: str
    sha256: str
    metadata: Mapping[str, Any]


@dataclass
class OperatorContext:
    """What an operator may read: the asset, its bytes, its parameters, its dependencies' output; and
    the door to the models (``inference``)."""

    asset: AssetView
    settings: Settings
    inference: Inference
    params: Mapping[str, Any]
    media_path: Path
    read_segments: Callable[..., list[StoredSegment]]
    read_blob: Callable[[str], bytes]
    put_blob: Callable[[bytes, str], str]
    put_file: Callable[[Path, str], str]  # a file stored without being read into memory (a video's copy)

    def segments(self, *, operator: str | None = None, kind: str | None = None) -> list[StoredSegment]:
        """Stored segments of this asset, optionally of one producing operator or kind."""
        return self.read_segments(operator=operator, kind=kind)


class Operator(ABC):
    """One concern, one version. Bump ``version`` whenever the output would change."""

    name: ClassVar[str]
    version: ClassVar[str]
    media_types: ClassVar[frozenset[MediaType]]
    produces: ClassVar[frozenset[str]] = frozenset()  # kinds of output others may consume, e.g. TEXT
    consumes: ClassVar[frozenset[str]] = frozenset()  # read every operator's output of these kinds
    role: ClassVar[Role | None] = None  # the model it runs, as the settings' catalog declares it

    def requires(self, media_type: MediaType) -> tuple[str, ...]:
        """Names of the operators whose results this one reads, for this media type."""
        return ()

    def model(self, settings: Settings) -> ModelRef | None:
        """The model these settings run for this operator (its lineage, and the key of its circuit
        breaker): its ``role``'s, or None when it runs none."""
        return None if self.role is None else model_ref(settings, self.role)

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
