"""Results put in the database as an operator run would leave them, without running the operator:
for tests that need results with chosen values (a vector at a known cosine, a confidence at a known
time) and then go through the code users call (similarity, search, the drift report).

Everything is written by the repository functions the pipeline itself writes with
(:func:`mediasift.db.assets.register_asset`, :func:`mediasift.db.results.replace_results`).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import numpy as np
import numpy.typing as npt

from mediasift.db import assets as asset_repo
from mediasift.db import results as result_repo
from mediasift.records import EmbeddingOut, ModelRef, OperatorResult, SegmentOut


def unit(vector: npt.ArrayLike) -> npt.NDArray[np.float64]:
    array = np.asarray(vector, dtype=np.float64)
    return array / np.linalg.norm(array)


def at_cosine(base: npt.ArrayLike, cosine: float, seed: int) -> npt.NDArray[np.float32]:
    """A unit vector whose cosine with ``base`` is ``cosine``: ``base`` turned by ``acos(cosine)``
    towards a random direction orthogonal to it."""
    b = unit(base)
    other = np.random.default_rng(seed).normal(size=b.size)
    other = unit(other - (other @ b) * b)
    return (cosine * b + np.sqrt(1.0 - cosine**2) * other).astype(np.float32)


def flip_bits(phash: str, bits: int) -> str:
    """A 64-bit hex hash ``bits`` bits (the lowest ones) away from ``phash``."""
    return f"{int(phash, 16) ^ ((1 << bits) - 1):016x}"


def add_asset(conn: Any, name: str, media_type: str, *, tenant: str = "default") -> UUID:
    """A new asset of ``tenant`` (its bytes stand in by its name) with ``name`` as its source path."""
    sha = hashlib.sha256(name.encode()).hexdigest()
    asset_id, created = asset_repo.register_asset(
        conn,
        tenant=tenant,
        sha256=sha,
        media_type=media_type,
        mime="application/octet-stream",
        size_bytes=1,
        metadata={},
    )
    assert created, name
    asset_repo.add_source(conn, asset_id, name)
    return asset_id


def add_run(
    conn: Any, asset_id: UUID, operator: str, result: OperatorResult, *, finished: datetime | None = None
) -> None:
    """``result`` stored as ``operator``'s run on the asset, finished at ``finished`` (default now)."""
    finished = finished or datetime.now(UTC)
    run = result_repo.RunRecord(
        asset_id=asset_id, operator=operator, operator_version="1", params={}, params_hash="0",
        model=None, model_version=None, started_at=finished - timedelta(seconds=1), finished_at=finished,
        duration_ms=1000.0,
    )  # fmt: skip
    result_repo.replace_results(conn, run, result, [])


def add_text_chunks(conn: Any, asset_id: UUID, ref: ModelRef, chunks: list[tuple[str, Any]]) -> None:
    """Text chunks of the asset (one second each, in order) with the vectors of their text, stored as
    the pipeline stores them: a ``text_chunks`` run, then ``embed_text``'s vectors of its segments."""
    segments = [
        SegmentOut(kind="text_chunk", key=f"c{i}", start=float(i), end=float(i + 1), text=text)
        for i, (text, _) in enumerate(chunks)
    ]
    add_run(conn, asset_id, "text_chunks", OperatorResult(segments=segments))
    ids = {seg.key: seg.id for seg in result_repo.read_segments(conn, asset_id, operator="text_chunks")}
    vectors = [EmbeddingOut(segment_id=ids[f"c{i}"], model=ref, vector=v) for i, (_, v) in enumerate(chunks)]
    add_run(conn, asset_id, "embed_text", OperatorResult(embeddings=vectors))
