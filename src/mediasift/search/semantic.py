"""Semantic search: a query embedded with the text model (the configured tier), matched against
every text segment, and, when a CLIP model is configured, against every picture's CLIP vector too."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any
from uuid import UUID

from mediasift.db import search as search_repo
from mediasift.db.connection import Database
from mediasift.inference.text import text_model
from mediasift.models.clip import ClipModel, declare_clip

SNIPPET_CHARS = 240
RRF_K = 60  # the usual reciprocal-rank-fusion constant: damps the weight of the very top ranks
# Nearest neighbours are found however unrelated, and fusion weighs a rank the same whatever its
# similarity, so each ranking is cut at a floor first. MiniLM cosines measured here: unrelated
# pairs 0.0-0.28 ("someone talks about the budget" / "refrigerator" 0.25), related ones 0.4 and up.
TEXT_FUSION_FLOOR = 0.3

MomentKey = tuple[UUID, float | None, float | None]


@dataclass(frozen=True)
class Hit:
    """One moment found. ``score`` is the cosine similarity of its best segment, or, when CLIP
    vectors were searched too, the reciprocal-rank-fusion score (at most 2 / 61)."""

    asset_id: UUID
    media_type: str
    source_path: str | None
    start: float | None
    end: float | None
    score: float
    snippet: str
    kind: str

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["asset_id"] = str(self.asset_id)
        return out


def snippet(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1].rsplit(" ", 1)[0] + "…"


def search(db: Database, query: str, *, limit: int = 10, media_type: str | None = None) -> list[Hit]:
    """Best moments first: one hit per asset and time window (the best of its segments).

    With a CLIP model configured (``MEDIASIFT_CLIP_DIR``), the query is also embedded by its text
    tower and matched against the pictures' CLIP vectors, and the two rankings are merged by
    reciprocal rank fusion (:func:`fuse`), each first cut at its similarity floor. Without one,
    this is text-embedding search alone, as it always was.
    """
    text_handle = text_model(db.settings)  # the tier the segments were embedded with
    vector = text_handle.get().embed([query])[0]
    clip = declare_clip(db.settings)
    model: ClipModel | None = None if clip is None else clip.get()
    clip_vector = None if model is None else model.embed_texts([query])[0]
    picture_rows: list[dict[str, Any]] = []
    with db.transaction() as conn:
        rows = search_repo.nearest_segments(conn, text_handle.spec.id, vector, limit=limit * 4, media_type=media_type)
        if model is not None and clip_vector is not None:
            picture_rows = search_repo.nearest_segments(
                conn, model.ref.id, clip_vector, limit=limit * 4, media_type=media_type, model_version=model.ref.version
            )
    text_hits = moments(rows)
    if model is None:
        return text_hits[:limit]
    return fuse(
        [
            [hit for hit in text_hits if hit.score >= TEXT_FUSION_FLOOR],
            [hit for hit in moments(picture_rows) if hit.score >= model.config.min_similarity],
        ]
    )[:limit]


def moments(rows: list[dict[str, Any]]) -> list[Hit]:
    """Rows nearest first, as hits: the first (best) row of each asset and time window."""
    hits: list[Hit] = []
    seen: set[MomentKey] = set()
    for row in rows:
        key = (row["asset_id"], row["start_s"], row["end_s"])
        if key in seen:
            continue
        seen.add(key)
        hits.append(
            Hit(
                asset_id=row["asset_id"],
                media_type=row["media_type"],
                source_path=row["source_path"],
                start=row["start_s"],
                end=row["end_s"],
                score=round(float(row["score"]), 4),
                snippet=snippet(row["text"]),
                kind=row["kind"],
            )
        )
    return hits


def fuse(rankings: Sequence[list[Hit]]) -> list[Hit]:
    """Reciprocal rank fusion (Cormack et al., 2009): a moment scores the sum of 1 / (60 + rank) over
    the rankings it appears in, so agreement between rankings wins and no similarity scale has to be
    compared with another (CLIP cosines sit near 0.3, text ones anywhere up to 1). A moment keeps the
    hit of the first ranking that has it (the text one, whose snippet says why it matched); its score
    becomes the fused one. Ties keep the order in which the moments were first seen."""
    fused: dict[MomentKey, float] = {}
    first: dict[MomentKey, Hit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            key = (hit.asset_id, hit.start, hit.end)
            fused[key] = fused.get(key, 0.0) + 1.0 / (RRF_K + rank)
            first.setdefault(key, hit)
    order = sorted(fused, key=lambda key: -fused[key])
    return [replace(first[key], score=round(fused[key], 6)) for key in order]
