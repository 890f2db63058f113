"""A HEIC photo, as phones take them, goes through the whole pipeline: read upright (libheif turns it
as the file says), its words read and found, its camera details kept, and a JPEG preview made for the
pages, since browsers do not display HEIC."""

from __future__ import annotations

import io
from contextlib import closing
from datetime import datetime
from pathlib import Path

import numpy as np
import pillow_heif
import pytest
from PIL import Image

from mediasift.config import Settings
from mediasift.search.hybrid import SearchMode
from mediasift.service import Mediasift

from support import mediagen

pytestmark = pytest.mark.slow

SIZE = (640, 360)


def test_a_sideways_stored_heic_is_read_upright_and_found_by_its_words(settings: Settings, media_dir: Path) -> None:
    upright = Image.open(mediagen.make_text_image(media_dir / "sign.png", "HARBOUR 42", size=SIZE))
    # stored turned a quarter left, with EXIF orientation 6 (turn right to view), as a phone held upright
    sideways = upright.convert("RGB").transpose(Image.Transpose.ROTATE_90)
    taken = datetime(2024, 6, 1, 8, 15)
    path = mediagen.make_jpeg_with_exif(media_dir / "IMG_0042.HEIC", "Apple", "iPhone 15", taken,
                                        gps=(59.91, 10.75), orientation=6, base=np.asarray(sideways))  # fmt: skip
    assert b"irot" in path.read_bytes(), "the file holds the picture sideways, with the turn that shows it upright"
    with closing(Mediasift(settings)) as system:
        (accepted,) = system.ingest([path], wait=True).accepted
        asset = accepted.asset_id
        detail = system.describe(asset)
        assert (detail.status, detail.media_type, detail.mime) == ("done", "image", "image/heic")
        meta = detail.metadata
        assert (meta["format"], meta["width"], meta["height"], meta["orientation"]) == ("HEIF", *SIZE, 1)
        assert (meta["exif"]["camera_make"], meta["exif"]["taken_at"]) == ("Apple", "2024-06-01T08:15:00")
        assert meta["exif"]["gps"]["lat"] == pytest.approx(59.91, abs=1e-4)
        (found,) = system.answers("harbour 42", mode=SearchMode.KEYWORD).results
        assert found.asset_id == asset
        blobs = {a.kind: a.blob_sha256 for a in detail.artifacts if a.blob_sha256}
        stored = {kind: system.blobs.read_bytes(blobs[kind]) for kind in ("thumbnail", "preview")}
    pictures = {kind: Image.open(io.BytesIO(data)) for kind, data in stored.items()}
    assert {kind: (p.format, p.size) for kind, p in pictures.items()} == {
        "thumbnail": ("JPEG", (320, 180)),
        "preview": ("JPEG", SIZE),  # upright, at the picture's own size (under 1600 a side)
    }


def test_a_browser_picture_gets_no_preview(settings: Settings, media_dir: Path) -> None:
    path = mediagen.make_text_image(media_dir / "sign.jpg", "HARBOUR 42", size=SIZE)
    with closing(Mediasift(settings)) as system:
        (accepted,) = system.ingest([path], wait=True).accepted
        kinds = {a.kind for a in system.describe(accepted.asset_id).artifacts}
    assert "thumbnail" in kinds and "preview" not in kinds


def test_a_heic_with_several_pictures_is_analysed_by_its_primary_one(settings: Settings, media_dir: Path) -> None:
    first = Image.open(mediagen.make_text_image(media_dir / "a.png", "NORTH PIER", size=SIZE)).convert("RGB")
    primary = Image.open(mediagen.make_text_image(media_dir / "b.png", "HARBOUR 42", size=SIZE)).convert("RGB")
    heif = pillow_heif.HeifFile()
    heif.add_from_pillow(first)
    heif.add_from_pillow(primary)
    path = media_dir / "burst.heic"
    heif.save(path, primary_index=1)
    with closing(Mediasift(settings)) as system:
        (accepted,) = system.ingest([path], wait=True).accepted
        meta = system.describe(accepted.asset_id).metadata
        assert (meta["n_frames"], meta["animated"]) == (1, False)
        found = system.answers("harbour 42", mode=SearchMode.KEYWORD).results
        assert [r.asset_id for r in found] == [accepted.asset_id]
        assert system.answers("north pier", mode=SearchMode.KEYWORD).results == []
