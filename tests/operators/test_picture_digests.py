"""The picture's own digests: its perceptual hash and its thumbnail, made from a reduced copy of a
large photo, come out as they would from the whole picture."""

from __future__ import annotations

import io
from pathlib import Path

import imagehash
import numpy as np
import pytest
from PIL import Image

from mediasift.config import Settings
from mediasift.inference.door import Inference
from mediasift.mediatype import MediaType
from mediasift.operators.phash import PerceptualHash
from mediasift.operators.thumbnail import Thumbnail

from support import mediagen
from support.contexts import memory_context

pytest.importorskip("skimage.data")


def _large(name: str, path: Path) -> np.ndarray:
    """A scikit-image photo scaled up to 1600 pixels wide, saved at ``path``."""
    photo = Image.fromarray(mediagen.photo(name))
    large = photo.resize((1600, round(1600 * photo.height / photo.width)), Image.Resampling.LANCZOS)
    large.save(path)
    return np.asarray(large)


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Inference:
    return Inference(Settings(home=tmp_path_factory.mktemp("home")))


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea"])
def test_the_hash_of_a_large_photo_is_that_of_the_whole_picture(name: str, tmp_path: Path, door: Inference) -> None:
    pixels = _large(name, tmp_path / "photo.png")
    (artifact,) = PerceptualHash().run(memory_context(door, tmp_path / "photo.png", MediaType.IMAGE)).artifacts
    found = imagehash.hex_to_hash(artifact.data["phash"])
    assert found - imagehash.phash(Image.fromarray(pixels)) <= 4, "the whole picture's hash, or within a few bits"
    other = imagehash.phash(Image.fromarray(mediagen.photo("rocket")))
    assert found - other > 16, "and far from another photo's"


def test_the_thumbnail_of_a_large_photo_looks_like_the_whole_picture_shrunk(tmp_path: Path, door: Inference) -> None:
    pixels = _large("astronaut", tmp_path / "photo.png")
    blobs: dict[str, bytes] = {}
    ctx = memory_context(door, tmp_path / "photo.png", MediaType.IMAGE, params={"max_side": 320}, blobs=blobs)
    (artifact,) = Thumbnail().run(ctx).artifacts
    assert artifact.blob_sha256 is not None
    with Image.open(io.BytesIO(blobs[artifact.blob_sha256])) as thumbnail:
        assert thumbnail.format == "JPEG" and thumbnail.size == (320, 320)
        made = np.asarray(thumbnail.convert("RGB"), dtype=np.float64)
    reference = Image.fromarray(pixels)
    reference.thumbnail((320, 320), Image.Resampling.LANCZOS, reducing_gap=None)
    error = np.mean((made - np.asarray(reference, dtype=np.float64)) ** 2)
    assert 10 * np.log10(255**2 / error) > 30, "within JPEG's own error of the picture shrunk with LANCZOS alone"


@pytest.mark.parametrize(("width", "height"), [(20000, 80), (80, 20000), (1300, 320)])
def test_a_long_picture_is_thumbnailed_by_its_middle_part(
    width: int, height: int, tmp_path: Path, door: Inference
) -> None:
    """A banner 250 times as long as it is high gave a 320x1 thumbnail; its middle part at 4:1 stands
    for it. Just past 4:1 (1300x320) is cut to 4:1 too; a photo is shown whole (the test above)."""
    rng = np.random.default_rng(3)
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[...] = rng.integers(0, 255, 3, dtype=np.uint8)
    long_side = max(width, height)
    # the middle quarter of its length in another colour: what the thumbnail must show
    band = slice(long_side // 2 - 40, long_side // 2 + 40)
    if width > height:
        pixels[:, band] = (250, 20, 20)
    else:
        pixels[band] = (250, 20, 20)
    Image.fromarray(pixels).save(tmp_path / "long.png")
    blobs: dict[str, bytes] = {}
    ctx = memory_context(door, tmp_path / "long.png", MediaType.IMAGE, params={"max_side": 320}, blobs=blobs)
    (artifact,) = Thumbnail().run(ctx).artifacts
    assert artifact.blob_sha256 is not None
    with Image.open(io.BytesIO(blobs[artifact.blob_sha256])) as thumbnail:
        shape = thumbnail.size if width > height else thumbnail.size[::-1]
        assert shape == (320, 80), thumbnail.size
        made = np.asarray(thumbnail.convert("RGB"), dtype=np.int16)
    centre = made[made.shape[0] // 2, made.shape[1] // 2]
    assert abs(int(centre[0]) - 250) < 20 and centre[1] < 60, "the middle of the picture is in it"
