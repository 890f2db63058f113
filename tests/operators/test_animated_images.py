"""An animated picture is analysed by its distinct frames, each timed like a video's keyframe: a GIF
whose caption and face appear only after its first frame is found by them, at the time they show."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest
from PIL import Image

from mediasift.config import Settings
from mediasift.search.hybrid import SearchMode
from mediasift.service import Mediasift
from mediasift.service_models import ExportFormat

from support import mediagen

pytestmark = pytest.mark.slow

SIZE = (480, 270)


def _frames(media_dir: Path) -> list[Image.Image]:
    """1 s of a plain gradient, then 0.5 s of a caption, then 0.5 s of a face (100 ms a frame)."""
    caption = Image.open(mediagen.make_text_image(media_dir / "caption.png", "HARBOUR 42", size=SIZE)).convert("RGB")
    face = Image.fromarray(mediagen.photo("astronaut")).resize((SIZE[1], SIZE[1]))
    portrait = Image.new("RGB", SIZE, (90, 90, 90))
    portrait.paste(face, ((SIZE[0] - SIZE[1]) // 2, 0))
    plain = Image.fromarray(mediagen.gradient(SIZE))
    return [plain] * 10 + [caption] * 5 + [portrait] * 5


@pytest.mark.parametrize(("name", "save"), [("loop.gif", {}), ("loop.webp", {"lossless": True}), ("loop.png", {})])
def test_what_an_animation_shows_after_its_first_frame_is_found_at_its_time(
    settings: Settings, media_dir: Path, name: str, save: dict[str, object]
) -> None:
    frames = _frames(media_dir)
    path = media_dir / name
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0, **save)
    with closing(Mediasift(settings)) as system:
        (accepted,) = system.ingest([path], wait=True).accepted
        asset = accepted.asset_id
        assert system.asset_states([asset])[asset].status == "done"
        with system.db.transaction() as conn:
            rows = conn.execute(
                "SELECT operator, kind, start_s, end_s, text FROM segments WHERE asset_id = %s "
                "AND operator IN ('ocr', 'faces') ORDER BY start_s",
                (asset,),
            ).fetchall()
        read = [(r["start_s"], r["end_s"]) for r in rows if r["operator"] == "ocr" and "HARBOUR" in (r["text"] or "")]
        faces = [(r["start_s"], r["end_s"]) for r in rows if r["operator"] == "faces"]
        assert read == [(1.0, 1.5)], rows
        assert faces == [(1.5, 2.0)], rows
        (found,) = system.answers("harbour 42", mode=SearchMode.KEYWORD).results
        assert found.asset_id == asset and found.moments[0].start == 1.0
        assert system.describe(asset).media_type == "image"
        cues = system.exports.text(asset, ExportFormat.OCR_VTT)
        assert "00:00:01.000 --> 00:00:01.500\nHARBOUR 42" in cues, cues


def test_a_still_picture_is_analysed_once_untimed(settings: Settings, media_dir: Path) -> None:
    path = mediagen.make_text_image(media_dir / "still.png", "HARBOUR 42", size=SIZE)
    with closing(Mediasift(settings)) as system:
        (accepted,) = system.ingest([path], wait=True).accepted
        with system.db.transaction() as conn:
            rows = conn.execute(
                "SELECT start_s, end_s, text FROM segments WHERE asset_id = %s AND operator = 'ocr'",
                (accepted.asset_id,),
            ).fetchall()
    assert [(r["start_s"], r["end_s"], "HARBOUR" in (r["text"] or "")) for r in rows] == [(None, None, True)]
