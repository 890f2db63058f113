"""A picture given as bytes (a query image): decoded as the image operators see a picture (upright by
its EXIF orientation, RGB, at most :data:`MAX_SIDE` a side), and its perceptual hash as the ``phash``
operator computes it, so both compare with what was stored at ingest."""

from __future__ import annotations

import io
import warnings

import imagehash
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_SIDE = 2560  # as operators/images.py's MAX_ANALYSIS_SIDE


class Unreadable(ValueError):
    """The bytes are not a picture this can decode, or one over the pixel limit; says why."""


def decode_picture(data: bytes, max_pixels: int) -> np.ndarray:
    """RGB pixels (H x W x 3, uint8) of the first frame of an image file's bytes."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise Unreadable(f"the picture is {width}x{height}, over the limit of {max_pixels:,} pixels")
                image.seek(0)
                image.load()
                upright = ImageOps.exif_transpose(image)
                rgb = upright.convert("RGB") if upright.mode != "RGB" else upright
                if max(rgb.size) > MAX_SIDE:
                    rgb.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
                return np.asarray(rgb)
    except Unreadable:
        raise
    except UnidentifiedImageError:  # Pillow's message names its in-memory file object, nothing a user can use
        raise Unreadable(
            "not a picture: its bytes are in no image format this can read"
            if data
            else "not a picture: the file is empty"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Unreadable(f"not a picture this can read: {exc}") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # truncated or corrupt data, as Pillow says it
        raise Unreadable(f"truncated or corrupt picture: {exc}") from None


def perceptual_hash(pixels: np.ndarray) -> str:
    """The 64-bit pHash, hex, of ``pixels``."""
    return str(imagehash.phash(Image.fromarray(pixels)))
