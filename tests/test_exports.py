"""Exports through the real pipeline: a video with speech and burned-in subtitles is ingested and
analysed, then its transcript comes out as WebVTT and SRT, its on-screen text as WebVTT and all of it
as JSON. The files are read back with the small parsers here, not with the code that wrote them.

One video and one image are analysed once for the module (the image: what an export says of it).
"""

from __future__ import annotations

import html
import json
import re
from contextlib import closing
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any
from uuid import uuid4

import numpy as np
import pytest
from typer.testing import CliRunner

from mediasift.cli import app
from mediasift.config import Settings
from mediasift.service import Mediasift
from mediasift.service_errors import AssetNotFound, NothingToExport
from mediasift.service_models import ExportFormat

from support import mediagen, shotgen
from support.databases import create_database

pytestmark = pytest.mark.slow

SPEECH_START_S = 1.0
SPOKEN = "The orange submarine surfaced near the northern glacier. The library opens at nine on Saturday mornings."
SAID_WORDS = ("orange", "submarine", "glacier", "library", "saturday")  # spelt one way only
SUBTITLES = (("Storm warning tonight", 1.0, 4.0), ("Ferries cancelled", 5.0, 8.0))
VIDEO_S = 9.0
FPS = 25


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


def _seconds(stamp: str, decimal: str) -> float:
    match = re.fullmatch(rf"(\d{{2,}}):([0-5]\d):([0-5]\d){re.escape(decimal)}(\d{{3}})", stamp)
    assert match, f"bad timestamp {stamp!r}"
    hours, minutes, seconds, millis = (int(g) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds + millis / 1000


def parse_vtt(text: str) -> list[Cue]:
    """WebVTT as a player reads it: the header, then blocks split by blank lines, each an optional
    identifier, a timing line and the text (entities decoded)."""
    blocks = text.split("\n\n")
    assert blocks[0].splitlines()[0] == "WEBVTT"
    cues = []
    for block in filter(None, (b.strip("\n") for b in blocks[1:])):
        lines = block.split("\n")
        if "-->" not in lines[0]:
            lines = lines[1:]
        start, arrow, end = lines[0].split(" ")[:3]
        assert arrow == "-->"
        body = "\n".join(lines[1:])
        assert body and "<" not in body and not re.search(r"&(?!amp;|lt;|gt;)", body), body
        cues.append(Cue(_seconds(start, "."), _seconds(end, "."), html.unescape(body)))
    return cues


def parse_srt(text: str) -> list[Cue]:
    cues = []
    for number, block in enumerate(filter(None, text.strip("\n").split("\n\n")), start=1):
        lines = block.split("\n")
        assert lines[0] == str(number), "numbered from 1, in order"
        start, arrow, end = lines[1].split(" ")
        assert arrow == "-->" and lines[2:], block
        cues.append(Cue(_seconds(start, ","), _seconds(end, ","), "\n".join(lines[2:])))
    return cues


@pytest.fixture(scope="module")
def world(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("exports")
    spoken, rate = mediagen.read_audio(mediagen.make_speech_wav(folder / "spoken.wav", SPOKEN))
    speech = spoken.mean(axis=0)
    padded = mediagen.write_wav(
        folder / "padded.wav", np.concatenate([np.zeros(int(SPEECH_START_S * rate)), speech]), rate
    )
    drop = folder / "drop"
    drop.mkdir()
    video = shotgen.write_frames(
        drop / "news.mp4", shotgen.subtitled_pan(VIDEO_S, SUBTITLES, fps=FPS), (480, 270), FPS, audio_wav=padded
    )
    image = mediagen.make_text_image(drop / "sign.png", "LIGHTHOUSE", size=(320, 180))
    settings = Settings(home=folder / "home", database_url=create_database(pg_server))
    with closing(Mediasift(settings)) as system:
        report = system.ingest([video, image], wait=True)
        assert not report.failed, report.status
        ids = {Path(a.path).name: a.asset_id for a in report.accepted}
    return {
        "settings": settings,
        "folder": folder,
        "video": ids["news.mp4"],
        "image": ids["sign.png"],
        "speech": (SPEECH_START_S, SPEECH_START_S + len(speech) / rate),
    }


def _export(world: dict[str, Any], asset: str, fmt: ExportFormat) -> str:
    with closing(Mediasift(world["settings"])) as system:
        return system.exports.text(world[asset], fmt)


def _words_in_order(cues: list[Cue]) -> list[tuple[str, Cue]]:
    """Each said word with the cue it is in; the words must come in the order they were said."""
    found = []
    position = 0
    text = " ".join(cue.text.lower() for cue in cues)
    for word in SAID_WORDS:
        at = text.find(word, position)
        assert at >= 0, f"{word!r} not found in order in {text!r}"
        position = at + len(word)
        found.append((word, cues[_cue_index(cues, at)]))
    return found


def _cue_index(cues: list[Cue], at: int) -> int:
    offset = 0
    for index, cue in enumerate(cues):
        offset += len(cue.text) + 1
        if at < offset:
            return index
    raise AssertionError(at)


def test_the_transcript_comes_out_as_webvtt_and_srt_with_the_words_said_at_their_times(
    world: dict[str, Any],
) -> None:
    vtt = parse_vtt(_export(world, "video", ExportFormat.VTT))
    srt = parse_srt(_export(world, "video", ExportFormat.SRT))
    assert vtt and [(c.start, c.end, c.text) for c in vtt] == [(c.start, c.end, c.text) for c in srt]
    speech_start, speech_end = world["speech"]
    for cue in vtt:
        assert 0.0 <= cue.start < cue.end <= VIDEO_S
        assert speech_start - 0.5 <= cue.start and cue.end <= speech_end + 0.5, cue
        assert cue.end - cue.start <= 7.0 and len(cue.text) <= 84
    assert all(a.end <= b.start for a, b in pairwise(vtt)), "in order, none over another"
    found = dict(_words_in_order(vtt))
    assert found["orange"].start <= speech_start + 0.5, "the first cue starts when the speech does"
    assert found["saturday"].end >= speech_end - 1.0


def test_on_screen_text_comes_out_as_webvtt_at_the_times_it_is_shown(world: dict[str, Any]) -> None:
    cues = parse_vtt(_export(world, "video", ExportFormat.OCR_VTT))
    for text, start, end in SUBTITLES:
        shown = [c for c in cues if c.text.casefold().replace(" ", "") == text.casefold().replace(" ", "")]
        assert len(shown) == 1, cues
        assert shown[0].start == pytest.approx(start, abs=0.3) and shown[0].end == pytest.approx(end, abs=0.3)


def test_the_json_export_holds_everything_known_and_no_server_path(world: dict[str, Any]) -> None:
    text = _export(world, "video", ExportFormat.JSON)
    assert str(world["folder"]) not in text and str(world["settings"].home) not in text
    document = json.loads(text)
    assert document["version"] == 1 and document["id"] == str(world["video"])
    assert document["sources"] == [{"kind": "file", "name": "news.mp4"}]
    assert document["metadata"]["duration"] == pytest.approx(VIDEO_S, abs=0.1)
    segments = document["segments"]
    assert {"transcript", "ocr", "shot", "keyframe"} <= set(segments)
    said = " ".join(s["text"] for s in segments["transcript"]).lower()
    assert all(word in said for word in SAID_WORDS)
    assert all(s["data"]["words"] and s["start"] is not None for s in segments["transcript"])
    for kind in segments.values():
        starts = [s["start"] for s in kind if s["start"] is not None]
        assert starts == sorted(starts)
    assert document["operators"]["transcribe"]["status"] == "done"
    assert document["operators"]["ocr"]["model"]
    transcript = next(a for a in document["artifacts"] if a["kind"] == "transcript")
    assert transcript["operator"] == "transcribe" and transcript["operator_version"] and transcript["params_hash"]


def test_what_an_asset_cannot_have_is_refused_with_the_reason(world: dict[str, Any], settings: Settings) -> None:
    with pytest.raises(NothingToExport, match=r"^no timed on-screen text for an image$"):
        _export(world, "image", ExportFormat.OCR_VTT)
    with pytest.raises(NothingToExport, match=r"^an image has no speech$"):
        _export(world, "image", ExportFormat.SRT)
    assert json.loads(_export(world, "image", ExportFormat.JSON))["segments"]["ocr"][0]["text"] == "LIGHTHOUSE"
    with closing(Mediasift(settings)) as system, pytest.raises(AssetNotFound):
        system.exports.text(uuid4(), ExportFormat.VTT)


def test_an_asset_not_analysed_yet_has_no_transcript_yet(settings: Settings, tmp_path: Path) -> None:
    wav = mediagen.make_speech_wav(tmp_path / "notice.wav", "the ferry leaves at noon")
    with closing(Mediasift(settings)) as system:
        (accepted,) = system.ingest([wav]).accepted  # queued, not waited for: no worker takes it
        with pytest.raises(NothingToExport, match=r"^no transcript yet: the asset's analysis is pending$"):
            system.exports.text(accepted.asset_id, ExportFormat.VTT)
        with pytest.raises(NothingToExport, match=r"^an audio file has no on-screen text$"):
            system.exports.text(accepted.asset_id, ExportFormat.OCR_VTT)


def test_the_cli_exports_by_id_prefix_to_stdout_or_a_file(world: dict[str, Any], tmp_path: Path) -> None:
    settings: Settings = world["settings"]
    runner = CliRunner(env={"MEDIASIFT_HOME": str(settings.home), "MEDIASIFT_DATABASE_URL": settings.database_url})
    prefix = str(world["video"])[:8]
    printed = runner.invoke(app, ["assets", "export", prefix, "--format", "srt"])
    assert printed.exit_code == 0, printed.output
    assert printed.stdout == _export(world, "video", ExportFormat.SRT)
    out = tmp_path / "news.vtt"
    written = runner.invoke(app, ["assets", "export", prefix, "-f", "ocr-vtt", "--output", str(out)])
    assert written.exit_code == 0 and written.stdout == ""
    assert out.read_text(encoding="utf-8") == _export(world, "video", ExportFormat.OCR_VTT)
    refused = runner.invoke(app, ["assets", "export", str(world["image"]), "--format", "ocr-vtt"])
    assert refused.exit_code == 2 and "no timed on-screen text for an image" in refused.stderr
    for where, why in ((tmp_path, "Is a directory"), (tmp_path / "absent" / "x.vtt", "No such file or directory")):
        unwritable = runner.invoke(app, ["assets", "export", prefix, "--output", str(where)])
        said = "".join(unwritable.stderr.split())  # rich wraps long lines, inside a path too
        assert unwritable.exit_code == 2 and "".join(f"cannot write {where}: {why}".split()) in said, unwritable.output
