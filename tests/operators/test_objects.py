"""The objects operator's floor (``object_min_confidence``, 0.5), with the real detector.

The detector's own score is steered by blurring the cat photo: SSD-MobileNet finds the cat at 0.91
sharp, 0.55 at sigma 6.5 and 0.46 at 7.5. Each test first checks the score it relies on, asking the
detector through the door with a low floor, then runs the operator with its parameters from settings.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mediasift.config import Settings
from mediasift.inference.door import Inference
from mediasift.mediatype import MediaType
from mediasift.operators.objects import Objects

from support import mediagen
from support.contexts import memory_context

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


def _found(settings: Settings, path: Path) -> list[tuple[str, float]]:
    door = Inference(settings)
    result = Objects().run(memory_context(door, path, MediaType.IMAGE, params=Objects().params(settings)))
    (artifact,) = result.artifacts
    return [(found["label"], round(found["confidence"], 2)) for found in artifact.data["objects"]]


def _cat_score(settings: Settings, pixels: np.ndarray) -> float:
    found = Inference(settings).objects(pixels, 0.3)
    return round(max(d.confidence for d in found if d.label == "cat"), 2)


def test_an_object_is_kept_from_confidence_0_5(tmp_path: Path, home: Path) -> None:
    """The cat at 0.55 (inside the line) is kept; at 0.46 (just past it) it is not."""
    settings = Settings(home=home)
    inside, inside_pixels = mediagen.blurred_photo(tmp_path, "chelsea", 6.5)
    past, past_pixels = mediagen.blurred_photo(tmp_path, "chelsea", 7.5)
    assert (_cat_score(settings, inside_pixels), _cat_score(settings, past_pixels)) == (0.55, 0.46)
    assert _found(settings, inside) == [("cat", 0.55)]
    assert _found(settings, past) == []


def test_the_setting_moves_the_line(tmp_path: Path, home: Path) -> None:
    inside, _ = mediagen.blurred_photo(tmp_path, "chelsea", 6.5)
    past, _ = mediagen.blurred_photo(tmp_path, "chelsea", 7.5)
    assert _found(Settings(home=home, object_min_confidence=0.45), past) == [("cat", 0.46)]
    assert _found(Settings(home=home, object_min_confidence=0.56), inside) == []
