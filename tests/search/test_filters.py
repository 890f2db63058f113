"""Filters pushed into the search SQL, over media ingested through the real pipeline: each filter
leaves exactly the assets that have the property (and a value just past it leaves none), on the exact
scan a rare filter takes and on the index walk a common one takes; bad values are a 422 with the
reason. And query by example: a picture finds the images that look like it."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pillow_heif
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from mediasift.access import Scope
from mediasift.api.app import create_app
from mediasift.config import Settings
from mediasift.db import keyword_search
from mediasift.db import search as search_repo
from mediasift.db.search_filters import AssetFilters
from mediasift.search.hybrid import SearchMode
from mediasift.service import Mediasift
from mediasift.service_errors import PersonNotFound

from support import mediagen
from support.apikeys import bearer
from support.databases import create_database

pytestmark = pytest.mark.slow

TAKEN = datetime(2019, 7, 20, 12, 0, tzinfo=UTC)  # the photo's EXIF capture time
RECORDED = datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)  # the recording's MP4 creation time
QUERY = "the lighthouse keeper in a storm"


@dataclass
class Library:
    system: Mediasift
    ids: dict[str, str]  # by name: en, de, portrait, cat, speech
    between: datetime  # after the first ingest, before the German note's
    folder: Path
    speech_seconds: float
    key: str  # a read key of the default tenant


@pytest.fixture(scope="module")
def library(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    tmp = tmp_path_factory.mktemp("filters")
    (tmp / "home").mkdir()
    first, later = tmp / "a", tmp / "b"
    first.mkdir()
    later.mkdir()
    files = {
        "en": mediagen.make_text_file(first / "en.txt", "The lighthouse keeper logged the storm over the harbour."),
        "portrait": mediagen.make_jpeg_with_exif(
            first / "portrait.jpg", "Canon", "EOS 5D", TAKEN, base=mediagen.photo("astronaut")
        ),
        "cat": first / "cat.png",
        "speech": first / "keeper.m4a",
    }
    spoken, rate = mediagen.read_audio(
        mediagen.make_speech_wav(tmp / "keeper.wav", "the lighthouse keeper watched the storm")
    )
    mediagen.write_m4a(files["speech"], spoken, rate, creation_time=RECORDED)
    # A caption that bears on the query: meaning alone leaves out what is unrelated (relevance 0), and
    # a cat's labels alone sat at the line ("cat" to the query: cosine 0.197 here, the floor 0.2).
    mediagen.make_text_image(files["cat"], "GALE WARNING", size=(451, 300), background=mediagen.photo("chelsea"))
    offer = later / "50% off"  # a folder with a "%" in its name: taken literally by the source filter
    offer.mkdir()
    german = mediagen.make_text_file(
        offer / "de.txt", "Der Leuchtturmwärter notierte den Sturm über dem Hafen im Morgengrauen des Tages."
    )
    settings = Settings(home=tmp / "home", database_url=create_database(pg_server))
    with closing(Mediasift(settings)) as system:
        report = system.ingest(list(files.values()), wait=True)
        between = datetime.now(UTC)
        report_de = system.ingest([german], wait=True)
        accepted = {Path(a.path).name: str(a.asset_id) for a in [*report.accepted, *report_de.accepted]}
        ids = {name: accepted[path.name] for name, path in [*files.items(), ("de", german)]}
        seconds = system.describe(system.resolve(ids["speech"])).metadata["duration"]
        key = system.keys.create("default", Scope.READ).key
        yield Library(system, ids, between, tmp, float(seconds), key)


def found(library: Library, mode: SearchMode = SearchMode.SEMANTIC, query: str = QUERY, **filters: object) -> set[str]:
    """The names of the assets a search finds (semantic: every asset with text, nearest first)."""
    names = {asset_id: name for name, asset_id in library.ids.items()}
    hits = library.system.search(query, limit=50, mode=mode, filters=AssetFilters(**filters))  # type: ignore[arg-type]
    return {names[str(hit.asset_id)] for hit in hits}


EVERYTHING = {"en", "de", "portrait", "cat", "speech"}


def test_without_filters_meaning_finds_every_asset(library: Library) -> None:
    assert found(library) == EVERYTHING


def test_date_ingested(library: Library) -> None:
    assert found(library, ingested_after=library.between) == {"de"}
    assert found(library, ingested_before=library.between) == EVERYTHING - {"de"}
    assert found(library, ingested_after=datetime.now(UTC) + timedelta(seconds=5)) == set()


def test_date_recorded_from_exif_and_the_container(library: Library) -> None:
    second = timedelta(seconds=1)
    assert found(library, recorded_after=TAKEN, recorded_before=RECORDED) == {"portrait"}, "at the time: inside"
    assert found(library, recorded_after=TAKEN + second, recorded_before=RECORDED) == set(), "a second later: past"
    assert found(library, recorded_after=RECORDED) == {"speech"}, "an MP4's creation time"
    assert found(library, recorded_after=RECORDED + second) == set()
    assert found(library, recorded_before=RECORDED + second) == {"portrait", "speech"}
    assert found(library, recorded_before=TAKEN) == set()
    naive = datetime(2019, 7, 20, 11, 59)  # read as UTC
    assert found(library, recorded_after=naive, recorded_before=naive + timedelta(minutes=2)) == {"portrait"}


def test_duration(library: Library) -> None:
    seconds = library.speech_seconds
    assert found(library, min_duration=seconds - 0.01) == {"speech"} == found(library, max_duration=seconds + 0.01)
    assert found(library, min_duration=seconds + 0.01) == set() == found(library, max_duration=seconds - 0.01)


def test_language_of_text_and_speech(library: Library) -> None:
    assert found(library, language="de") == {"de"}
    assert found(library, language="en") == {"en", "speech"}, "a text's language, and its speech's"
    assert found(library, language="fr") == set()


def test_faces_labels_and_source(library: Library) -> None:
    with_faces = found(library, has_faces=True)
    assert "portrait" in with_faces and not with_faces & {"en", "de", "speech"}
    assert found(library, has_faces=False) == EVERYTHING - with_faces
    assert found(library, label="PERSON") == {"portrait"}, "a detected object, any case"
    assert found(library, label="submarine") == set()
    assert found(library, source_prefix=str(library.folder / "b")) == {"de"}
    assert found(library, source_prefix=str(library.folder / "bb")) == set()


def test_a_percent_sign_in_a_text_filter_is_a_character_like_any_other(library: Library) -> None:
    """Filters are written into statements that also take parameters, where psycopg reads a "%" as a
    placeholder: with a "%" in a source prefix, a label or a person, every mode failed."""
    folder = library.folder / "b"
    for mode in SearchMode:
        assert found(library, mode, "Sturm", source_prefix=str(folder / "50% off")) == {"de"}, mode
        assert found(library, mode, "Sturm", source_prefix=str(folder / "50%")) == {"de"}, mode
        assert found(library, mode, "Sturm", source_prefix=str(folder / "5%")) == set(), "no wildcard"
        assert found(library, mode, "Sturm", source_prefix=str(folder / "%")) == set(), "no wildcard"
        assert found(library, mode, "Sturm", label="100% cat") == set()
    someone = library.system.people.page("default").people[0]
    odd = "Cam 100% %s %(q)s {v} \\ '"
    library.system.people.name("default", someone.id, odd)
    try:
        for mode in SearchMode:
            assert found(library, mode, "person", person=odd) == {"portrait"}, mode
    finally:
        library.system.people.name("default", someone.id, None)
    with pytest.raises(ValueError, match="NUL"):
        AssetFilters(label="cat\x00")
    admin = library.system.keys.create("default", Scope.ADMIN).key  # a server path takes an admin's key
    with TestClient(create_app(library.system.settings), headers=bearer(library.key)) as client:
        answer = client.get("/v1/search", params={"q": "Sturm", "source_prefix": str(folder / "50% off"),
                            "tenant": "default"}, headers=bearer(admin))  # fmt: skip
        assert answer.status_code == 200 and [r["asset_id"] for r in answer.json()["results"]] == [library.ids["de"]]
        assert client.get("/v1/search", params={"q": "Sturm", "label": "\x00"}).status_code in (400, 422)


def test_a_person_filter_that_names_no_one_is_refused_not_an_empty_result(library: Library) -> None:
    someone = library.system.people.page("default").people[0]
    assert found(library, person=str(someone.id)) == {"portrait"}
    with pytest.raises(PersonNotFound, match="Nobody"):
        found(library, person="Nobody")
    with pytest.raises(PersonNotFound):
        found(library, person=str(someone.id + 1000))
    with TestClient(create_app(library.system.settings), headers=bearer(library.key)) as client:
        answer = client.get("/v1/search", params={"q": "storm", "person": "Nobody"})
        assert answer.status_code == 422 and "no person" in answer.json()["detail"], answer.text


def test_keyword_search_and_the_index_walk_keep_to_the_filters(
    library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyword = SearchMode.KEYWORD
    assert found(library, keyword, "storm") == {"en", "speech"}
    assert found(library, keyword, "storm", source_prefix=str(library.folder / "a" / "en")) == {"en"}
    assert found(library, keyword, "storm", language="de") == set()
    assert found(library, keyword, "storm or harbour", source_prefix=str(library.folder / "a")) == {"en", "speech"}
    monkeypatch.setattr(keyword_search, "MANY_MATCHES", 0)  # every filtered scan reads the assets' segments in order
    assert found(library, keyword, "storm", source_prefix=str(library.folder / "a" / "en")) == {"en"}
    assert found(library, keyword, "storm or harbour", source_prefix=str(library.folder / "a")) == {"en", "speech"}
    assert found(library, keyword, "storm", source_prefix=str(library.folder / "b")) == set()
    monkeypatch.setattr(search_repo, "EXACT_BELOW", 0)  # every filter now walks the HNSW index
    assert found(library, language="de") == {"de"} and found(library, label="person") == {"portrait"}
    assert found(library, ingested_before=library.between) == EVERYTHING - {"de"}


def test_the_api_takes_filters_and_refuses_bad_values_with_a_reason(library: Library) -> None:
    with TestClient(create_app(library.system.settings), headers=bearer(library.key)) as client:
        ok = client.get("/v1/search", params={"q": QUERY, "mode": "semantic", "language": "de"})
        assert ok.status_code == 200 and [r["asset_id"] for r in ok.json()["results"]] == [library.ids["de"]]
        assert ok.json()["results"][0]["source_path"] == "file:de.txt", "a file of the server: its name only"
        every_file = set(library.ids.values())
        for shown, expected in (("file:de.txt", {library.ids["de"]}), ("file:d", {library.ids["de"]}),
                                ("file:e", {library.ids["en"]}), ("file:x", set()), ("file:", every_file)):  # fmt: skip
            narrowed = client.get("/v1/search", params={"q": QUERY, "mode": "semantic", "source_prefix": shown})
            assert narrowed.status_code == 200, narrowed.text
            assert {r["asset_id"] for r in narrowed.json()["results"]} == expected, shown
        bad = {
            "min_duration": ("-1", "greater than or equal to 0"),
            "ingested_after": ("yesterday", "datetime"),
            "language": ("EN!", "pattern"),
            "has_faces": ("maybe", "boolean"),
        }
        for name, (value, reason) in bad.items():
            answer = client.get("/v1/search", params={"q": "storm", name: value})
            assert answer.status_code == 422 and reason in answer.json()["detail"], (name, answer.text)
        for code in ("DE", "deu"):  # 639-1 any case, or 639-3: the 639-1 code stored
            again = client.get("/v1/search", params={"q": QUERY, "mode": "semantic", "language": code})
            assert again.status_code == 200 and again.json()["results"] == ok.json()["results"], code
        for code in ("zz", "xyz"):
            unknown = client.get("/v1/search", params={"q": "storm", "language": code})
            assert unknown.status_code == 422 and f"no language here has the code {code!r}" in unknown.json()["detail"]
        for blank in (" ", "\u200b", "\u3000\u2060"):  # spaces, a zero-width space: nothing to look for
            nothing = client.get("/v1/search", params={"q": blank})
            assert nothing.status_code == 422 and "the query is empty" in nothing.json()["detail"], repr(blank)
        for excluding in ("-storm", '-"storm surge"', "-storm -harbour"):  # matched everything else, at 0.5
            for mode in SearchMode:
                refused = client.get("/v1/search", params={"q": excluding, "mode": mode.value})
                assert refused.status_code == 422 and "only excludes" in refused.json()["detail"], (excluding, mode)
        besides = client.get("/v1/search", params={"q": "Sturm -harbour", "mode": "keyword"})
        assert [r["asset_id"] for r in besides.json()["results"]] == [library.ids["de"]]
        empty_range = client.get("/v1/search", params={"q": "storm", "min_duration": "5", "max_duration": "4"})
        assert empty_range.status_code == 422 and "min_duration" in empty_range.json()["detail"]
        backwards = {"q": "storm", "ingested_after": "2025-01-02", "ingested_before": "2025-01-01"}
        after = client.get("/v1/search", params=backwards)
        assert after.status_code == 422 and "ingested_after must be before" in after.json()["detail"]


def _jpeg(pixels: np.ndarray, quality: int) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=quality)
    return out.getvalue()


def _heic(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    pillow_heif.from_pillow(Image.fromarray(pixels)).save(out, quality=60)
    return out.getvalue()


def test_a_recompressed_smaller_copy_finds_its_photo_first_and_another_photo_is_no_duplicate(
    library: Library,
) -> None:
    astronaut = mediagen.photo("astronaut")
    smaller = np.asarray(Image.fromarray(astronaut).resize((256, 256)))
    copy = _jpeg(smaller, quality=40)
    with TestClient(create_app(library.system.settings), headers=bearer(library.key)) as client:
        raw = client.post("/v1/search/by-image", content=copy)
        multipart = client.post("/v1/search/by-image", files={"file": ("copy.jpg", copy, "image/jpeg")})
        other = client.post("/v1/search/by-image", content=_jpeg(mediagen.photo("coffee"), quality=90))
        broken = client.post("/v1/search/by-image", content=copy[: len(copy) // 3])
        not_a_picture = client.post("/v1/search/by-image", content=b"hello, not a picture")
        phone = client.post(
            "/v1/search/by-image", content=_heic(np.asarray(Image.fromarray(astronaut).resize((256, 256))))
        )
    assert raw.status_code == 200 and raw.json() == multipart.json()
    assert phone.status_code == 200 and phone.json()["similar"][0]["asset_id"] == library.ids["portrait"], phone.json()
    best = raw.json()["similar"][0]
    assert best["asset_id"] == library.ids["portrait"] and best["near_duplicate"], best
    assert best["phash_distance"] <= 10 and best["source_path"] == "file:portrait.jpg"
    assert not any(s["near_duplicate"] for s in other.json()["similar"]), other.json()
    assert broken.status_code == 422 and "truncated or corrupt" in broken.json()["detail"]
    assert not_a_picture.status_code == 422 and "not a picture" in not_a_picture.json()["detail"]
    assert "BytesIO" not in not_a_picture.json()["detail"], "Pillow's message names its file object"


def test_the_cli_takes_filters_and_a_picture(library: Library, tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from mediasift.cli import app

    settings = library.system.settings
    env = {"MEDIASIFT_HOME": str(settings.home), "MEDIASIFT_DATABASE_URL": settings.database_url, "HF_HUB_OFFLINE": "1"}
    cli = CliRunner(env=env)
    german = cli.invoke(app, ["search", QUERY, "--mode", "semantic", "--language", "de", "--json"])
    assert german.exit_code == 0, german.output
    assert [r["asset_id"] for r in json.loads(german.output)["results"]] == [library.ids["de"]]
    empty = cli.invoke(app, ["search", "storm", "--min-duration", "5", "--max-duration", "4"])
    assert empty.exit_code == 2 and "min_duration must not be above max_duration" in empty.output
    for blank in ("", "   "):
        nothing = cli.invoke(app, ["search", blank])
        assert nothing.exit_code == 2 and "the query is empty" in nothing.output, nothing.output
    refusals = {  # the same as over HTTP: what the API refuses, the command line refuses
        ("-storm",): "only excludes",
        ('-"storm surge"', "-harbour"): "only excludes",
        ("x" * 1001,): "1,001 characters",
        ("storm\tsurge",): "control characters",
        ("storm", "--bogus"): "no such option: --bogus",
    }
    for words, reason in refusals.items():
        refused = cli.invoke(app, ["search", *words])
        assert refused.exit_code == 2 and reason in refused.output, (words, refused.output)
    excluding = cli.invoke(app, ["search", "Sturm", "-harbour", "--mode", "keyword", "--json"])
    assert [r["asset_id"] for r in json.loads(excluding.output)["results"]] == [library.ids["de"]], excluding.output
    assert cli.invoke(app, ["search", "x" * 1000, "--json"]).exit_code == 0
    klingon = cli.invoke(app, ["search", "storm", "--language", "zz"])
    assert klingon.exit_code == 2 and "no language here has the code 'zz'" in klingon.output, klingon.output
    no_one = cli.invoke(app, ["search", "storm", "--person", "Nobody"])
    assert no_one.exit_code == 2 and "no person" in no_one.output, no_one.output
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(_jpeg(mediagen.photo("astronaut")[::2, ::2], quality=50))
    similar = cli.invoke(app, ["similar", "--image", str(copy), "--json"])
    assert similar.exit_code == 0, similar.output
    assert json.loads(similar.output)["similar"][0]["asset_id"] == library.ids["portrait"]
    assert cli.invoke(app, ["similar"]).exit_code == 2, "an asset or a picture"
