"""OCR recognition micro-batched across concurrent pictures (the inference door's recogniser) reads
exactly what RapidOCR's own per-picture call reads: the same lines, boxes and confidences, whatever
pictures share a batch.

The pictures mix short words (line images padded to the model's nominal width, so several pictures'
lines share model calls), long lines (each picture's run padded to its own widest line), more than
``rec_batch_num`` lines (several runs in one picture) and a picture without text.
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from mediasift.config import Settings
from mediasift.inference import stats
from mediasift.inference.catalog import Role
from mediasift.inference.door import Inference
from mediasift.models.ocr import OcrLine, TextReader, lines_of

from support import mediagen

TEXTS = [
    "OPEN\nDAILY",
    "CITY MUSEUM TICKETS 1280\nNORTH STATION",
    "SALE\n42\nEXIT",
    "RIVER MARKET\nSUMMER CONCERT 2026\nBRIDGE",
    "A1\nNORTH STATION 2026\nB2\nRIVER MARKET\nC3\nSUMMER CONCERT\nD4\nE5",
    "HARVEST FESTIVAL 2026",
]


def _pictures(folder: Path) -> list[npt.NDArray[np.uint8]]:
    pictures = []
    for index, text in enumerate(TEXTS):
        background = mediagen.gradient((640, 360), green=40 * index) if index % 2 else None
        path = mediagen.make_text_image(folder / f"text{index}.png", text, background=background, font_size=30)
        pictures.append(np.asarray(Image.open(path).convert("RGB")))
    pictures.append(np.full((240, 320, 3), 200, dtype=np.uint8))  # no text at all
    return pictures


def _whole_call(reader: TextReader, picture: npt.NDArray[np.uint8]) -> list[OcrLine]:
    """What ``TextReader.read`` answered before batching: RapidOCR's own call on the picture."""
    result = reader.engine(cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    return lines_of(result, picture.shape[1], picture.shape[0])


def _door(tmp_path: Path, wait_ms: float) -> Inference:
    """A door whose recogniser waits ``wait_ms`` for company; no result cache, so every picture is read."""
    settings = Settings(home=tmp_path / "home", batch_max_size=32, batch_wait_ms=wait_ms, inference_cache=False)
    return Inference(settings)


@pytest.mark.slow
def test_batched_recognition_reads_what_the_whole_call_reads(tmp_path: Path) -> None:
    # A long wait, so the lines of all the pictures gather in the batcher.
    door = _door(tmp_path, wait_ms=1000.0)
    reader: TextReader = door.handle(Role.OCR_READER).get()
    pictures = _pictures(tmp_path)
    expected = [_whole_call(reader, picture) for picture in pictures]
    assert all(expected[:-1]) and expected[-1] == []
    assert [reader.read(picture) for picture in pictures] == expected  # both stages, unbatched
    recogniser = door.catalog.ref(Role.OCR_RECOGNISER)
    calls, items = stats.count(recogniser, "calls"), stats.count(recogniser, "items")

    answers: dict[int, list[OcrLine]] = {}
    start = threading.Barrier(len(pictures))

    def job(index: int) -> None:
        start.wait()
        reading = door.read_text(pictures[index])
        assert reading.engine == TextReader.ref.id
        answers[index] = reading.lines

    threads = [threading.Thread(target=job, args=(index,)) for index in range(len(pictures))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [answers[index] for index in range(len(pictures))] == expected
    pictures_with_text = len(pictures) - 1
    # several pictures' lines went through one call
    assert stats.count(recogniser, "calls") - calls < pictures_with_text
    assert stats.count(recogniser, "items") - items == sum(len(lines) for lines in expected)
    assert [line.text for line in expected[1]] == ["CITY MUSEUM TICKETS 1280", "NORTH STATION"]


@pytest.mark.slow
def test_one_picture_alone_reads_the_same(tmp_path: Path) -> None:
    door = _door(tmp_path, wait_ms=0.0)
    reader: TextReader = door.handle(Role.OCR_READER).get()
    picture = _pictures(tmp_path)[4]  # eight lines of mixed widths: two runs of rec_batch_num, padded apart
    expected = _whole_call(reader, picture)
    assert len(expected) == 8 > reader.engine.text_rec.rec_batch_num
    assert door.read_text(picture).lines == expected
    assert reader.read(picture) == expected


@pytest.mark.slow
def test_the_recogniser_is_the_readers_second_stage_not_a_second_copy(tmp_path: Path) -> None:
    """The batched recogniser is the reader seen from its micro-batcher: one RapidOCR in memory."""
    door = _door(tmp_path, wait_ms=0.0)
    reader, recogniser = door.handle(Role.OCR_READER).get(), door.handle(Role.OCR_RECOGNISER).get()
    assert recogniser is reader, "the recogniser loaded a second RapidOCR (models, sessions) of its own"
