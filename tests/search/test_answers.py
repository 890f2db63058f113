"""Answers a person reads: touching hits merged into one moment, moments grouped per asset with the
keyframe that shows each, the query's words marked, and one relevance scale (0-1) for every mode."""

from __future__ import annotations

from contextlib import closing
from dataclasses import replace
from uuid import uuid4

from mediasift.config import Settings
from mediasift.records import OperatorResult, SegmentOut
from mediasift.search import relevance
from mediasift.search.answers import ADJACENT_S, WIDEN_SHARE, Group, excerpt, highlights, merge, terms
from mediasift.search.hits import SNIPPET_CHARS, Hit, by_relevance, fuse
from mediasift.search.hybrid import SearchMode
from mediasift.service import Mediasift

from support import stored

ASSET = uuid4()


def _hit(start: float | None, end: float | None, rel: float, text: str = "x", matched: str = "text") -> Hit:
    return Hit(ASSET, "video", "/m/talk.mp4", start, end, 0.0, text, "transcript", (matched,), rel)


def test_touching_hits_are_one_moment_and_a_gap_past_a_second_is_two() -> None:
    inside = merge([_hit(0, 4, 0.9, "best"), _hit(4 + ADJACENT_S, 9, 0.8, matched="keyword")])
    assert [(m.start, m.end, m.relevance, m.snippet, m.matched) for m in inside] == [
        (0, 9, 0.9, "best", ("text", "keyword"))
    ], "the best hit's place and snippet, spanning both, found by both"
    past = merge([_hit(0, 4, 0.9), _hit(4 + ADJACENT_S + 0.01, 9, 0.8)])
    assert [(m.start, m.end) for m in past] == [(0, 4), (5.01, 9)]


def test_a_hit_can_bridge_two_moments_and_untimed_hits_stay_apart() -> None:
    bridged = merge([_hit(0, 4, 0.9), _hit(10, 14, 0.8), _hit(4, 10, 0.7)])
    assert [(m.start, m.end) for m in bridged] == [(0, 14)]
    untimed = merge([_hit(None, None, 0.9), _hit(None, None, 0.8)])
    assert len(untimed) == 2


def test_a_much_weaker_touching_hit_does_not_widen_the_moment() -> None:
    weak = merge([_hit(3, 6, 0.8), _hit(0, 3, 0.8 * WIDEN_SHARE - 0.01)])
    assert [(m.start, m.end) for m in weak] == [(3, 6)], "absorbed, not widened"
    kept = merge([_hit(3, 6, 0.8), _hit(0, 3, 0.8 * WIDEN_SHARE)])
    assert [(m.start, m.end) for m in kept] == [(0, 6)]


def test_meaning_alone_from_two_rankings_is_shown_in_the_order_of_relevance() -> None:
    """The text model's and the multilingual model's rankings: fused by rank, each one's first came
    level; merged by relevance, the German text (0.27) leads a photo labelled "bubble" (0.19)."""
    bubble = Hit(uuid4(), "image", "/p/hubble.jpg", None, None, 0.31, "bubble", "labels", ("text",), 0.19)
    budget = Hit(uuid4(), "text", "/d/budget.txt", None, None, 0.25, "budget", "text_chunk", ("text",), 0.08)
    bees = Hit(uuid4(), "text", "/d/bienen.txt", None, None, 0.81, "Honigbienen", "text_chunk", ("multilingual",), 0.27)
    text_ranking, other_languages = [bubble, budget], [bees]
    merged = by_relevance([text_ranking, other_languages])
    assert [h.snippet for h in merged] == ["Honigbienen", "bubble", "budget"]
    assert [h.relevance for h in merged] == [0.27, 0.19, 0.08]


def test_fusion_weighs_each_rank_by_its_relevance_so_a_weak_first_does_not_lead_strong_matches() -> None:
    """Keyword matches (0.75 each) and the meaning side's ranking, whose first is a text just over its
    floor (0.21): fused by rank alone, it came second, above two keyword matches; weighted, below them.
    Agreement still wins: the match both sides found leads."""
    both, second, third = (Hit(uuid4(), "text", f"/d/{n}.txt", None, None, 0.2, n, "text_chunk", ("keyword",), 0.75)
                           for n in ("both", "second", "third"))  # fmt: skip
    weak = Hit(uuid4(), "image", "/p/a.png", None, None, 0.33, "A", "ocr", ("text",), 0.21)
    meaning_of_both = replace(both, score=0.6, matched=("text",), relevance=0.67)
    fused = fuse([[both, second, third], [weak, meaning_of_both]])
    assert [h.snippet for h in fused] == ["both", "second", "third", "A"]
    assert fused[0].relevance == relevance.combined([0.75, 0.67]) and fused[-1].relevance == 0.21


def test_an_assets_moments_of_no_relevance_are_left_out_once_one_has_some() -> None:
    from mediasift.search.answers import by_asset

    found = merge([_hit(0, 4, 0.4), _hit(20, 24, 0.0), _hit(40, 44, 0.1)])
    (asset,) = by_asset(found)
    assert [(m.start, m.relevance) for m in asset.moments] == [(0, 0.4), (40, 0.1)]
    (nothing,) = by_asset(merge([_hit(0, 4, 0.0), _hit(20, 24, 0.0)]))
    assert len(nothing.moments) == 2, "an asset of no relevance at all keeps its moments: meaning's nearest"


def test_the_query_words_are_marked_as_whole_words_in_any_case() -> None:
    text = "Part XJ-9000 seals the Öl pump; pumpkin is not pump"
    assert terms('xj-9000 "öl pump" -pumpkin or the') == ["xj", "9000", "öl", "pump"]
    assert [text[a:b] for a, b in highlights(text, terms("xj-9000 ÖL pump"))] == ["XJ", "9000", "Öl", "pump", "pump"]
    assert terms("the and") == ["the", "and"], "common words are marked when there is nothing else"


def test_relevance_is_one_scale_for_every_ranking() -> None:
    assert relevance.calibrated("text", 0.2) == 0.0 and relevance.calibrated("text", 0.5) == 0.5
    assert relevance.calibrated("text", 0.8) == 1.0 and relevance.calibrated("text", 0.95) == 1.0
    assert relevance.calibrated("keyword", 0.0) == 0.5 and relevance.calibrated("keyword", 0.1) == 0.75
    assert relevance.calibrated("clip", 0.2) == 0.0 and relevance.calibrated("clip", 0.26) == 0.5
    assert relevance.combined([0.75, 0.5]) == 0.875 and relevance.combined([0.6]) == 0.6


def _talk(settings: Settings) -> tuple[str, str]:
    """A video with three transcript lines (the first two touching) under two shots' keyframes, and
    a text file; (video id, text id)."""
    kf1, kf2 = "a" * 64, "b" * 64
    with closing(Mediasift(settings)) as system, system.db.transaction() as conn:
        video = stored.add_asset(conn, "/m/talk.mp4", "video")
        lines = [(0.0, 4.0, "the orange submarine surfaced"), (4.0, 8.0, "near the northern glacier"),
                 (30.0, 34.0, "a submarine again, later")]  # fmt: skip
        stored.add_run(conn, video, "transcribe", OperatorResult(segments=[
            SegmentOut(kind="transcript", key=f"t{i}", start=a, end=b, text=t) for i, (a, b, t) in enumerate(lines)
        ]))  # fmt: skip
        stored.add_run(conn, video, "keyframes", OperatorResult(segments=[
            SegmentOut(kind="keyframe", key="kf1", start=0.0, end=12.0, data={"blob": kf1, "time": 6.0}),
            SegmentOut(kind="keyframe", key="kf2", start=25.0, end=40.0, data={"blob": kf2, "time": 32.0}),
        ]))  # fmt: skip
        note = stored.add_asset(conn, "/m/note.txt", "text")
        stored.add_run(conn, note, "text_chunks", OperatorResult(segments=[
            SegmentOut(kind="text_chunk", key="c0", text="Submarine cables cross the glacier fjord.")
        ]))  # fmt: skip
    return str(video), str(note)


def test_results_group_per_asset_with_each_moments_keyframe(settings: Settings) -> None:
    video, note = _talk(settings)
    with closing(Mediasift(settings)) as system:
        by_asset = system.answers("submarine or glacier", mode=SearchMode.KEYWORD)
        by_moment = system.answers("submarine or glacier", mode=SearchMode.KEYWORD, group=Group.MOMENT, limit=2)
    assert by_asset.group is Group.ASSET and {str(r.asset_id) for r in by_asset.results} == {video, note}
    (talk,) = [r for r in by_asset.results if str(r.asset_id) == video]
    moments = sorted(talk.moments, key=lambda m: m.start or 0)
    assert [(m.start, m.end, m.keyframe) for m in moments] == [(0.0, 8.0, "a" * 64), (30.0, 34.0, "b" * 64)]
    assert talk.keyframe == talk.moments[0].keyframe and talk.score == max(m.score for m in talk.moments)
    assert [moments[1].snippet[a:b] for a, b in moments[1].highlights] == ["submarine"], moments[1]
    (text,) = [r for r in by_asset.results if str(r.asset_id) == note]
    assert text.keyframe is None and text.moments[0].start is None, "a text has no picture and no time"
    assert all(0.5 <= r.score <= 1 for r in by_asset.results), "keyword matches read at least 0.5"
    assert by_moment.group is Group.MOMENT and len(by_moment.results) == 2, "limit counts moments"


def test_a_moment_across_a_cut_shows_the_shot_on_screen_for_most_of_it(settings: Settings) -> None:
    """Speech from 1.8 s to 4.8 s over a cut at 3.5 s: 1.7 s of it over the first shot, 1.3 s over the
    second, whose keyframe (4.0 s) is nearer the moment's middle (3.3 s) than the first's (0.5 s)."""
    from mediasift.db.search import pictures_of

    first, second = "c" * 64, "d" * 64
    with closing(Mediasift(settings)) as system, system.db.transaction() as conn:
        video = stored.add_asset(conn, "/m/cut.mp4", "video")
        stored.add_run(conn, video, "keyframes", OperatorResult(segments=[
            SegmentOut(kind="keyframe", key="k1", start=0.0, end=3.5, data={"blob": first, "time": 0.5}),
            SegmentOut(kind="keyframe", key="k2", start=3.5, end=7.0, data={"blob": second, "time": 4.0}),
        ]))  # fmt: skip
        shown = pictures_of(conn, [(video, 1.8, 4.8), (video, 2.4, 5.4), (video, 4.0, 6.0)])
    assert shown == [first, second, second], "1.7 s against 1.3 s; 1.1 s against 1.9 s; inside the second"


def test_a_long_snippet_is_cut_where_the_query_word_is() -> None:
    filler = "maintenance schedules " * 20  # 440 characters before the code
    text = filler + "require the replacement valve QX907 before winter."
    shown = excerpt(text, terms("QX907"))
    assert len(shown) <= SNIPPET_CHARS and shown.startswith("…") and "QX907" in shown
    assert [shown[a:b] for a, b in highlights(shown, terms("QX907"))] == ["QX907"]
    # a word the head shows keeps the head; no query word in the text keeps it too
    head = excerpt(text, terms("schedules"))
    assert head.startswith("maintenance") and head.endswith("…") and len(head) <= SNIPPET_CHARS
    assert excerpt(text, terms("nowhere")) == head


def test_the_snippet_moves_only_for_a_word_the_head_leaves_out() -> None:
    """The head shows the first SNIPPET_CHARS less one characters up to the last space: a word ending
    there is in it, the next one is not."""
    words = [f"w{i:03d}" for i in range(60)]  # 5 characters each with its space: w047 ends at 239
    text = " ".join(words)
    assert excerpt(text, ["w047"]).startswith("w000"), "the head shows it"
    moved = excerpt(text, ["w048"])
    assert moved.startswith("…") and "w048" in moved


def test_keyword_search_shows_a_code_from_the_end_of_a_long_text(settings: Settings) -> None:
    # long words: the fragment PostgreSQL's headline picks before the code is over 240 characters
    filler = " ".join(["interdepartmental telecommunications characteristically documented"] * 12)
    with closing(Mediasift(settings)) as system, system.db.transaction() as conn:
        note = stored.add_asset(conn, "/m/valves.txt", "text")
        stored.add_run(conn, note, "text_chunks", OperatorResult(segments=[
            SegmentOut(kind="text_chunk", key="c0", text=filler + " then replace valve QX907 before winter.")
        ]))  # fmt: skip
    with closing(Mediasift(settings)) as system:
        (found,) = system.answers("QX907", mode=SearchMode.KEYWORD).results
    (moment,) = found.moments
    assert "QX907" in moment.snippet and len(moment.snippet) <= SNIPPET_CHARS, moment.snippet
    assert [moment.snippet[a:b] for a, b in moment.highlights] == ["QX907"]
