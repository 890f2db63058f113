"""The search page's filters over the real service: media type, match mode, date added, length and
language all go to the search (SQL), whose answers the page shows by asset."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mediasift.api.app import create_app
from mediasift.config import Settings
from mediasift.service import Mediasift

from support import mediagen
from support.apikeys import make_keys
from support.uisession import sign_in

pytestmark = pytest.mark.slow

ENGLISH = "The harbour festival starts at noon on the northern pier with music and boats."
GERMAN = "Das Hafenfest beginnt am Mittag am nördlichen Pier mit Musik und Booten."


def _names(page: str) -> list[str]:
    return re.findall(r'<h3><a href="/assets/[^"]+">([^<]+)</a></h3>', page)


def test_filters_narrow_the_moments_found_to_assets_that_match(settings: Settings, tmp_path: Path) -> None:
    keys = make_keys(settings)
    system = Mediasift(settings)
    files = [
        mediagen.make_text_file(tmp_path / "en.txt", ENGLISH),
        mediagen.make_text_file(tmp_path / "de.txt", GERMAN),
    ]
    system.ingest(files, wait=True, tenant="alpha")
    system.close()
    with TestClient(create_app(settings), follow_redirects=False) as client:
        sign_in(client, keys.read)

        def found(**query: str) -> list[str]:
            answer = client.get("/", params={"q": "pier", **query})
            assert answer.status_code == 200
            return sorted(_names(answer.text))

        assert found() == ["de.txt", "en.txt"]
        assert found(language="de") == ["de.txt"] and found(language="EN") == ["en.txt"]
        assert found(type="video") == [] and found(type="text") == ["de.txt", "en.txt"]
        tomorrow = (date.today() + timedelta(days=1)).isoformat()
        assert found(since=tomorrow) == [] and found(until=tomorrow) == ["de.txt", "en.txt"]
        assert found(min_duration="1") == [], "a text has no length: a length filter leaves it out"
        assert found(mode="keyword", language="de") == ["de.txt"]
        assert found(language="deu") == ["de.txt"], "an ISO 639-3 code is read as the 639-1 one stored"

        def refused(**query: str) -> str:
            answer = client.get("/", params={"q": "pier", **query}, headers={"accept": "text/html"})
            assert answer.status_code == 422 and answer.headers["content-type"].startswith("text/html")
            (reason,) = re.findall(r'<p class="error" role="alert">([^<]+)</p>', answer.text)
            return html.unescape(reason)

        assert "min_duration must not be above max_duration" in refused(min_duration="5", max_duration="3")
        assert "ingested_after must be before" in refused(since="2026-12-05", until="2026-12-01")
        assert "not a day" in refused(since="garbage") and "not a number of seconds" in refused(min_duration="abc")
        assert "none of video" in refused(type="bogus") and "none of" in refused(mode="bogus")
        assert "no language here has the code 'xx1'" in refused(language="xx1")
        assert "the query is empty" in refused(q="\u200b ")
        too_long = client.get("/", params={"q": "a" * 1200}, headers={"accept": "text/html"})
        assert too_long.status_code == 422 and too_long.headers["content-type"].startswith("text/html")
        assert "at most 1000 characters" in too_long.text
        ops = client.get("/ops", headers={"accept": "text/html"})
        assert (
            ops.status_code == 403 and "needs admin" in ops.text and ops.headers["content-type"].startswith("text/html")
        )
        assert client.get("/ops").headers["content-type"] == "application/problem+json", "a script's call: a problem"


def test_each_media_type_has_its_page_and_library_card(settings: Settings, tmp_path: Path) -> None:
    keys = make_keys(settings)
    system = Mediasift(settings)
    made = {
        "image": mediagen.make_text_image(tmp_path / "sign.png", "LIGHTHOUSE", size=(480, 270)),
        "audio": mediagen.make_speech_wav(tmp_path / "talk.wav", "the lighthouse keeper waved"),
        "text": mediagen.make_text_file(tmp_path / "note.txt", ENGLISH),
    }
    report = system.ingest(list(made.values()), wait=True, tenant="alpha")
    ids = {a.media_type: str(a.asset_id) for a in report.accepted}
    phone = mediagen.make_text_image(tmp_path / "IMG_0001.heic", "HARBOUR", size=(480, 270))
    (heic,) = system.ingest([phone], wait=True, tenant="alpha").accepted
    shas = {kind: system.describe(asset).sha256 for kind, asset in (("png", ids["image"]), ("heic", heic.asset_id))}
    system.close()
    with TestClient(create_app(settings), follow_redirects=False) as client:
        form = client.get("/signin")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token
        client.post("/signin", data={"key": keys.read, "csrf": token.group(1)})
        library = client.get("/").text
        assert all(f'href="/assets/{asset}"' in library for asset in ids.values())
        image = client.get(f"/assets/{ids['image']}").text
        assert '<img id="picture"' in image and '"kind": "text"' in image and "LIGHTHOUSE" in image
        assert "ocr.vtt" not in image, "a still's text has no times: no timed export is offered"
        assert f'<img id="picture" src="/media/{shas["png"]}"' in image, "a PNG is shown as it is"
        # browsers show no HEIC: its page shows the JPEG preview made for it
        phone_page = client.get(f"/assets/{heic.asset_id}").text
        shown = re.search(r'<img id="picture" src="/media/([0-9a-f]{64})"', phone_page)
        assert shown and shown.group(1) != shas["heic"] and "HARBOUR" in phone_page
        preview = client.get(f"/media/{shown.group(1)}")
        assert preview.status_code == 200 and preview.headers["content-type"] == "image/jpeg"
        audio = client.get(f"/assets/{ids['audio']}").text
        assert '<audio id="player"' in audio and 'class="word"' in audio and "transcript.vtt" in audio
        text = client.get(f"/assets/{ids['text']}").text
        assert "northern pier" in text and "<video" not in text


def test_a_documents_page_shows_its_text_once_as_written(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its chunks overlap (a sentence or two of each is the next one's start): the page shows the
    document itself, every sentence once, its paragraphs apart; a long one up to ``TEXT_SHOWN``."""
    from mediasift.api.ui import pages

    sentences = [f"Sentence number {n} talks about the marmot colony {n}." for n in range(1, 81)]
    text = " ".join(sentences[:40]) + "\n\n" + " ".join(sentences[40:])
    keys = make_keys(settings)
    system = Mediasift(settings)
    (accepted,) = system.ingest(
        [mediagen.make_text_file(tmp_path / "marmots.txt", text)], wait=True, tenant="alpha"
    ).accepted
    chunks = system.exports.document(accepted.asset_id).segments["text_chunk"]
    system.close()
    assert len(chunks) > 4 and sum(len(c.text or "") for c in chunks) > len(text) + 400, "the chunks overlap"
    with TestClient(create_app(settings), follow_redirects=False) as client:
        sign_in(client, keys.read)
        answer = client.get(f"/assets/{accepted.asset_id}")
        assert answer.status_code == 200
        page = answer.text
        (shown,) = re.findall(r'<div class="plain">(.*?)</div>', page, re.DOTALL)
        assert html.unescape(shown) == text
        assert "characters: <a" not in page
        monkeypatch.setattr(pages, "TEXT_SHOWN", 1000)
        monkeypatch.setattr(pages, "TEXT_BYTES_READ", 2000)  # of its bytes, only the first are read
        page = client.get(f"/assets/{accepted.asset_id}").text
        (shown,) = re.findall(r'<div class="plain">(.*?)</div>', page, re.DOTALL)
        assert html.unescape(shown) == text[:1000]
        assert f"The first 1,000 of {len(text):,} characters" in page


def test_an_upload_of_bytes_analysed_already_says_done(settings: Settings, tmp_path: Path) -> None:
    """The upload page follows each file from what its upload answered: a file whose bytes were
    analysed already is a duplicate, done, not a pending upload."""
    keys = make_keys(settings)
    note = mediagen.make_text_file(tmp_path / "note.txt", ENGLISH)
    system = Mediasift(settings)
    (first,) = system.ingest([note], wait=True, tenant="alpha").accepted
    system.close()
    with TestClient(create_app(settings), follow_redirects=False) as client:
        sign_in(client, keys.write)
        (csrf,) = re.findall(r'<meta name="csrf-token" content="([^"]+)">', client.get("/upload").text)
        files = {"file": ("again.txt", note.read_bytes(), "text/plain")}
        answer = client.post("/upload", files=files, headers={"X-CSRF-Token": csrf})
        assert answer.status_code == 201
        assert answer.json() == {"id": str(first.asset_id), "media_type": "text", "duplicate": True, "status": "done"}
