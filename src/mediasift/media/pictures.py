"""Pictures as every image operator sees them (:func:`flattened`), and a picture given as bytes (a
query image) decoded so (at most :data:`MAX_SIDE` a side), with its perceptual hash as the ``phash``
operator computes it, so both compare with what was stored at ingest."""

from __future__ import annotations

import io
import warnings

import imagehash
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mediasift.media import heif  # noqa: F401  (registers the HEIC/HEIF opener)

MAX_SIDE = 2560  # as operators/images.py's MAX_ANALYSIS_SIDE


# A transparent picture is laid on white, or on black when what it shows is light (a white logo made
# for dark pages): its transparent pixels hold any colour, often black, and dropping the alpha made black
# text on a transparent background a black picture (no text read, a phash of zeros, "near-duplicates").
LIGHT_CONTENT = 160  # mean luminance (0-255) of the visible pixels above which the background is black


LIGHT_PROBE_SIDE = 64  # the content's lightness is measured on a copy this small


def flattened(image: Image.Image, max_side: int) -> Image.Image:
    """``image`` upright by its EXIF orientation, shrunk to at most ``max_side`` a side (first, so a
    large picture is not handled at full size), in RGB, a transparent one laid on a background its
    content shows against (white, or black under light content)."""
    image = ImageOps.exif_transpose(image)
    if max(image.size) > max_side:
        if image.mode not in ("RGB", "RGBA", "L", "LA"):  # palettes and 16-bit modes resample badly
            image = image.convert("RGBA" if _transparent(image) else "RGB")
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    if not _transparent(image):
        return image if image.mode == "RGB" else image.convert("RGB")
    rgba = image.convert("RGBA")
    probe = rgba.copy()
    probe.thumbnail((LIGHT_PROBE_SIDE, LIGHT_PROBE_SIDE))
    pixels = np.asarray(probe, dtype=np.float32)
    alpha = pixels[..., 3] / 255.0
    seen = float(alpha.sum())
    luminance = pixels[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    light = seen > 0 and float((luminance * alpha).sum()) / seen > LIGHT_CONTENT
    flat = Image.new("RGB", rgba.size, (0, 0, 0) if light else (255, 255, 255))
    flat.paste(rgba, mask=rgba.getchannel("A"))
    return flat


def _transparent(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (image.mode == "P" and "transparency" in image.info)


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
                image.load()  # its first frame (a HEIF file: its primary image), where Pillow opens it
                return np.asarray(flattened(image, MAX_SIDE))
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
