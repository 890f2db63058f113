"""A line read with no letter or digit says nothing: RapidOCR reads a white square on a plain red
frame as one "•" whose box is the whole frame, which the asset page drew as a text box around the
picture and listed as on-screen text with nothing in it. Such lines are dropped; a line with one
letter or digit is still kept (stored, below the searchable length)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mediasift.config import Settings
from mediasift.inference.door import Inference
from mediasift.mediatype import MediaType
from mediasift.operators.ocr import Ocr

from support import mediagen
from support.contexts import memory_context

RED = (230, 45, 46)


def _square_on_red() -> np.ndarray:
    pixels = np.zeros((240, 320, 3), np.uint8)
    pixels[:] = RED
    pixels[108:132, 148:172] = 255
    return pixels


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Inference:
    return Inference(Settings(home=tmp_path_factory.mktemp("home")))


def test_the_model_reads_a_bullet_in_a_square_on_red(door: Inference) -> None:
    """The case itself, read by the model as it ships: what the operator must leave out."""
    assert [line.text for line in door.read_text(_square_on_red()).lines] == ["•"]


def test_a_wordless_read_leaves_no_text_and_no_box(door: Inference, tmp_path: Path) -> None:
    Image.fromarray(_square_on_red()).save(tmp_path / "square.png")
    result = Ocr().run(
        memory_context(door, tmp_path / "square.png", MediaType.IMAGE, params=Ocr().params(door.settings))
    )
    assert result.segments == [] and result.artifacts == []


@pytest.mark.parametrize(("text", "searchable"), [("7", False), ("HARBOUR 42", True)])
def test_a_line_with_a_letter_or_a_digit_is_kept(door: Inference, tmp_path: Path, text: str, searchable: bool) -> None:
    path = mediagen.make_text_image(tmp_path / "sign.png", text, size=(480, 270))
    (segment,) = Ocr().run(memory_context(door, path, MediaType.IMAGE, params=Ocr().params(door.settings))).segments
    assert [line["text"] for line in segment.data["lines"]] == [text]
    assert segment.text == (text if searchable else None)
