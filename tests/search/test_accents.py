"""Keyword search without accents (migration 0016): a word is found and marked whether or not the
query or the text writes its accents, and only the accents are dropped."""

from __future__ import annotations

from contextlib import closing
from uuid import UUID

from mediasift.config import Settings
from mediasift.records import OperatorResult, SegmentOut
from mediasift.search.answers import folded, highlights, terms
from mediasift.search.hybrid import SearchMode
from mediasift.service import Mediasift

from support import stored

TEXTS = {
    "gare.txt": "Rendez-vous au Café de la Gare à São Paulo, près de la fenêtre.",
    "fluss.txt": "Ein schmaler Weg führt über den Fluss zur Mühle.",
    "plain.txt": "The cafe on the corner serves naive art and uber-strong coffee.",
    "lodz.txt": "Łódź is a city in Poland.",
}


def _library(system: Mediasift) -> dict[str, UUID]:
    made = {}
    with system.db.transaction() as conn:
        for name, text in TEXTS.items():
            made[name] = asset = stored.add_asset(conn, f"/m/{name}", "text")
            stored.add_run(conn, asset, "text_chunks", OperatorResult(segments=[
                SegmentOut(kind="text_chunk", key="c0", text=text)
            ]))  # fmt: skip
    return made


def _found(system: Mediasift, query: str) -> dict[str, list[str]]:
    """Each asset found by keyword: the words marked in its first moment."""
    results = system.answers(query, mode=SearchMode.KEYWORD, limit=10).results
    return {
        (r.source_path or "").rsplit("/", 1)[-1]: [r.moments[0].snippet[a:b] for a, b in r.moments[0].highlights]
        for r in results
    }


def test_a_word_is_found_and_marked_with_or_without_its_accents(settings: Settings) -> None:
    with closing(Mediasift(settings)) as system:
        _library(system)
        assert _found(system, "cafe") == {"gare.txt": ["Café"], "plain.txt": ["cafe"]}
        assert _found(system, "CAFÉ") == {"gare.txt": ["Café"], "plain.txt": ["cafe"]}
        assert _found(system, "sao paulo") == {"gare.txt": ["São", "Paulo"]}
        assert _found(system, "uber") == {"fluss.txt": ["über"], "plain.txt": ["uber"]}
        assert _found(system, "muhle fluss") == {"fluss.txt": ["Fluss", "Mühle"]}
        assert _found(system, '"fenetre"') == {"gare.txt": ["fenêtre"]}
        # only the marks go: a plural is another word, and a letter that is not a letter plus a mark
        # (Ł, ó's base is o but Ł has none) stays itself
        assert _found(system, "cafes") == {}
        assert _found(system, "lodz") == {}
        assert _found(system, "łodz") == {"lodz.txt": ["Łódź"]}


def test_a_long_text_shows_the_part_with_the_word_as_written(settings: Settings) -> None:
    """PostgreSQL's headline picks a fragment of a long text where the query's words are: on the text
    as written, "cafe" is not in "Le Café", and the fragment shown was the text's start."""
    opening = " ".join(["Les voyageurs attendaient le train de nuit sur le quai numéro trois."] * 6)
    text = opening + " Ensuite ils sont allés au Café de la Gare pour un chocolat chaud."
    with closing(Mediasift(settings)) as system:
        with system.db.transaction() as conn:
            asset = stored.add_asset(conn, "/m/quai.txt", "text")
            stored.add_run(conn, asset, "text_chunks", OperatorResult(segments=[
                SegmentOut(kind="text_chunk", key="c0", text=text)
            ]))  # fmt: skip
        for query in ("cafe chocolat", "café chocolat"):
            assert _found(system, query) == {"quai.txt": ["Café", "chocolat"]}, query
        (shown,) = system.answers("cafe", mode=SearchMode.KEYWORD).results
        assert "Café de la Gare" in shown.moments[0].snippet


def test_folding_drops_the_marks_alone() -> None:
    assert [folded(w) for w in ("Café", "NAÏVE", "über", "Łódź", "straße", "한국어", "Ångström")] == [
        "cafe", "naive", "uber", "łodz", "straße", "한국어", "angstrom",
    ]  # fmt: skip
    text = "Ein Weg über die Brücke"
    assert [text[a:b] for a, b in highlights(text, terms("uber brucke"))] == ["über", "Brücke"]
    assert highlights(text, terms("ubers")) == ()


def test_the_upgrade_folds_the_texts_already_there(settings: Settings) -> None:
    """A library at revision 0015 (texts indexed as written) upgraded to 0016: its texts are found
    without their accents at once, before anything is ingested again."""
    from alembic import command

    from mediasift.db.migrate import alembic_config, upgrade

    with closing(Mediasift(settings)) as system:
        url = system.db.url
    command.downgrade(alembic_config(url), "0015")
    with closing(Mediasift(settings)) as system:
        with system.db.transaction() as conn:
            (count,) = conn.execute("SELECT count(*) FROM pg_proc WHERE proname = 'fold_accents'").fetchone().values()
        assert count == 0
        with system.db.transaction() as conn:
            asset = stored.add_asset(conn, "/m/gare.txt", "text")
            stored.add_run(conn, asset, "text_chunks", OperatorResult(segments=[
                SegmentOut(kind="text_chunk", key="c0", text=TEXTS["gare.txt"])
            ]))  # fmt: skip
    upgrade(url)
    with closing(Mediasift(settings)) as system:
        assert _found(system, "cafe") == {"gare.txt": ["Café"]}
