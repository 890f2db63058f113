"""The whole slice through the CLI: a mixed folder ingested, described, refused and searched.

The folder holds what a user would drop in: a PNG with a word drawn on a photo, a JPEG with EXIF,
an MP4 (H.264 + AAC) with speech that starts 3 s in, a WAV of real recorded speech (LibriVox, from
Debian's pocketsphinx-testdata), UTF-8 and UTF-16 text, and four bad files.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from mediasift.cli import app
from mediasift.config import Settings

from support import mediagen
from support.databases import create_database

pytestmark = pytest.mark.slow

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
FIRST_UTTERANCE = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0870.wav"
SECOND_UTTERANCE = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav"  # "he was not an ill disposed young man"
GAP_S = 2.0
VIDEO_SPEECH_START_S = 3.0
VIDEO_CUTS = (71, 163)  # clip.mp4's cuts at 25 fps: 2.84 s and 6.52 s, no whole second
SPOKEN_IN_VIDEO = "the orange submarine surfaced near the northern glacier"
LIBRARY_TEXT = (
    "The committee approved the new budget for the city library on Tuesday. Construction of a larger "
    "reading hall will begin next spring, and the children's section will double in size.\n\n"
    "Volunteers planted twelve oak trees along the river path. The park service will water them "
    "through the dry summer months.\n\n"
    "A local bakery won a regional prize for its rye bread, baked in a wood-fired oven since 1952."
)
GERMAN_TEXT = "Der Zug nach München fährt heute später ab. Bitte beachten Sie die Durchsagen am Bahnsteig."


def _mono(path: Path) -> tuple[np.ndarray, int]:
    samples, rate = mediagen.read_audio(path)
    return samples.mean(axis=0), rate


def _two_utterances(path: Path) -> float:
    """Real speech, a silence, more real speech; returns when the second utterance starts."""
    first, rate = _mono(FIRST_UTTERANCE)
    second, rate2 = _mono(SECOND_UTTERANCE)
    assert rate == rate2
    mediagen.write_wav(path, np.concatenate([first, np.zeros(int(GAP_S * rate)), second]), rate)
    return len(first) / rate + GAP_S


def _speech_after_silence(tmp: Path) -> tuple[Path, float]:
    spoken = mediagen.make_speech_wav(tmp / "spoken.wav", SPOKEN_IN_VIDEO)
    speech, rate = _mono(spoken)
    padded = tmp / "padded.wav"
    mediagen.write_wav(padded, np.concatenate([np.zeros(int(VIDEO_SPEECH_START_S * rate)), speech]), rate)
    return padded, len(speech) / rate


@pytest.fixture(scope="module")
def world(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("e2e")
    folder = tmp / "drop"
    (folder / "nested").mkdir(parents=True)
    second_start = _two_utterances(folder / "interview.wav")
    padded, speech_s = _speech_after_silence(tmp)
    coffee = mediagen.photo("coffee")
    scenes = [coffee, coffee[:, 250:], mediagen.photo("chelsea")]  # the second a closer view of the first
    mediagen.make_video(
        folder / "clip.mp4", seconds=9.0, size=(480, 270), audio_wav=padded, scenes=scenes, cuts=VIDEO_CUTS
    )
    mediagen.make_text_image(folder / "sign.png", "LIGHTHOUSE", size=(640, 360), background=mediagen.photo("astronaut"))
    mediagen.make_jpeg_with_exif(
        folder / "nested" / "holiday.jpg", make="Canon", model="EOS 5D", orientation=6,
        taken_at=datetime(2021, 7, 4, 15, 30, 12), gps=(48.858370, 2.294481), base=mediagen.photo("chelsea"),
    )  # fmt: skip
    mediagen.make_text_file(folder / "news.txt", LIBRARY_TEXT, encoding="utf-8")
    mediagen.make_text_file(folder / "nested" / "durchsage.txt", GERMAN_TEXT, encoding="utf-16-le", bom=True)
    (folder / "empty.dat").write_bytes(b"")
    truncated = mediagen.make_video(tmp / "whole.mp4", seconds=4.0, size=(320, 240))
    shutil.copy(truncated, folder / "cut.mp4")
    mediagen.truncate(folder / "cut.mp4", 0.6)
    mediagen.make_png_bomb(folder / "bomb.png")
    mediagen.make_random_bytes(folder / "song.mp3", 200_000, seed=7)

    env = {
        "MEDIASIFT_HOME": str(tmp / "home"),
        "MEDIASIFT_DATABASE_URL": create_database(pg_server),
        "HF_HUB_OFFLINE": "1",
    }
    runner = CliRunner(env=env)

    def cli(*args: str) -> tuple[int, Any]:
        result = runner.invoke(app, list(args))
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, json.loads(result.stdout) if "--json" in args else result.stdout

    first = cli("ingest", str(folder), "--wait", "--json")
    counts_after_first = _counts(cli)
    second = cli("ingest", str(folder), "--wait", "--json")
    return {
        "folder": folder,
        "cli": cli,
        "first": first,
        "second": second,
        "counts": (counts_after_first, _counts(cli)),
        "second_utterance_start": second_start,
        "video_speech": (VIDEO_SPEECH_START_S, VIDEO_SPEECH_START_S + speech_s),
    }


def _counts(cli: Any) -> dict[str, Any]:
    _, status = cli("status", "--json")
    _, assets = cli("assets", "list", "--json")
    artifacts = 0
    for asset in assets["assets"]:
        _, detail = cli("assets", "show", asset["asset_id"], "--json")
        artifacts += len(detail["artifacts"])
    return {"assets": status["assets"]["total"], "artifacts": artifacts, "embeddings": status["embeddings"]}


def _accepted(world: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {Path(a["path"]).name: a for a in world["first"][1]["accepted"]}


def _show(world: dict[str, Any], name: str) -> dict[str, Any]:
    return world["cli"]("assets", "show", _accepted(world)[name]["asset_id"], "--json")[1]


def test_good_files_are_typed_from_their_bytes_and_analysed(world: dict[str, Any]) -> None:
    exit_code, report = world["first"]
    assert exit_code == 1, "some files were refused"
    types = {name: a["media_type"] for name, a in _accepted(world).items()}
    assert types == {
        "interview.wav": "audio", "clip.mp4": "video", "sign.png": "image", "holiday.jpg": "image",
        "news.txt": "text", "durchsage.txt": "text",
    }  # fmt: skip
    assert all(a["status"] == "done" and not a["failed"] for a in report["accepted"]), report["accepted"]


def test_bad_files_are_refused_with_reasons(world: dict[str, Any]) -> None:
    reasons = {Path(r["path"]).name: r["reason"].lower() for r in world["first"][1]["rejected"]}
    assert set(reasons) == {"empty.dat", "cut.mp4", "bomb.png", "song.mp3"}
    assert "empty" in reasons["empty.dat"]
    assert "truncated" in reasons["cut.mp4"] or "corrupt" in reasons["cut.mp4"]
    assert "30000x30000" in reasons["bomb.png"] and "limit" in reasons["bomb.png"]
    assert "mp3" in reasons["song.mp3"] or "unrecognised" in reasons["song.mp3"]


def test_second_run_finds_duplicates_and_adds_nothing(world: dict[str, Any]) -> None:
    exit_code, report = world["second"]
    assert exit_code == 1
    assert report["accepted"] and all(a["duplicate"] for a in report["accepted"])
    before, after = world["counts"]
    assert before == after
    assert before["assets"] == 6


def test_metadata_describes_each_file(world: dict[str, Any]) -> None:
    video = _show(world, "clip.mp4")["metadata"]
    assert video["duration"] == pytest.approx(9.0, abs=0.15)
    assert (video["width"], video["height"], video["video_codec"], video["has_audio"]) == (
        480,
        270,
        "h264",
        True,
    )
    assert video["audio_codec"] == "aac" and video["fps"] == pytest.approx(25)
    audio = _show(world, "interview.wav")["metadata"]
    assert audio["sample_rate"] == 16000 and audio["channels"] == 1
    photo = _show(world, "holiday.jpg")["metadata"]
    assert (photo["width"], photo["height"]) == (300, 451), "orientation 6 swaps width and height"
    assert photo["exif"]["camera_make"] == "Canon" and photo["exif"]["camera_model"] == "EOS 5D"
    assert photo["exif"]["taken_at"].startswith("2021-07-04T15:30:12")
    assert photo["exif"]["gps"]["lat"] == pytest.approx(48.858370, abs=1e-4)
    assert photo["exif"]["gps"]["lon"] == pytest.approx(2.294481, abs=1e-4)
    german = _show(world, "durchsage.txt")["metadata"]
    assert german["encoding"].startswith("utf-16") and german["language"] == "de"
    assert german["chars"] == len(GERMAN_TEXT)
    english = _show(world, "news.txt")["metadata"]
    assert english["encoding"] in ("utf-8", "ascii") and english["language"] == "en"


def test_a_video_is_shots_with_keyframes_and_the_words_said_in_each(world: dict[str, Any]) -> None:
    detail = _show(world, "clip.mp4")
    shots = sorted((a for a in detail["artifacts"] if a["kind"] == "shot"), key=lambda a: a["start"])
    edges = [0.0, *(frame / 25 for frame in VIDEO_CUTS), 9.0]
    assert [s["start"] for s in shots] == pytest.approx(edges[:-1], abs=0.041), "three shots, cut within a frame"
    assert [s["end"] for s in shots] == pytest.approx(edges[1:], abs=0.041)
    keyframes = [a for a in detail["artifacts"] if a["kind"] == "keyframe"]
    assert len(keyframes) == 3 and all(a["blob_sha256"] for a in keyframes)
    said = {a["key"]: a["data"]["text"].lower() for a in detail["artifacts"] if a["kind"] == "shot_words"}
    speech_start, _ = world["video_speech"]
    spoken_shots = [s["key"] for s in shots if s["end"] > speech_start]
    assert "submarine" in " ".join(said[key] for key in spoken_shots)
    assert said[shots[0]["key"]] == "", "nothing is said in the first shot (speech starts at 3 s)"


def test_each_run_of_the_worker_is_counted_its_share_of_the_cores(world: dict[str, Any]) -> None:
    """Its core time, which its cost is priced from: at most its wall time times its model threads
    (several jobs computing on few cores each get a share), and some of it."""
    threads = Settings().model_threads
    runs = [run for name in _accepted(world) for run in _show(world, name)["operators"].values()]
    assert runs
    for run in runs:
        assert run["core_ms"] is not None, run["operator"]
        assert 0 < run["core_ms"] <= run["duration_ms"] * threads + 1, run


def test_artifacts_carry_lineage(world: dict[str, Any]) -> None:
    detail = _show(world, "clip.mp4")
    kinds = {a["kind"] for a in detail["artifacts"]}
    assert {"keyframe", "shot", "thumbnail", "phash", "labels", "transcript", "audio_events"} <= kinds
    for art in detail["artifacts"]:
        assert art["operator_version"] and art["params_hash"] and art["duration_ms"] >= 0
    labels = next(a for a in detail["artifacts"] if a["kind"] == "labels")
    assert labels["model"] and labels["model_version"]
    trail = [(e["entity"], e["action"], e["actor"]) for e in detail["audit"]]
    assert trail[0] == ("assets", "insert", "ingest")
    assert ("operator_runs", "insert", f"worker:{detail['id']}:labels") in trail


def _search(world: dict[str, Any], query: str, *extra: str) -> list[dict[str, Any]]:
    """Moments, best first: these tests are about where in an asset the words are."""
    exit_code, out = world["cli"]("search", query, "--json", "--group", "moment", *extra)
    assert exit_code == 0
    return out["results"]


def _asset_id(world: dict[str, Any], name: str) -> str:
    return str(_accepted(world)[name]["asset_id"])


def test_words_spoken_in_a_wav_find_it_with_the_right_moment(world: dict[str, Any]) -> None:
    hits = [
        h
        for h in _search(world, "he was not an ill disposed young man")
        if h["asset_id"] == _asset_id(world, "interview.wav")
    ]
    assert hits, "the recording is found"
    best = hits[0]
    assert best["source_path"].endswith("interview.wav")
    start = world["second_utterance_start"]
    assert best["start"] <= start + 0.5 and best["end"] >= start + 1.5, (best, start)
    assert best["start"] >= start - GAP_S, "the window is the second utterance, not the first"


def test_words_spoken_in_a_video_find_it_with_the_right_moment(world: dict[str, Any]) -> None:
    hits = _search(world, "orange submarine near a glacier")
    assert hits[0]["asset_id"] == _asset_id(world, "clip.mp4") and hits[0]["media_type"] == "video"
    speech_start, speech_end = world["video_speech"]
    assert hits[0]["start"] <= speech_start + 0.5 and hits[0]["end"] >= speech_start + 1.0
    assert hits[0]["start"] >= speech_start - 1.0 and hits[0]["end"] <= speech_end + 1.0


def test_a_paraphrase_finds_the_text_file(world: dict[str, Any]) -> None:
    hits = _search(world, "city council agreed to pay for a bigger public library")
    assert hits[0]["asset_id"] == _asset_id(world, "news.txt")
    assert hits[0]["start"] is None and "library" in hits[0]["snippet"]


def test_a_word_drawn_in_an_image_finds_it(world: dict[str, Any]) -> None:
    hits = _search(world, "lighthouse", "--type", "image")
    assert hits[0]["asset_id"] == _asset_id(world, "sign.png")
    assert all(h["media_type"] == "image" for h in hits)


def test_assets_show_rejects_unknown_ids(world: dict[str, Any]) -> None:
    exit_code, _ = world["cli"]("assets", "show", "ffffffff")
    assert exit_code == 2
