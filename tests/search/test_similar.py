"""More like this: near-duplicates of a picture (re-encoded, resized, mirrored), the video shot that
shows it, and a text saved in another encoding."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from typer.testing import CliRunner

from mediasift.cli import app
from mediasift.config import Settings
from mediasift.service import Mediasift

from support import mediagen

pytestmark = pytest.mark.slow

NOTE = (
    "The harbour master closed the northern pier after the storm damaged its wooden railings. "
    "Repairs will start next week and the ferry will use the southern berth until then."
)
OTHER_NOTE = "Our choir rehearses on Thursday evenings in the old school hall; new voices are welcome."


@pytest.fixture(scope="module")
def world(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mediasift, dict[str, Any]]]:
    from support.databases import create_database

    tmp = tmp_path_factory.mktemp("similar")
    (tmp / "home").mkdir()
    folder = tmp / "media"
    folder.mkdir()
    cat = Image.fromarray(mediagen.photo("chelsea"))
    cat.save(folder / "cat.png")
    cat.resize((cat.width // 2, cat.height // 2)).save(folder / "cat_small.jpg", quality=40)
    cat.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(folder / "cat_mirrored.png")
    Image.fromarray(mediagen.photo("astronaut")).save(folder / "astronaut.png")
    Image.fromarray(mediagen.photo("coffee")).save(folder / "coffee.png")
    scenes = [mediagen.photo("rocket"), mediagen.photo("chelsea"), mediagen.photo("coffee")]
    mediagen.make_video(folder / "clip.mp4", 6.0, size=(480, 272), scenes=scenes, scene_seconds=2.0)
    mediagen.make_text_file(folder / "note.txt", NOTE)
    mediagen.make_text_file(folder / "note_utf16.txt", NOTE, encoding="utf-16", bom=True)
    mediagen.make_text_file(folder / "choir.txt", OTHER_NOTE)
    settings = Settings(home=tmp / "home", database_url=create_database(pg_server))
    with closing(Mediasift(settings)) as system:
        report = system.ingest([folder], wait=True)
        assert all(state.status == "done" for state in report.status.values()), report.status
        ids = {Path(a.path).name: a.asset_id for a in report.accepted}
        yield system, ids


def by_name(found: list[Any]) -> dict[str, Any]:
    return {Path(item.source_path).name: item for item in found}


def test_copies_of_a_picture_are_near_duplicates_and_other_photos_are_not(
    world: tuple[Mediasift, dict[str, Any]],
) -> None:
    system, ids = world
    found = system.similar(ids["cat.png"])
    named = by_name(found)
    assert ids["cat.png"] not in {item.asset_id for item in found}, "not itself"
    small, mirrored = named["cat_small.jpg"], named["cat_mirrored.png"]
    assert small.near_duplicate and small.phash_distance is not None and small.phash_distance <= 4
    assert mirrored.near_duplicate and mirrored.similarity >= 0.92, "a mirror image moves the hash, not the content"
    for other in ("astronaut.png", "coffee.png"):
        assert other in named and not named[other].near_duplicate and named[other].similarity < 0.5
    assert [item.near_duplicate for item in found] == sorted((item.near_duplicate for item in found), reverse=True)
    assert all(item.basis == "pictures" for item in found)


def test_the_video_shot_that_shows_the_picture_is_found_at_its_time(world: tuple[Mediasift, dict[str, Any]]) -> None:
    system, ids = world
    clip = by_name(system.similar(ids["cat.png"]))["clip.mp4"]
    best = max(clip.matches.values(), key=lambda match: match.similarity or 0.0)
    assert best.other_start is not None and 1.9 <= best.other_start <= 4.1, best
    assert best.similarity is not None and best.similarity >= 0.6
    # and from the video's side: its cat shot finds the photo
    from_clip = by_name(system.similar(ids["clip.mp4"]))
    cat_match = max(from_clip["cat.png"].matches.values(), key=lambda match: match.similarity or 0.0)
    assert cat_match.start is not None and 1.9 <= cat_match.start <= 4.1


def test_a_text_in_another_encoding_is_a_near_duplicate(world: tuple[Mediasift, dict[str, Any]]) -> None:
    system, ids = world
    named = by_name(system.similar(ids["note.txt"]))
    assert named["note_utf16.txt"].near_duplicate and named["note_utf16.txt"].basis == "text"
    assert "choir.txt" not in named or not named["choir.txt"].near_duplicate


def test_the_cli_lists_similar_assets_as_json(world: tuple[Mediasift, dict[str, Any]]) -> None:
    system, ids = world
    env = {"MEDIASIFT_HOME": str(system.settings.home), "MEDIASIFT_DATABASE_URL": system.settings.database_url}
    result = CliRunner(env=env).invoke(app, ["similar", str(ids["cat.png"])[:8], "--json", "--limit", "2"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["asset_id"] == str(ids["cat.png"]) and len(out["similar"]) == 2
    first = out["similar"][0]
    assert first["near_duplicate"] is True and first["matches"] and {"start", "other_start"} <= set(first["matches"][0])
    missing = CliRunner(env=env).invoke(app, ["similar", "ffffffff"])
    assert missing.exit_code == 2
