"""Hybrid search: the words themselves (a part number, a quoted phrase) find what meaning misses, and
meaning finds what no text says word for word."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mediasift.cli import app
from mediasift.config import Settings
from mediasift.search.hybrid import SearchMode
from mediasift.service import Mediasift

from support.mediagen import make_text_file

MANUAL = (
    "Routine maintenance of the wind farm begins each spring. Technicians climb every tower, check the "
    "bolts of the nacelle, grease the yaw bearings and read the vibration logs of the gearbox. Blades "
    "are inspected for erosion along their leading edge, and lightning receptors are tested for "
    "continuity. When a bearing runs hot, the crew replaces the seal with part XJ-9000 from the "
    "spares container before the turbine is allowed to restart."
)
TURBINES = (
    "Wind turbines turn the kinetic energy of moving air into electricity. The rotor drives a shaft, "
    "a gearbox raises its speed, and a generator in the nacelle feeds the grid."
)
BREAD = (
    "To bake a country loaf, mix flour, water, salt and a spoon of starter, then let the bread dough "
    "rest overnight. Shape it in the morning and bake it in a hot covered pot."
)


@pytest.fixture(scope="module")
def library(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mediasift, dict[str, str]]]:
    from support.databases import create_database

    tmp = tmp_path_factory.mktemp("search")
    (tmp / "home").mkdir()
    settings = Settings(home=tmp / "home", database_url=create_database(pg_server))
    files = {
        name: make_text_file(tmp / f"{name}.txt", text)
        for name, text in (("manual", MANUAL), ("turbines", TURBINES), ("bread", BREAD))
    }
    with closing(Mediasift(settings)) as system:
        report = system.ingest(list(files.values()), wait=True)
        assert all(state.status == "done" for state in report.status.values()), report.status
        yield system, {name: str(path) for name, path in files.items()}


def sources(hits: list[Any]) -> list[str]:
    return [Path(hit.source_path).stem for hit in hits]


@pytest.mark.slow
def test_a_part_number_is_found_by_its_words_with_the_words_in_the_snippet(
    library: tuple[Mediasift, dict[str, str]],
) -> None:
    system, _ = library
    keyword = system.search("xj-9000", mode=SearchMode.KEYWORD)
    assert sources(keyword) == ["manual"], "case does not matter, and only the manual has it"
    assert "XJ-9000" in keyword[0].snippet, "the fragment around the match, not the chunk's start"
    assert keyword[0].matched == ("keyword",) and keyword[0].score > 0

    hybrid = system.search("XJ-9000")
    assert sources(hybrid)[0] == "manual" and "keyword" in hybrid[0].matched
    assert all(hit.matched == ("text",) for hit in system.search("XJ-9000", mode=SearchMode.SEMANTIC))


@pytest.mark.slow
def test_keyword_syntax_phrases_and_exclusions(library: tuple[Mediasift, dict[str, str]]) -> None:
    system, _ = library
    assert sources(system.search('"bread dough"', mode=SearchMode.KEYWORD)) == ["bread"]
    assert sources(system.search('"dough bread"', mode=SearchMode.KEYWORD)) == [], "a phrase keeps its order"
    assert sorted(sources(system.search("nacelle gearbox", mode=SearchMode.KEYWORD))) == ["manual", "turbines"]
    assert sources(system.search("nacelle -XJ-9000", mode=SearchMode.KEYWORD)) == ["turbines"]
    assert system.search("nacelle", mode=SearchMode.KEYWORD, media_type="image") == []
    assert system.search("!!! ...", mode=SearchMode.KEYWORD) == [], "no words: nothing, and no error"
    # meaning finds texts near the words, the excluded ones too: they are dropped there as well
    for mode in (SearchMode.SEMANTIC, SearchMode.HYBRID):
        assert "manual" in sources(system.search("wind turbine nacelle", mode=mode)), mode
        assert "manual" not in sources(system.search("wind turbine nacelle -xj-9000", mode=mode)), mode
        assert "manual" not in sources(system.search('wind turbine -"SPARES container"', mode=mode)), mode
        assert "turbines" in sources(system.search("wind turbine nacelle -xj-9000", mode=mode)), mode


@pytest.mark.slow
def test_without_a_keyword_match_hybrid_is_semantic_search(library: tuple[Mediasift, dict[str, str]]) -> None:
    system, _ = library
    query = "how long should I let my sourdough rise"  # no text has all these words
    assert system.search(query, mode=SearchMode.KEYWORD) == []
    hybrid, semantic = system.search(query), system.search(query, mode=SearchMode.SEMANTIC)
    assert hybrid == semantic and sources(hybrid)[0] == "bread"


@pytest.mark.slow
def test_agreement_between_words_and_meaning_ranks_first(library: tuple[Mediasift, dict[str, str]]) -> None:
    system, _ = library
    # Both wind texts are about this; only the manual has all three words ("turbines" is another word
    # to the keyword index: no stemming).
    hits = system.search("wind turbine gearbox")
    assert sources(hits)[:2] == ["manual", "turbines"], hits
    assert set(hits[0].matched) == {"keyword", "text"} and hits[1].matched == ("text",)
    assert "bread" not in sources(hits), "meaning alone is cut at its floor once words have matched"


@pytest.mark.slow
def test_the_cli_takes_a_mode_and_says_what_matched(library: tuple[Mediasift, dict[str, str]]) -> None:
    system, _ = library
    env = {
        "MEDIASIFT_HOME": str(system.settings.home),
        "MEDIASIFT_DATABASE_URL": system.settings.database_url,
        "HF_HUB_OFFLINE": "1",
    }
    result = CliRunner(env=env).invoke(app, ["search", "XJ-9000", "--mode", "keyword", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert (answer["group"], answer["mode"]) == ("asset", "keyword"), "assets by default"
    (found,) = answer["results"]
    (hit,) = found["moments"]
    assert Path(found["source_path"]).stem == "manual" and hit["matched"] == ["keyword"]
    marked = [hit["snippet"][start:end] for start, end in hit["highlights"]]
    assert marked == ["XJ", "9000"] and 0.5 < hit["score"] == found["score"] <= 1, "a keyword match reads >= 0.5"
    moments = CliRunner(env=env).invoke(app, ["search", "XJ-9000", "--mode", "keyword", "--group", "moment", "--json"])
    (moment,) = json.loads(moments.output)["results"]
    assert moment == hit, "one moment, the same either way"
    bad = CliRunner(env=env).invoke(app, ["search", "XJ-9000", "--mode", "fuzzy"])
    assert bad.exit_code == 2 and "fuzzy" in bad.output
