"""Semantic search: a query embedded with the text model, matched against every text segment."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any
from uuid import UUID

from mediasift.db import search as search_repo
from mediasift.db.connection import Database
from mediasift.models.text_embedder import TextEmbedder, get_text_embedder

SNIPPET_CHARS = 240


@dataclass(frozen=True)
class Hit:
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
    """Best segments first; one hit per asset and time window (the best of its segments)."""
    vector = get_text_embedder().embed([query])[0]
    with db.transaction() as conn:
        rows = search_repo.nearest_segments(
            conn, TextEmbedder.ref.id, vector, limit=limit * 4, media_type=media_type
        )
    hits: list[Hit] = []
    seen: set[tuple[UUID, float | None, float | None]] = set()
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
        if len(hits) == limit:
            break
    return hits
