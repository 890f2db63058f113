"""A scanned document as a TIFF of several pages: analysed by its first page, its text untimed (a still
picture's), not as an animation whose pages last 20 ms each."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest
from PIL import Image

from mediasift.config import Settings
from mediasift.service import Mediasift

from support import mediagen

pytestmark = pytest.mark.slow


def test_a_tiff_of_several_pages_is_read_by_its_first_page_untimed(settings: Settings, media_dir: Path) -> None:
    made = [mediagen.make_text_image(media_dir / f"p{n}.png", f"LEDGER PAGE {n}", size=(600, 200)) for n in (1, 2, 3)]
    pages = [Image.open(path).convert("RGB") for path in made]
    scan = media_dir / "scan.tif"
    pages[0].save(scan, save_all=True, append_images=pages[1:])
    with closing(Mediasift(settings)) as system:
        (accepted,) = system.ingest([scan], wait=True).accepted
        detail = system.describe(accepted.asset_id)
        words = [s for s in system.exports.document(accepted.asset_id).segments.get("ocr", []) if s.text]
    assert (detail.status, detail.metadata["animated"], detail.metadata["pages"]) == ("done", False, 3)
    assert [(s.text, s.start, s.end) for s in words] == [("LEDGER PAGE 1", None, None)]
