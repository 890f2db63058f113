"""Input digests: a decoded picture's digest is taken once for all the operators that ask for it, and
is the digest its bytes give."""

from __future__ import annotations

import gc
import hashlib
import io

import numpy as np
from PIL import Image

from mediasift.inference import cache
from mediasift.inference.cache import input_hash
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
    before = len(cache._FIRST_ARRAYS)
    assert input_hash(picture) == plain_hash(picture)
    assert len(cache._FIRST_ARRAYS) == before + 1
    # Asked again, alone or with a confidence floor after it (a detector's key): the same state, continued.
    assert input_hash(picture, "0.5") == plain_hash(picture, "0.5")
    assert input_hash(picture) == plain_hash(picture)
    assert len(cache._FIRST_ARRAYS) == before + 1
    other = decoded_picture(2)
    assert input_hash(other) == plain_hash(other) != input_hash(picture)
    del picture, other
    gc.collect()
    assert len(cache._FIRST_ARRAYS) == before  # gone with their pictures


def test_an_array_that_can_change_is_hashed_afresh_each_time() -> None:
    pixels = np.zeros((4, 4, 3), dtype=np.uint8)
    pixels.setflags(write=False)  # it owns its memory: it can be made writeable again
    before = len(cache._FIRST_ARRAYS)
    first = input_hash(pixels)
    pixels.setflags(write=True)
    pixels[0, 0, 0] = 1
    assert input_hash(pixels) == plain_hash(pixels) != first
    view = np.frombuffer(bytearray(48), dtype=np.uint8).reshape(4, 4, 3)
    view.setflags(write=False)  # read-only, over memory that is not
    assert input_hash(view) == plain_hash(view)
    assert len(cache._FIRST_ARRAYS) == before
