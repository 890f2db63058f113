"""The faces operator's two floors, with the real detector: a face is searchable from confidence 0.8
(``MIN_CONFIDENCE``) and stored from 0.5 (``STORE_MIN_CONFIDENCE``).

The detector's own scores are steered by blurring the astronaut photo: the more blur, the less sure
YuNet is of her face (0.93 sharp, 0.81 at sigma 9, 0.79 at 9.5; at 14 its best guesses are two
blurry ovals at 0.58 and 0.46). Each test first checks the scores it relies on, asking the detector
through the door with no floor, then runs the operator with its own parameters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image

from mediasift.config import Settings
from mediasift.inference.door import Inference
from mediasift.mediatype import MediaType
from mediasift.operators.faces import Faces
from mediasift.records import OperatorResult

from support import mediagen
from support.contexts import memory_context

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Inference:
    return Inference(Settings(home=tmp_path_factory.mktemp("home"), inference_cache=False))


def _blurred(tmp_path: Path, sigma: float) -> tuple[Path, np.ndarray]:
    pixels = cv2.GaussianBlur(mediagen.photo("astronaut"), (0, 0), sigma)
    path = tmp_path / f"astronaut_blur{sigma}.png"
    Image.fromarray(pixels).save(path)
    return path, pixels


def _scores(door: Inference, pixels: np.ndarray) -> list[float]:
    return [round(face.confidence, 2) for face in door.faces(pixels, 0.0)]


def _run(door: Inference, path: Path) -> tuple[OperatorResult, list[dict[str, Any]]]:
    context = memory_context(door, path, MediaType.IMAGE, params=Faces().params(door.settings))
    result = Faces().run(context)
    (artifact,) = result.artifacts
    return result, artifact.data["faces"]


def test_a_face_is_searchable_from_confidence_0_8(tmp_path: Path, door: Inference) -> None:
    """0.81 (just inside the line): a searchable face. 0.79 (just past it): stored, not searchable."""
    inside, inside_pixels = _blurred(tmp_path, 9.0)
    past, past_pixels = _blurred(tmp_path, 9.5)
    assert _scores(door, inside_pixels)[0] == 0.81 and _scores(door, past_pixels)[:2] == [0.79, 0.56]

    result, faces = _run(door, inside)
    (segment,) = result.segments
    assert segment.text == "face" and segment.confidence == pytest.approx(0.81, abs=0.005)
    result, faces = _run(door, past)
    assert result.segments == [], "a face at 0.79 is not searchable"
    assert [round(face["confidence"], 2) for face in faces] == [0.79, 0.56], "but it is stored"
    assert result.artifacts[0].segment_key is None


def test_a_face_is_stored_from_confidence_0_5(tmp_path: Path, door: Inference) -> None:
    """At sigma 14 the detector scores two things 0.58 (inside the line: stored) and 0.46 (past it)."""
    path, pixels = _blurred(tmp_path, 14.0)
    assert _scores(door, pixels)[:2] == [0.58, 0.46]
    result, faces = _run(door, path)
    assert result.segments == []
    assert [round(face["confidence"], 2) for face in faces] == [0.58]
