"""More like this: the assets most similar to a given one, and which of them are near-duplicates.

Pictures (an image, a video's keyframes) are compared by their EfficientNet-Lite3 feature vectors
(what the picture shows) and their 64-bit perceptual hashes (how it looks). Measured on scikit-image's
cat photo: a JPEG at quality 30, half the size, 30% brighter or with a caption drawn on keep the hash
within 2 bits and the cosine >= 0.90; a 10% crop or a mirror image move the hash 20-30 bits (as far as
an unrelated photo) but keep the cosine >= 0.93; unrelated photos are at 0.17-0.26. So a picture is a
near-duplicate of another within :data:`PHASH_NEAR` bits, or at cosine :data:`FEATURES_NEAR` or more.

Assets without pictures (text, audio) are compared by the text embeddings of their segments (chunks,
utterances): the same words in another file score ~1.0, a paraphrase less.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

import numpy as np

from mediasift.db import search as search_repo
from mediasift.db import similar as similar_repo
from mediasift.db.connection import Database

if TYPE_CHECKING:  # the door is handed in; importing it here would load the model catalog with the CLI
    from mediasift.inference.door import Inference

PHASH_NEAR = 10  # bits of 64
FEATURES_NEAR = 0.92  # cosine of EfficientNet-Lite3 features
TEXT_NEAR = 0.97  # cosine of text embeddings: the same words, give or take a few
MAX_QUERY_SEGMENTS = 64  # pictures or text segments of the query asset compared (a long video: its first ones)
NEIGHBOURS = 20  # nearest segments looked up per query segment
MATCHES_SHOWN = 5  # matched moment pairs reported per similar asset


@dataclass(frozen=True)
class Match:
    """A moment of the query asset (``start``/``end``) and the moment of the other asset like it."""

    start: float | None
    end: float | None
    other_start: float | None
    other_end: float | None
    similarity: float | None  # cosine
    phash_distance: int | None  # bits, pictures only


@dataclass
class SimilarAsset:
    asset_id: UUID
    media_type: str
    source_path: str | None
    basis: str  # "pictures" or "text"
    similarity: float = 0.0  # best cosine over the matches
    phash_distance: int | None = None  # least over the matches
    matches: dict[tuple[float | None, ...], Match] = field(default_factory=dict)  # by the two moments
    near_moments: set[tuple[float | None, float | None]] = field(default_factory=set)  # the query's, matched near
    matched_share: float = 0.0  # of the query's pictures or segments compared, those with a near match here

    @property
    def near_duplicate(self) -> bool:
        return _near(self.basis, self.similarity, self.phash_distance)

    def add(self, match: Match) -> None:
        """Count ``match``; one already found between the same two moments takes its other measure."""
        key = (match.start, match.end, match.other_start, match.other_end)
        known = self.matches.get(key)
        if known is not None:
            match = Match(*key, _best(max, known.similarity, match.similarity),
                          _best(min, known.phash_distance, match.phash_distance))  # fmt: skip
        self.matches[key] = match
        if _near(self.basis, match.similarity or 0.0, match.phash_distance):
            self.near_moments.add((match.start, match.end))
        self.similarity = max(self.similarity, match.similarity or 0.0)
        self.phash_distance = _best(min, self.phash_distance, match.phash_distance)

    def to_json(self) -> dict[str, Any]:
        best = sorted(self.matches.values(), key=_match_order)[:MATCHES_SHOWN]
        return {
            "asset_id": str(self.asset_id),
            "media_type": self.media_type,
            "source_path": self.source_path,
            "basis": self.basis,
            "similarity": round(self.similarity, 4),
            "phash_distance": self.phash_distance,
            "near_duplicate": self.near_duplicate,
            "matched_share": round(self.matched_share, 4),
            "matches": [_match_json(match) for match in best],
        }


def _match_json(match: Match) -> dict[str, Any]:
    def rounded(value: float | None, digits: int) -> float | None:
        return None if value is None else round(value, digits)

    return {
        "start": rounded(match.start, 3), "end": rounded(match.end, 3),
        "other_start": rounded(match.other_start, 3), "other_end": rounded(match.other_end, 3),
        "similarity": rounded(match.similarity, 4), "phash_distance": match.phash_distance,
    }  # fmt: skip


def _near(basis: str, similarity: float, phash_distance: int | None) -> bool:
    """Whether a match (or an asset's best) makes a near-duplicate, by the thresholds of its basis."""
    if basis == "text":
        return similarity >= TEXT_NEAR
    return similarity >= FEATURES_NEAR or (phash_distance is not None and phash_distance <= PHASH_NEAR)


def ranked(found: dict[UUID, SimilarAsset], compared: int, limit: int) -> list[SimilarAsset]:
    """The ``limit`` first of ``found``: near-duplicates first, those that match more of the query's
    ``compared`` pictures or segments before those that match less (a whole copy of a video before a
    clip of one of its shots: both hold a shot at similarity ~1), then by best similarity."""
    for item in found.values():
        item.matched_share = len(item.near_moments) / max(1, compared)
    return sorted(found.values(), key=lambda s: (not s.near_duplicate, -s.matched_share, -s.similarity))[:limit]


def _best(pick: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
    """``pick`` of the two, or the one that is not None."""
    return b if a is None else a if b is None else pick(a, b)


def _match_order(match: Match) -> tuple[float, int]:
    return (-(match.similarity or 0.0), 64 if match.phash_distance is None else match.phash_distance)


def similar(
    db: Database, inference: Inference, asset_id: UUID, *, limit: int = 10, tenant: str | None = None
) -> list[SimilarAsset]:
    """The ``limit`` assets of ``tenant`` (every tenant's when None) most like ``asset_id``, in the
    order of :func:`ranked`."""
    found: dict[UUID, SimilarAsset] = {}
    with db.transaction() as conn:
        features = inference.features_ref.id
        pictures = similar_repo.vectors_of(conn, asset_id, features, MAX_QUERY_SEGMENTS)
        basis, model = ("pictures", features) if pictures else ("text", inference.text_ref.id)
        query = pictures or similar_repo.vectors_of(conn, asset_id, model, MAX_QUERY_SEGMENTS)
        for row in query:
            nearest = search_repo.nearest_segments if basis == "pictures" else search_repo.nearest_text_segments
            neighbours = nearest(
                conn, model, row["embedding"].to_numpy(), limit=NEIGHBOURS, media_type=None, tenant=tenant
            )
            for other in neighbours:
                if other["asset_id"] == asset_id:
                    continue
                moments = (row["start_s"], row["end_s"], other["start_s"], other["end_s"])
                _entry(found, other, basis).add(Match(*moments, float(other["score"]), None))
        hashed = [row for row in pictures if row["phash"]]
        if hashed:
            by_key = {row["key"]: row for row in hashed}
            for other in similar_repo.phash_neighbours(
                conn, asset_id, [r["key"] for r in hashed], [r["phash"] for r in hashed], PHASH_NEAR, tenant
            ):
                mine = by_key[other["query_key"]]
                moments = (mine["start_s"], mine["end_s"], other["start_s"], other["end_s"])
                _entry(found, other, basis).add(Match(*moments, None, int(other["distance"])))
    return ranked(found, len({(row["start_s"], row["end_s"]) for row in query}), limit)


def like_picture(
    db: Database, inference: Inference, pixels: np.ndarray, phash: str, *, limit: int = 10, tenant: str | None = None
) -> list[SimilarAsset]:
    """The ``limit`` assets of ``tenant`` (every tenant's when None) whose pictures (images, video
    keyframes) are most like ``pixels`` (its perceptual hash ``phash``): near-duplicates first, then
    by best similarity; each match names the other asset's moment (a video shot's time)."""
    _, features = inference.labels(pixels)  # the EfficientNet features the labels operator stored
    found: dict[UUID, SimilarAsset] = {}
    with db.transaction() as conn:
        neighbours = search_repo.nearest_segments(
            conn, inference.features_ref.id, np.asarray(features, dtype=np.float32),
            limit=max(NEIGHBOURS, limit * 3), media_type=None, tenant=tenant,
        )  # fmt: skip
        for other in neighbours:
            _entry(found, other, "pictures").add(
                Match(None, None, other["start_s"], other["end_s"], float(other["score"]), None)
            )
        for other in similar_repo.phash_neighbours(conn, None, ["query"], [phash], PHASH_NEAR, tenant):
            _entry(found, other, "pictures").add(
                Match(None, None, other["start_s"], other["end_s"], None, int(other["distance"]))
            )
    return ranked(found, 1, limit)


def _entry(found: dict[UUID, SimilarAsset], row: dict[str, Any], basis: str) -> SimilarAsset:
    if row["asset_id"] not in found:
        found[row["asset_id"]] = SimilarAsset(row["asset_id"], row["media_type"], row["source_path"], basis)
    return found[row["asset_id"]]
