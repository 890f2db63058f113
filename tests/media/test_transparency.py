"""A transparent picture is seen on a background its content shows against: black text on a
transparent background (a logo, a signature, an icon) is read, not taken for a black picture."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from mediasift.config import Settings
from mediasift.media.pictures import flattened
from mediasift.service import Mediasift

from support import mediagen


def _lettering(word: str, ink: tuple[int, int, int, int], mode: str = "RGBA") -> Image.Image:
    picture = Image.new("RGBA", (640, 200), (0, 0, 0, 0))  # transparent black, as image editors save it
    ImageDraw.Draw(picture).text((40, 50), word, font=mediagen.font(90), fill=ink)
    return picture if mode == "RGBA" else picture.convert(mode)


def test_dark_content_is_laid_on_white_and_light_content_on_black() -> None:
    dark = np.asarray(flattened(_lettering("GIRAFFE", (0, 0, 0, 255)), 2560))
    assert dark[0, 0].tolist() == [255, 255, 255] and dark.min() == 0, "black letters on white"
    light = np.asarray(flattened(_lettering("GIRAFFE", (255, 255, 255, 255)), 2560))
    assert light[0, 0].tolist() == [0, 0, 0] and light.max() == 255, "white letters on black"
    grey = np.asarray(flattened(_lettering("GIRAFFE", (0, 0, 0, 255), mode="LA"), 2560))
    assert grey.shape == (200, 640, 3) and grey[0, 0].tolist() == [255, 255, 255]
    palette = Image.new("P", (640, 200), 0)  # entry 0 transparent black, entry 1 black ink
    palette.putpalette([0, 0, 0] * 256)
    palette.info["transparency"] = 0
    ImageDraw.Draw(palette).text((40, 50), "GIRAFFE", font=mediagen.font(90), fill=1)
    drawn = np.asarray(flattened(palette, 2560))
    assert drawn[0, 0].tolist() == [255, 255, 255] and drawn.min() == 0, "a palette's transparent entry: white"
    opaque = Image.new("RGB", (8, 8), (10, 20, 30))
    assert np.asarray(flattened(opaque, 2560)).tolist() == np.asarray(opaque).tolist(), "no alpha: as it is"


def test_black_text_on_a_transparent_background_is_read_and_hashed(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "logo.png"
    _lettering("GIRAFFE", (0, 0, 0, 255)).save(path)
    with closing(Mediasift(settings)) as system:
        report = system.ingest([path], wait=True)
        (asset,) = [a.asset_id for a in report.accepted]
        detail = system.describe(asset)
        found = system.search("giraffe", mode="keyword")
    read = " ".join(a.text or "" for a in detail.artifacts if a.kind == "ocr")
    assert "GIRAFFE" in read.upper(), read
    assert [hit.asset_id for hit in found] == [asset]
    (phash,) = [a.data["phash"] for a in detail.artifacts if a.kind == "phash"]
    assert phash.strip("0"), "not the hash of a black picture"
