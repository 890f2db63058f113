"""Search that holds as a library grows: every item found by its own text however many segments
repeat the same labels, filters answered at recall, and keyword ranking that stays bounded for common
words without losing the phrase a person typed."""

from __future__ import annotations

from contextlib import closing
from typing import Any

import pytest

from mediasift.config import Settings
from mediasift.db import keyword_search
from mediasift.records import OperatorResult, SegmentOut
from mediasift.search.hybrid import SearchMode
from mediasift.service import Mediasift

from support import stored

pytestmark = pytest.mark.slow

LABELS = ["person", "speech", "face", "music", "car", "dog", "tree", "crowd", "water", "street"]
SUBJECTS = ["a beekeeper", "the harbour pilot", "an old violinist", "two cyclists", "the night nurse", "a glassblower"]
ACTIONS = ["repairs", "describes", "photographs", "paints", "argues about", "measures"]
THINGS = ["a broken compass", "the winter orchard", "a copper kettle", "the tide tables", "a paper lantern",
          "the village clock", "a salt marsh", "the lighthouse lamp", "an empty train"]  # fmt: skip


def _sentences() -> list[str]:
    """Distinct sentences on topics of their own (6 x 6 x 9 = 324)."""
    return [f"{s} {a} {t}" for s in SUBJECTS for a in ACTIONS for t in THINGS]


def test_every_new_item_is_found_by_its_own_text_among_thousands_of_repeated_labels(settings: Settings) -> None:
    """3,000 label segments (10 labels, as mediasift writes them: one per shot) and 274 unique texts
    are loaded; 50 more unique texts ingested after them are each found in the top 10 by their own
    text, and the labels take one stored vector each, not one per segment."""
    texts = _sentences()
    earlier, fresh = texts[:-50], texts[-50:]
    with closing(Mediasift(settings)) as system:
        ref = system.inference.text_ref
        label_vectors = dict(zip(LABELS, system.inference.embed_texts(LABELS), strict=True))
        vectors = dict(zip(texts, system.inference.embed_texts(texts), strict=True))
        with system.db.transaction() as conn:
            for n in range(30):
                shots = [
                    (LABELS[(n + i) % len(LABELS)], label_vectors[LABELS[(n + i) % len(LABELS)]]) for i in range(100)
                ]
                stored.add_text_chunks(conn, stored.add_asset(conn, f"video-{n}.mp4", "video"), ref, shots)
            for n, text in enumerate(earlier):
                stored.add_text_chunks(
                    conn, stored.add_asset(conn, f"earlier-{n}.txt", "text"), ref, [(text, vectors[text])]
                )
        fresh_ids = {}
        for n, text in enumerate(fresh):
            with system.db.transaction() as conn:
                fresh_ids[text] = stored.add_asset(conn, f"fresh-{n}.txt", "text")
                stored.add_text_chunks(conn, fresh_ids[text], ref, [(text, vectors[text])])
        missed = [
            t for t in fresh if fresh_ids[t] not in {h.asset_id for h in system.search(t, mode=SearchMode.SEMANTIC)}
        ]
        with system.db.transaction() as conn:
            stored_vectors = _count(conn, "SELECT count(*) AS n FROM search_vectors")
            segments = _count(conn, "SELECT count(*) AS n FROM embeddings")
    assert missed == []
    assert (stored_vectors, segments) == (len(LABELS) + len(texts), 3000 + len(texts))


def test_a_filter_on_a_rare_type_or_a_small_tenant_keeps_every_match(settings: Settings) -> None:
    """Five images among 60 videos: each image is found by its text with the type filter (an exact
    scan of the few vectors the filter leaves); a label shared by videos and images comes back for
    images only."""
    texts = _sentences()[:65]
    with closing(Mediasift(settings)) as system:
        ref = system.inference.text_ref
        vectors = dict(zip(texts, system.inference.embed_texts(texts), strict=True))
        person = system.inference.embed_texts(["person"])[0]
        images = {}
        with system.db.transaction() as conn:
            for n, text in enumerate(texts):
                kind = "image" if n % 13 == 0 else "video"
                asset_id = stored.add_asset(conn, f"{kind}-{n}", kind)
                stored.add_text_chunks(conn, asset_id, ref, [(text, vectors[text]), ("person", person)])
                if kind == "image":
                    images[text] = asset_id
        found = {
            t: [h.asset_id for h in system.search(t, media_type="image", mode=SearchMode.SEMANTIC)] for t in images
        }
        people = system.search("person", media_type="image", mode=SearchMode.SEMANTIC, limit=20)
    assert all(found[t][0] == images[t] for t in images), found
    assert {h.asset_id for h in people} == set(images.values()) and {h.media_type for h in people} == {"image"}


def test_a_vector_goes_with_the_last_segment_that_shares_it(settings: Settings) -> None:
    with closing(Mediasift(settings)) as system:
        ref = system.inference.text_ref
        speech = system.inference.embed_texts(["speech"])[0]
        with system.db.transaction() as conn:
            first = stored.add_asset(conn, "first.mp4", "video")
            second = stored.add_asset(conn, "second.mp4", "video")
            for asset_id in (first, second):
                stored.add_text_chunks(conn, asset_id, ref, [("speech", speech), ("speech", speech)])
            shared = _count(conn, "SELECT count(*) AS n FROM search_vectors")
            conn.execute("DELETE FROM assets WHERE id = %s", (first,))
            kept = _count(conn, "SELECT count(*) AS n FROM search_vectors")
            conn.execute("DELETE FROM assets WHERE id = %s", (second,))
            gone = _count(conn, "SELECT count(*) AS n FROM search_vectors")
    assert (shared, kept, gone) == (1, 1, 0)


def test_a_common_word_ranks_a_bounded_set_and_the_phrase_typed_is_in_it(settings: Settings) -> None:
    """More segments than the candidate cap hold both words apart ("keeper of the lamp"); the one
    that holds them as typed ("the keeper"), stored last, still comes first."""
    many = keyword_search.KEYWORD_CANDIDATES + 100
    with closing(Mediasift(settings)) as system:
        with system.db.transaction() as conn:
            asset_id = stored.add_asset(conn, "log.txt", "text")
            segments = [SegmentOut(kind="text_chunk", key=f"c{i}", start=float(i), end=float(i + 1),
                                   text=f"keeper of the lamp number {i}") for i in range(many)]  # fmt: skip
            segments.append(SegmentOut(kind="text_chunk", key="last", start=float(many), end=float(many + 1),
                                       text="words of the keeper at last"))  # fmt: skip
            stored.add_run(conn, asset_id, "text_chunks", OperatorResult(segments=segments))
        hits = system.search("the keeper", mode=SearchMode.KEYWORD)
    assert hits[0].start == float(many) and len(hits) == 10


def _count(conn: Any, query: str) -> int:
    row = conn.execute(query).fetchone()
    return int(row["n"])


def test_a_common_word_is_left_to_the_recheck_and_a_match_still_has_every_word(settings: Settings) -> None:
    """Given an AND with a word in most segments (by the column's statistics), the text index is
    given the rarer words alone and the whole query is checked on what it finds: a segment with the
    rare word but not the common one is no match, and "or" alternatives are each searched."""
    with closing(Mediasift(settings)) as system:
        with system.db.transaction() as conn:
            asset_id = stored.add_asset(conn, "log.txt", "text")
            texts = [f"the lamp number {i}" for i in range(40)] + ["keeper at sea", "the keeper at last", "a gull"]
            segments = [SegmentOut(kind="text_chunk", key=f"c{i}", start=float(i), end=float(i + 1), text=text)
                        for i, text in enumerate(texts)]  # fmt: skip
            stored.add_run(conn, asset_id, "text_chunks", OperatorResult(segments=segments))
            conn.execute("ANALYZE segments")
            common = keyword_search.common_lexemes(conn)
        found = system.search("the keeper", mode=SearchMode.KEYWORD)
        either = system.search("the keeper or gull", mode=SearchMode.KEYWORD)
    assert "'the'" in common and "'keeper'" not in common
    assert keyword_search.rarer_words("'the' & 'keeper'", common) == "'keeper'"
    assert keyword_search.rarer_words("'at' <-> 'the' <-> 'keeper'", common) == "'at' & 'keeper'"
    assert keyword_search.rarer_words("'the'", common) is None, "only common words: the index is given them all"
    assert [hit.start for hit in found] == [41.0]
    assert sorted(hit.start for hit in either) == [41.0, 42.0]


def test_an_or_of_many_alternatives_is_a_bounded_number_of_scans_and_finds_them_all(settings: Settings) -> None:
    """20 "or" alternatives: the first MAX_ALTERNATIVES - 1 are scans of their own and the rest share
    one, so the statement holds MAX_ALTERNATIVES scans; a segment matching the first, the eighth or
    the twentieth alternative (an AND of two words) is found, one matching half an AND is not."""
    words = [f"word{i}" for i in range(20)]
    assert keyword_search.split_alternatives(" | ".join(f"'{w}'" for w in words[:8])) == [f"'{w}'" for w in words[:8]]
    parts = keyword_search.split_alternatives(" | ".join(f"'{w}' & 'x{w}'" for w in words))
    assert len(parts) == keyword_search.MAX_ALTERNATIVES == 8
    assert parts[-1] == " | ".join(f"( '{w}' & 'x{w}' )" for w in words[7:])
    with closing(Mediasift(settings)) as system:
        with system.db.transaction() as conn:
            asset_id = stored.add_asset(conn, "notes.txt", "text")
            texts = ["word0 xword0 first", "word7 xword7 eighth", "word19 xword19 last", "word12 alone"]
            segments = [SegmentOut(kind="text_chunk", key=f"c{i}", start=float(i), end=float(i + 1), text=text)
                        for i, text in enumerate(texts)]  # fmt: skip
            stored.add_run(conn, asset_id, "text_chunks", OperatorResult(segments=segments))
        query = " or ".join(f"{w} x{w}" for w in words)
        hits = system.search(query, mode=SearchMode.KEYWORD)
    assert sorted(hit.start for hit in hits) == [0.0, 1.0, 2.0]
