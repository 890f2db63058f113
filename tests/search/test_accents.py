"""Keyword search without accents (migrations 0016 and 0017): a word is found and marked whether or
not the query or the text writes its accents, its special letters (ł, ø, ß, æ, œ, þ) or its
compatibility forms (full-width letters, ligatures), and nothing else is dropped."""

from __future__ import annotations

from contextlib import closing
from uuid import UUID

import pytest

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
    "dansk.txt": "Færgen sejler fra Ærøskøbing til Svendborg.",
    "strasse.txt": "Die Straße zum Museum zeigt das Œuvre des Malers.",
    "wide.txt": "ＳＡＬＥ ５０ at the ﬁre station.",
    "thing.txt": "Þingvellir liggur austan við Reykjavík.",
}


def _add_text(system: Mediasift, name: str, text: str) -> UUID:
    """A text asset ``/m/NAME`` holding ``text`` as one chunk."""
    with system.db.transaction() as conn:
        asset = stored.add_asset(conn, f"/m/{name}", "text")
        stored.add_run(conn, asset, "text_chunks", OperatorResult(segments=[
            SegmentOut(kind="text_chunk", key="c0", text=text)
        ]))  # fmt: skip
    return asset


def _library(system: Mediasift) -> dict[str, UUID]:
    return {name: _add_text(system, name, text) for name, text in TEXTS.items()}


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
        # letters without a separable accent, spelled plainly, and compatibility forms
        assert _found(system, "lodz") == _found(system, "ŁÓDŹ") == {"lodz.txt": ["Łódź"]}
        assert _found(system, "aeroskobing faergen") == {"dansk.txt": ["Færgen", "Ærøskøbing"]}
        assert _found(system, "strasse oeuvre") == {"strasse.txt": ["Straße", "Œuvre"]}
        assert _found(system, "sale 50 fire") == {"wide.txt": ["ＳＡＬＥ", "５０", "ﬁre"]}
        assert _found(system, "thingvellir reykjavik") == {"thing.txt": ["Þingvellir", "Reykjavík"]}
        # only those go: a plural is another word, and a letter is not dropped
        assert _found(system, "cafes") == {}
        assert _found(system, "strase") == {}
        assert _found(system, "aroskobing") == {}
        assert _found(system, "ingvellir") == {}


def test_a_long_text_shows_the_part_with_the_word_as_written(settings: Settings) -> None:
    """PostgreSQL's headline picks a fragment of a long text where the query's words are: on the text
    as written, "cafe" is not in "Le Café", and the fragment shown was the text's start."""
    opening = " ".join(["Les voyageurs attendaient le train de nuit sur le quai numéro trois."] * 6)
    text = opening + " Ensuite ils sont allés au Café de la Gare pour un chocolat chaud."
    with closing(Mediasift(settings)) as system:
        _add_text(system, "quai.txt", text)
        for query in ("cafe chocolat", "café chocolat"):
            assert _found(system, query) == {"quai.txt": ["Café", "chocolat"]}, query
        (shown,) = system.answers("cafe", mode=SearchMode.KEYWORD).results
        assert "Café de la Gare" in shown.moments[0].snippet


def test_folding_spells_the_letters_plainly_and_keeps_the_rest() -> None:
    words = ("Café", "NAÏVE", "über", "Łódź", "STRAẞE", "한국어", "Ångström", "Ærø", "ｃａｆｅ", "ﬁre", "Þór", "Ελλάδα")
    assert [folded(w) for w in words] == [
        "cafe", "naive", "uber", "lodz", "strasse", "한국어", "angstrom", "aero", "cafe", "fire", "thor", "ελλαδα",
    ]  # fmt: skip
    text = "Ein Weg über die Brücke"
    assert [text[a:b] for a, b in highlights(text, terms("uber brucke"))] == ["über", "Brücke"]
    assert highlights(text, terms("ubers")) == ()


@pytest.mark.parametrize(
    ("revision", "name", "query", "marked"),
    [("0015", "gare.txt", "cafe", ["Café"]), ("0016", "dansk.txt", "aeroskobing", ["Ærøskøbing"])],
)
def test_the_upgrade_folds_the_texts_already_there(
    settings: Settings, revision: str, name: str, query: str, marked: list[str]
) -> None:
    """A library at an older revision (0015: texts indexed as written; 0016: accents dropped, letters
    kept) upgraded to the head: its texts are found by their folded words at once, before anything is
    ingested again."""
    from alembic import command

    from mediasift.db.migrate import alembic_config, upgrade

    with closing(Mediasift(settings)) as system:
        url = system.db.url
    command.downgrade(alembic_config(url), revision)
    with closing(Mediasift(settings)) as system:
        with system.db.transaction() as conn:
            folds = conn.execute("SELECT fold_accents('Ærø') AS f").fetchone() if revision == "0016" else None
        _add_text(system, name, TEXTS[name])
        assert folds is None or folds["f"] == "Ærø"  # 0016 keeps the letters
    upgrade(url)
    with closing(Mediasift(settings)) as system:
        assert _found(system, query) == {name: marked}


def test_a_fragment_is_cut_where_the_words_are_when_lengths_agree_by_chance(settings: Settings) -> None:
    """Folding "Straße" adds a letter and folding an accent written apart (e + U+0301) drops one: the
    folded text is as long as the text, but its places past them are not the text's. The fragment
    shown is still the text's own words around the match, not one shifted by a letter."""
    opening = "Die Straße war lang. " + " ".join(["Die Wanderer gingen langsam weiter durch den Wald."] * 6)
    text = opening + " Am Abend erreichten sie das Cafe\u0301 am Ufer und bestellten Kuchen."
    with closing(Mediasift(settings)) as system:
        _add_text(system, "weg.txt", text)
        (shown,) = system.answers("kuchen", mode=SearchMode.KEYWORD).results
    snippet = shown.moments[0].snippet.strip("…").strip()
    assert "Kuchen" in snippet
    assert snippet in " ".join(text.split()), snippet
    assert text[text.index(snippet) - 1] == " ", snippet  # it begins with a whole word


@pytest.mark.parametrize(
    ("word", "query"),
    [("Schillerstraße", "schillerstrasse"), ("Ærøskøbing", "aeroskobing"), ("Mu\u0308ller", "muller")],
)
def test_a_long_text_folding_makes_longer_or_shorter_shows_the_word_found(
    settings: Settings, word: str, query: str
) -> None:
    """Where folding changes a long text's length ("ß" -> "ss", "æ" -> "ae", a mark written apart
    dropped), the fragment PostgreSQL chose on the folded text has no place in the text as written: the
    headline of the text as written, which does not fold, showed its start with nothing marked."""
    opening = " ".join(["Members discussed shipping schedules and the new safety rules for the docks."] * 6)
    text = f"{opening} Next spring the office moves to {word} near the old harbour."
    with closing(Mediasift(settings)) as system:
        _add_text(system, "minutes.txt", text)
        assert _found(system, query) == {"minutes.txt": [word]}
        (shown,) = system.answers(f"{query} harbour", mode=SearchMode.KEYWORD).results
    moment = shown.moments[0]
    assert [moment.snippet[a:b] for a, b in moment.highlights] == [word, "harbour"]


def test_a_word_with_marks_written_apart_is_one_word_to_mark() -> None:
    """A letter and its accent written apart (NFD) and a Devanagari word's vowel signs are combining
    marks, which ``\\w`` does not take: the word was split around them and never marked."""
    text = "Herr Mu\u0308ller sagt नमस्ते दुनिया."
    assert [text[a:b] for a, b in highlights(text, terms("muller नमस्ते"))] == ["Mu\u0308ller", "नमस्ते"]
    assert [text[a:b] for a, b in highlights(text, terms("mu"))] == []
    assert terms("नमस्ते -दुनिया") == ["नमस्ते"]
