"""The CLIP operator's tag floor (``MIN_TAG_PROBABILITY``, 0.2), with the tiny colour CLIP model the
tests export (:mod:`support.clipgen`): its image tower averages the picture's colour, so a picture's
tag probabilities are steered by its pixels. Tagged "red" and "yellow", an orange of green 125 is
yellow at 0.168; turning columns of it to green 126 moves that up smoothly (8 of 64 columns: 0.179,
36 of 64: 0.224). The test checks the probabilities it relies on through the door, then runs the
operator with its own parameters: a tag under the floor is kept in the data but is not searchable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from mediasift.config import Settings
from mediasift.inference.door import Inference
from mediasift.mediatype import MediaType
from mediasift.operators.clip import Clip

from support.clipgen import export_tiny_clip
from support.contexts import memory_context

TAGS = "red, yellow"


def _orange(path: Path, columns: int) -> tuple[Path, np.ndarray]:
    pixels = np.full((64, 64, 3), (255, 125, 0), np.uint8)
    pixels[:, :columns, 1] = 126
    Image.fromarray(pixels).save(path)
    return path, pixels


def test_a_tag_is_searchable_from_probability_0_2(tmp_path: Path) -> None:
    """The tag "yellow" at 0.224 (inside the line) is searchable; at 0.179 (just past it) it is not."""
    settings = Settings(home=tmp_path / "home", clip_dir=export_tiny_clip(tmp_path / "clip"), clip_tags=TAGS)
    door = Inference(settings)
    inside, inside_pixels = _orange(tmp_path / "inside.png", 36)
    past, past_pixels = _orange(tmp_path / "past.png", 8)
    scored = door.clip_tags(np.stack(door.clip_images([inside_pixels, past_pixels])), ["red", "yellow"])
    assert [round(dict(tags)["yellow"], 3) for tags in scored] == [0.224, 0.179]

    for path, searchable in ((inside, "red; yellow"), (past, "red")):
        result = Clip().run(memory_context(door, path, MediaType.IMAGE, params=Clip().params(settings)))
        (segment,) = result.segments
        assert segment.text == searchable
        assert [tag["tag"] for tag in result.artifacts[0].data["tags"]] == ["red", "yellow"], "both are kept"
