"""Pictures as every image operator sees them (:func:`flattened`), and a picture given as bytes (a
query image) decoded so (at most :data:`MAX_SIDE` a side), with its perceptual hash as the ``phash``
operator computes it, so both compare with what was stored at ingest."""

from __future__ import annotations

import io
import warnings

import imagehash
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_SIDE = 2560  # as operators/images.py's MAX_ANALYSIS_SIDE


# A transparent picture is laid on white, or on black when what it shows is light (a white logo made
# for dark pages): its transparent pixels hold any colour, often black, and dropping the alpha made black
# text on a transparent background a black picture (no text read, a phash of zeros, "near-duplicates").
LIGHT_CONTENT = 160  # mean luminance (0-255) of the visible pixels above which the background is black


def flattened(image: Image.Image) -> Image.Image:
    """``image`` upright by its EXIF orientation, in RGB, a transparent one laid on a background its
    content shows against (white, or black under light content)."""
    image = ImageOps.exif_transpose(image)
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        pixels = np.asarray(rgba, dtype=np.float32)
        alpha = pixels[..., 3] / 255.0
        seen = float(alpha.sum())
        luminance = pixels[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        light = seen > 0 and float((luminance * alpha).sum()) / seen > LIGHT_CONTENT
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255) if light else (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


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
                rgb = flattened(image)
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
