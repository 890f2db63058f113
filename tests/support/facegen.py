"""Pictures of known people for the people (face grouping) tests and evaluation.

Only one identity has a clear, large face among the photos bundled with scikit-image: the astronaut
(Eileen Collins). The cameraman (``camera``) is a second, smaller and grey one. scikit-image's LFW
subset adds 100 small (25x25) grey faces of other people, shown here upscaled into a frame; LFW holds
several pictures of some people, so two of them may be the same person.

The astronaut's variants are what a library holds of one person: other crops, scales, a mirror image,
brighter and darker exposures, heavy JPEG, a slight rotation, grey, and her head pasted onto other
photos at other sizes.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image
from skimage import data

Pixels = npt.NDArray[np.uint8]

HEAD = (150, 30, 300, 210)  # x0, y0, x1, y1 of the astronaut's head in the 512x512 photo


@dataclass(frozen=True)
class Picture:
    name: str
    person: str  # who is in it: "astronaut", "cameraman", "lfw-N"
    pixels: Pixels


def astronaut() -> Pixels:
    return np.asarray(data.astronaut(), dtype=np.uint8)


def jpeg(pixels: Pixels, quality: int) -> Pixels:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(out.getvalue())).convert("RGB"), dtype=np.uint8)


def scaled(pixels: Pixels, factor: float) -> Pixels:
    height, width = pixels.shape[:2]
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return np.asarray(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def rotated(pixels: Pixels, degrees: float) -> Pixels:
    height, width = pixels.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return np.asarray(cv2.warpAffine(pixels, matrix, (width, height), borderMode=cv2.BORDER_REFLECT), dtype=np.uint8)


def exposure(pixels: Pixels, gain: float) -> Pixels:
    return np.clip(pixels.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def pasted(background: Pixels, head: Pixels, at: tuple[int, int], factor: float) -> Pixels:
    """``head`` scaled by ``factor`` onto a copy of ``background`` with its top-left corner at ``at``."""
    small = scaled(head, factor)
    out = background.copy()
    x, y = at
    h, w = small.shape[:2]
    out[y : y + h, x : x + w] = small[: out.shape[0] - y, : out.shape[1] - x]
    return out


def grey(pixels: Pixels) -> Pixels:
    return np.repeat(np.asarray(cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY), dtype=np.uint8)[:, :, None], 3, axis=2)


def astronaut_variants() -> list[Picture]:
    """18 pictures of the astronaut, none the same pixels."""
    a = astronaut()
    x0, y0, x1, y1 = HEAD
    head = a[y0:y1, x0:x1]
    coffee, rocket = np.asarray(data.coffee(), dtype=np.uint8), np.asarray(data.rocket(), dtype=np.uint8)
    made: dict[str, Callable[[], Pixels]] = {
        "original": lambda: a,
        "crop-tight": lambda: a[20:260, 120:340],
        "crop-wide": lambda: a[0:400, 40:440],
        "crop-offcentre": lambda: a[10:330, 140:460],
        "half-size": lambda: scaled(a, 0.5),
        "three-quarter": lambda: scaled(a, 0.75),
        "one-and-a-half": lambda: scaled(a, 1.5),
        "mirrored": lambda: np.ascontiguousarray(a[:, ::-1]),
        "darker": lambda: exposure(a, 0.55),
        "brighter": lambda: exposure(a, 1.35),
        "jpeg-q15": lambda: jpeg(a, 15),
        "jpeg-q40-small": lambda: jpeg(scaled(a, 0.6), 40),
        "rotated-8": lambda: rotated(a, 8),
        "rotated-minus-6": lambda: rotated(a, -6),
        "grey": lambda: grey(a),
        "on-coffee": lambda: pasted(coffee, head, (300, 120), 1.0),
        "on-rocket-small": lambda: pasted(rocket, head, (60, 200), 0.7),
        "on-rocket-large": lambda: pasted(rocket, head, (330, 60), 1.4),
    }
    return [Picture(name, "astronaut", np.ascontiguousarray(make())) for name, make in made.items()]


def cameraman() -> list[Picture]:
    """The cameraman, as shot and mirrored."""
    c = grey(np.repeat(np.asarray(data.camera(), dtype=np.uint8)[:, :, None], 3, axis=2))
    return [
        Picture("camera", "cameraman", c),
        Picture("camera-mirrored", "cameraman", np.ascontiguousarray(c[:, ::-1])),
    ]


def lfw_faces(count: int = 100) -> list[Picture]:
    """LFW's small faces (other people), each upscaled to 150 px inside a 300 px frame."""
    pictures = []
    for index, face in enumerate(data.lfw_subset()[: min(count, 100)]):
        pixels = (np.clip(face, 0, 1) * 255).astype(np.uint8)
        pixels = np.asarray(cv2.resize(pixels, (150, 150), interpolation=cv2.INTER_CUBIC), dtype=np.uint8)
        pixels = np.asarray(cv2.copyMakeBorder(pixels, 75, 75, 75, 75, cv2.BORDER_REPLICATE), dtype=np.uint8)
        pictures.append(Picture(f"lfw-{index}", f"lfw-{index}", np.repeat(pixels[:, :, None], 3, axis=2)))
    return pictures
