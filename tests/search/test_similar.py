"""More like this: near-duplicates of a picture (re-encoded, resized, mirrored), the video shot that
shows it, and a text saved in another encoding."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any
from uuid import UUID

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from mediasift.cli import app
from mediasift.config import Settings
from mediasift.records import ArtifactOut, OperatorResult, SegmentOut
from mediasift.service import Mediasift

from support import mediagen, stored

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
    # a whole copy, smaller, and a clip of one of its shots: both hold a shot at similarity ~1
    mediagen.make_video(folder / "clip_copy.mp4", 6.0, size=(320, 180), scenes=scenes, scene_seconds=2.0)
    mediagen.make_video(folder / "clip_shot.mp4", 2.0, size=(480, 272), scenes=scenes[1:2], scene_seconds=2.0)
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


def test_a_whole_copy_of_a_video_ranks_before_a_clip_of_one_of_its_shots(
    world: tuple[Mediasift, dict[str, Any]],
) -> None:
    """The clip's best match scored higher (0.982 against the copy's 0.971) and came first."""
    system, ids = world
    found = [item for item in system.similar(ids["clip.mp4"]) if item.near_duplicate]
    named = by_name(found)
    copy, shot = named["clip_copy.mp4"], named["clip_shot.mp4"]
    assert copy.matched_share == 1.0, copy.near_moments
    assert 0.2 <= shot.matched_share <= 0.5, shot.near_moments  # one of the three shots
    order = [Path(item.source_path or "").name for item in found]
    assert order.index("clip_copy.mp4") < order.index("clip_shot.mp4"), order


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


# ------------------------------------------------------------------- the near-duplicate lines
#
# Pictures and texts whose stored vectors sit at a chosen cosine from the query's (a unit vector
# turned by a chosen angle) and whose perceptual hashes sit a chosen number of bits from its hash,
# on either side of each line, asked for through the service as users ask.

QUERY_HASH = "d1c4f0e8a3b29675"


def _picture(conn: Any, name: str, features: Any, phash: str, ref: Any) -> UUID:
    asset_id = stored.add_asset(conn, name, "image")
    labels = SegmentOut(kind="labels", key="image", text="tabby", confidence=0.9, vectors={ref: features})
    stored.add_run(conn, asset_id, "labels", OperatorResult(segments=[labels]))
    stored.add_run(conn, asset_id, "phash", OperatorResult(artifacts=[ArtifactOut("phash", "image", {"phash": phash})]))
    return asset_id


def _text(conn: Any, name: str, vector: Any, ref: Any) -> UUID:
    asset_id = stored.add_asset(conn, name, "text")
    stored.add_text_chunks(conn, asset_id, ref, [(name, vector)])
    return asset_id


def test_pictures_are_near_duplicates_from_cosine_0_92_or_within_10_bits(settings: Settings) -> None:
    """Inside each line and just past it: features at cosine 0.93 and 0.91 (hashes 32 bits away),
    hashes 10 and 11 bits away (features at cosine 0.5)."""
    rng = np.random.default_rng(3)
    query = stored.unit(rng.normal(size=1280)).astype(np.float32)
    far = stored.flip_bits(QUERY_HASH, 32)
    with closing(Mediasift(settings)) as system:
        ref = system.inference.features_ref
        with system.db.transaction() as conn:
            me = _picture(conn, "query.png", query, QUERY_HASH, ref)
            _picture(conn, "features_inside.png", stored.at_cosine(query, 0.93, 1), far, ref)
            _picture(conn, "features_past.png", stored.at_cosine(query, 0.91, 2), far, ref)
            _picture(conn, "hash_inside.png", stored.at_cosine(query, 0.5, 3), stored.flip_bits(QUERY_HASH, 10), ref)
            _picture(conn, "hash_past.png", stored.at_cosine(query, 0.5, 4), stored.flip_bits(QUERY_HASH, 11), ref)
        named = by_name(system.similar(me))
    assert set(named) == {"features_inside.png", "features_past.png", "hash_inside.png", "hash_past.png"}
    assert named["features_inside.png"].similarity == pytest.approx(0.93, abs=1e-4)
    assert named["features_past.png"].similarity == pytest.approx(0.91, abs=1e-4)
    assert named["features_inside.png"].near_duplicate, "cosine 0.93 is over the 0.92 line"
    assert not named["features_past.png"].near_duplicate, "cosine 0.91 is under the 0.92 line"
    assert named["hash_inside.png"].phash_distance == 10 and named["hash_inside.png"].near_duplicate
    assert not named["hash_past.png"].near_duplicate, "11 bits is past the 10-bit line"
    assert named["hash_past.png"].similarity == pytest.approx(0.5, abs=1e-4)


def test_texts_are_near_duplicates_from_cosine_0_97(settings: Settings) -> None:
    """Text segments at cosine 0.975 (inside the 0.97 line) and 0.965 (just past it)."""
    with closing(Mediasift(settings)) as system:
        ref = system.inference.text_ref
        query = stored.unit(np.random.default_rng(5).normal(size=384)).astype(np.float32)
        with system.db.transaction() as conn:
            me = _text(conn, "query.txt", query, ref)
            _text(conn, "inside.txt", stored.at_cosine(query, 0.975, 1), ref)
            _text(conn, "past.txt", stored.at_cosine(query, 0.965, 2), ref)
        found = system.similar(me)
    named = by_name(found)
    assert {item.basis for item in found} == {"text"}
    assert named["inside.txt"].similarity == pytest.approx(0.975, abs=1e-4) and named["inside.txt"].near_duplicate
    assert named["past.txt"].similarity == pytest.approx(0.965, abs=1e-4) and not named["past.txt"].near_duplicate
    assert [Path(item.source_path or "").name for item in found] == ["inside.txt", "past.txt"]
