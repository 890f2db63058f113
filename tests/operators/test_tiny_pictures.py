"""A picture too small to show anything (a tracking pixel, a spacer) is stored and hashed, and the
models that name what a picture shows do not look at it: scaled up to their input, a 1x1 red PNG was
a "refrigerator" at 0.61. One of 16 pixels a side (the smallest they look at) is still looked at."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

from PIL import Image

from mediasift.config import Settings
from mediasift.service import Mediasift

from support import mediagen


def test_models_that_name_things_skip_a_picture_under_16_pixels_a_side(settings: Settings, tmp_path: Path) -> None:
    Image.new("RGB", (1, 1), (255, 0, 0)).save(tmp_path / "pixel.png")
    Image.fromarray(mediagen.photo("coffee")).resize((16, 16)).save(tmp_path / "icon.png")
    with closing(Mediasift(settings)) as system:
        report = system.ingest([tmp_path / "pixel.png", tmp_path / "icon.png"], wait=True)
        kinds = {
            Path(a.path).name: {art.kind for art in system.describe(a.asset_id).artifacts} for a in report.accepted
        }
    assert all(state.status == "done" for state in report.status.values())
    assert {"thumbnail", "phash"} <= kinds["pixel.png"] and not kinds["pixel.png"] & {"labels", "objects", "faces"}
    assert "labels" in kinds["icon.png"], "16 pixels a side is looked at"
