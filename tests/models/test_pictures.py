"""What is made of a decoded picture once for every model that asks: its digest (the one its bytes
give) and its copy shrunk for the faces detector and the OCR gate."""

from __future__ import annotations

import gc
import hashlib
import io

import cv2
import numpy as np
from PIL import Image

from mediasift.inference.cache import input_hash
from mediasift.models.pictures import DERIVED, shrunk
from mediasift.operators.images import to_rgb_array


def plain_hash(*parts: bytes | str | np.ndarray) -> bytes:
    """The digest as input_hash defines it, taken afresh."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            array = np.ascontiguousarray(part)
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(array.data)
        else:
            digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\x00")
    return digest.digest()


def decoded_picture(seed: int) -> np.ndarray:
    pixels = np.random.default_rng(seed).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    picture = to_rgb_array(Image.open(out))
    picture.setflags(write=False)
    return picture


def test_a_decoded_picture_is_hashed_once_and_its_digest_is_the_plain_one() -> None:
    picture = decoded_picture(1)
    before = len(DERIVED)
    assert input_hash(picture) == plain_hash(picture)
    assert len(DERIVED) == before + 1
    # Asked again, alone or with a confidence floor after it (a detector's key): the same state, continued.
    assert input_hash(picture, "0.5") == plain_hash(picture, "0.5")
    assert input_hash(picture) == plain_hash(picture)
    assert len(DERIVED) == before + 1
    other = decoded_picture(2)
    assert input_hash(other) == plain_hash(other) != input_hash(picture)
    del picture, other
    gc.collect()
    assert len(DERIVED) == before  # gone with their pictures


def test_an_array_that_can_change_is_hashed_afresh_each_time() -> None:
    pixels = np.zeros((4, 4, 3), dtype=np.uint8)
    pixels.setflags(write=False)  # it owns its memory: it can be made writeable again
    before = len(DERIVED)
    first = input_hash(pixels)
    pixels.setflags(write=True)
    pixels[0, 0, 0] = 1
    assert input_hash(pixels) == plain_hash(pixels) != first
    view = np.frombuffer(bytearray(48), dtype=np.uint8).reshape(4, 4, 3)
    view.setflags(write=False)  # read-only, over memory that is not
    assert input_hash(view) == plain_hash(view)
    assert len(DERIVED) == before


def test_a_picture_is_shrunk_once_for_the_faces_detector_and_the_ocr_gate() -> None:
    picture = decoded_picture(3)  # 80x60
    small = shrunk(picture, 40)
    assert small.shape == (30, 40, 3) and not small.flags.writeable
    expected = cv2.resize(np.ascontiguousarray(picture), (40, 30), interpolation=cv2.INTER_AREA)
    assert np.array_equal(small, expected)
    assert shrunk(picture, 40) is small  # kept: the second asker gets the same copy
    assert shrunk(picture, 80) is picture and shrunk(picture, 100) is picture  # not larger: itself
    changeable = np.array(picture)
    assert shrunk(changeable, 40) is not shrunk(changeable, 40)  # made afresh each time
    assert np.array_equal(shrunk(changeable, 40), expected)
