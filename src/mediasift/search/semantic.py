"""Search by meaning: the query embedded with the text model (the configured tier) and matched
against every text segment's embedding, and, when a CLIP model is configured, embedded by its text
tower and matched against every picture's CLIP vector."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mediasift.db import search as search_repo
from mediasift.db.connection import Database
from mediasift.db.search_filters import AssetFilters
from mediasift.search.background import standing
from mediasift.search.hits import Hit, moments
from mediasift.search.lexical import without_excluded
from mediasift.search.query import sought

if TYPE_CHECKING:  # the door is handed in; importing it here would load the model catalog with the CLI
    from mediasift.inference.door import Inference, Vectors

# Nearest neighbours are found however unrelated, and fusion weighs a rank the same whatever its
# similarity, so each ranking is cut at a floor before it is fused. MiniLM cosines measured here:
# unrelated pairs 0.0-0.28 ("someone talks about the budget" / "refrigerator" 0.25), related ones 0.4 and up.
TEXT_FUSION_FLOOR = 0.3
# multilingual-e5's cosines sit high and close together: a text in another language counts as found
# from this many standard deviations above the query's background (:mod:`background`). Chosen on a
# library of 22 files a QA pass made (11 English queries): the texts in German, French and Spanish that
# meant the query stood 1.9-4.4 above it, the best of the others 0.2-1.5 (and 2.8 once: a transcript
# of synthetic French speech that Whisper wrote in Thai script). The fixed cosine floor it replaces
# (0.8) missed the German beekeeping report for "honey bees" (0.78).
MULTILINGUAL_FUSION_FLOOR = 1.8

# The multilingual model embeds the query here while the text model embeds it in the caller's
# thread: the two run at once (both release the GIL), so a tenant with texts in other languages pays
# for the slower of the two embeddings, not their sum.
_multilingual_side = ThreadPoolExecutor(max_workers=8, thread_name_prefix="search-multilingual")


@dataclass(frozen=True)
class Rankings:
    """The text-embedding ranking (nearest first, however far), and the CLIP one (None: no CLIP
    model configured). ``clip_floor`` is the CLIP model's own similarity floor."""

    text: list[Hit]
    clip: list[Hit] | None
    clip_floor: float = 0.0
    other_languages: list[Hit] | None = None  # texts in other languages, scored by standing (background.py)

    def above_floors(self) -> list[list[Hit]]:
        """The rankings cut at their floors, for fusion."""
        ranked = [[hit for hit in self.text if hit.score >= TEXT_FUSION_FLOOR]]
        if self.clip is not None:
            ranked.append([hit for hit in self.clip if hit.score >= self.clip_floor])
        if self.other_languages is not None:
            ranked.append(self._foreign_above_floor())
        return ranked

    def _foreign_above_floor(self) -> list[Hit]:
        return [hit for hit in self.other_languages or [] if hit.score >= MULTILINGUAL_FUSION_FLOOR]

    @property
    def meaning_only(self) -> list[list[Hit]] | None:
        """When no keyword matched: with no CLIP model, the text ranking down to the unrelated (nearest
        first, every text of some relevance, even below the fusion floor), fused with the
        other-languages ranking above its floor when that found any; None when CLIP takes part (then
        every ranking is cut at its floor)."""
        if self.clip is not None:
            return None
        related = [hit for hit in self.text if hit.relevance > 0]
        foreign = self._foreign_above_floor()
        return [related, foreign] if foreign else [related]


def rank(
    db: Database,
    inference: Inference,
    query: str,
    *,
    depth: int,
    media_type: str | None,
    tenant: str | None,
    filters: AssetFilters,
) -> Rankings:
    """The ``depth`` nearest segments of ``tenant``'s assets (every tenant's when None; those
    ``filters`` leave) to ``query``
    by each vector model, the query embedded through the inference layer (cached, batched with
    concurrent queries, counted)."""
    from mediasift.inference.catalog import Role  # with the door, which the caller has loaded

    multilingual = inference.multilingual_ref
    clip = inference.catalog.ref(Role.CLIP) if inference.catalog.configured(Role.CLIP) else None
    # One transaction for the whole ranking (each costs round trips and a loan from the pool): the
    # connection waits while the query is embedded, usually a hit of the door's cache.
    # Meaning is asked of what the query looks for: its excluded words, embedded with it, pulled the
    # query towards what it excludes (those are dropped from the rows below).
    asked = sought(query)
    with db.transaction() as conn:
        # None when the searched assets hold no text in another language: then no multilingual embedding
        foreign_query = (
            _multilingual_side.submit(inference.embed_multilingual_query, asked)
            if search_repo.has_text_vectors(conn, multilingual.id, tenant)
            else None
        )
        vector = inference.embed_query(asked)  # by the tier the segments were embedded with
        clip_vector = None if clip is None else inference.clip_query(asked)
        rows = search_repo.nearest_text_segments(
            conn, inference.text_ref.id, vector, limit=depth, media_type=media_type, tenant=tenant, filters=filters
        )
        rows = without_excluded(query, rows)
        other_languages = _other_languages(
            conn, inference, multilingual.id, foreign_query, depth, media_type, tenant, filters, query
        )
        if clip is None or clip_vector is None:
            return Rankings(moments(rows, "text"), None, other_languages=other_languages)
        picture_rows = search_repo.nearest_segments(
            conn,
            clip.id,
            clip_vector,
            limit=depth,
            media_type=media_type,
            tenant=tenant,
            model_version=clip.version,
            filters=filters,
        )
    return Rankings(
        moments(rows, "text"), moments(picture_rows, "clip"), inference.clip().config.min_similarity, other_languages
    )


def _other_languages(
    conn: search_repo.Conn,
    inference: Inference,
    model: str,
    query: Future[Vectors] | None,
    depth: int,
    media_type: str | None,
    tenant: str | None,
    filters: AssetFilters,
    text: str,
) -> list[Hit] | None:
    """The nearest texts in other languages than English by the multilingual ``model``, matched
    against the ``query`` vector it is computing for ``text`` (None when the searched assets hold none)."""
    if query is None:
        return None
    vector = query.result()
    rows = search_repo.nearest_text_segments(
        conn, model, vector, limit=depth, media_type=media_type, tenant=tenant, filters=filters
    )
    mean, spread = standing(inference, vector)
    # each hit's score: its standing above the query's background, which its relevance reads
    standings = [{**row, "score": (float(row["score"]) - mean) / spread} for row in without_excluded(text, rows)]
    return moments(standings, "multilingual")
