"""An HTML page is searched by what it shows: its title, headings and paragraphs, not its markup,
scripts and styles (which were indexed as written: "var x = ...; body{color:red}" in the snippets)."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

from mediasift.config import Settings
from mediasift.media.html_text import is_html, visible_text
from mediasift.search.hybrid import SearchMode
from mediasift.service import Mediasift

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Snowy owls &amp; lemmings</title>
<style>body { color: crimson } .zebrafish { display: none }</style>
<script>var tracker = "quokka"; function go() { return 1 }</script></head>
<body><h1>Snowy owls</h1>
<p>Snowy owls hunt lemmings on the open   tundra<br>through the polar summer.</p>
<ul><li>white plumage</li><li>yellow eyes</li></ul>
<noscript>enable the quokka widget</noscript><script>document.write("quokka")</script></body></html>
"""


def test_a_page_is_told_by_its_start_and_read_as_it_is_shown() -> None:
    assert is_html(PAGE) and is_html("\n<!-- saved -->\n<html>") and not is_html("a note that mentions <html> tags")
    shown = visible_text(PAGE)
    assert shown.startswith("Snowy owls & lemmings\n\nSnowy owls\n\nSnowy owls hunt lemmings on the open tundra")
    assert "yellow eyes" in shown and not any(word in shown for word in ("quokka", "crimson", "zebrafish", "var "))


def test_an_html_page_is_searched_by_its_shown_text(settings: Settings, tmp_path: Path) -> None:
    page = tmp_path / "owls.html"
    page.write_text(PAGE, encoding="utf-8")
    note = tmp_path / "markup.txt"  # a plain text that talks about markup stays as written
    note.write_text("Write <p>quokka</p> in the page, then close the tag.", encoding="utf-8")
    with closing(Mediasift(settings)) as system:
        report = system.ingest([page, note], wait=True)
        ids = {Path(a.path).name: a.asset_id for a in report.accepted}
        detail = system.describe(ids["owls.html"])
        lemmings = system.search("lemmings tundra", mode=SearchMode.KEYWORD)
        quokka = system.search("quokka", mode=SearchMode.KEYWORD)
    assert detail.mime == "text/html" and detail.metadata["language"] == "en"
    assert [hit.asset_id for hit in lemmings] == [ids["owls.html"]]
    assert "<" not in lemmings[0].snippet and "crimson" not in lemmings[0].snippet
    assert [hit.asset_id for hit in quokka] == [ids["markup.txt"]], "the page's scripts are not its text"
