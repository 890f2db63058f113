"""The text-embedding ranking's floor before fusion (``TEXT_FUSION_FLOOR``), through hybrid search:
segments whose stored vectors sit at a chosen cosine from the query's own vector, either side of the
floor, with a keyword match so that the rankings are fused."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest

from mediasift.config import Settings
from mediasift.search.hybrid import SearchMode
from mediasift.service import Mediasift

from support import stored

pytestmark = pytest.mark.slow

QUERY = "gearbox"


def _texts_at(system: Mediasift, texts: list[tuple[str, str, float]]) -> None:
    """For each (name, text, cosine): a text asset whose one chunk's stored vector sits at ``cosine``
    from the query's own vector."""
    ref = system.inference.text_ref
    query = system.inference.embed_query(QUERY)
    with system.db.transaction() as conn:
        for seed, (name, text, cosine) in enumerate(texts, start=1):
            vector = stored.at_cosine(query, cosine, seed)
            stored.add_text_chunks(conn, stored.add_asset(conn, name, "text"), ref, [(text, vector)])


def test_meaning_joins_the_keyword_matches_from_cosine_0_3(settings: Settings) -> None:
    """Cosine 0.33 with the query (inside the 0.3 floor) is fused in; 0.27 (just past it) is not."""
    with closing(Mediasift(settings)) as system:
        _texts_at(system, [("keyword.txt", "the gearbox was oiled", 0.1), ("inside.txt", "first unrelated words", 0.33),
                           ("past.txt", "second unrelated words", 0.27)])  # fmt: skip
        hybrid = system.search(QUERY)
        semantic = system.search(QUERY, mode=SearchMode.SEMANTIC)
    found = [Path(hit.source_path or "").name for hit in hybrid]
    assert found == ["keyword.txt", "inside.txt"], hybrid
    # Meaning alone keeps what is below the fusion floor, nearest first, down to the unrelated.
    assert [(Path(h.source_path or "").name, round(h.score, 3)) for h in semantic] == [
        ("inside.txt", 0.33), ("past.txt", 0.27),
    ]  # fmt: skip


def test_meaning_alone_stops_where_texts_are_unrelated(settings: Settings) -> None:
    """Search by meaning shows no text at relevance 0: cosine 0.21 with the query is shown, 0.19
    (just past the unrelated side of ``relevance.TEXT_ZERO``, 0.2) is not, in semantic and in hybrid
    search with no keyword match; with nothing related, the answer is empty."""
    with closing(Mediasift(settings)) as system:
        _texts_at(system, [("faint.txt", "first unrelated words", 0.21),
                           ("unrelated.txt", "second unrelated words", 0.19)])  # fmt: skip
        for mode in (SearchMode.SEMANTIC, SearchMode.HYBRID):
            found = system.search(QUERY, mode=mode)
            assert [Path(hit.source_path or "").name for hit in found] == ["faint.txt"], (mode, found)
            assert 0 < found[0].relevance < 0.05
        with system.db.transaction() as conn:
            conn.execute("DELETE FROM segments WHERE text = 'first unrelated words'")
        assert system.search(QUERY, mode=SearchMode.SEMANTIC) == []
