"""Images: size checked from the header before any pixel is decoded, then verified, then EXIF read.

Pillow's own bomb guard is aligned with ours: ``Image.MAX_IMAGE_PIXELS`` (process-wide) is set to
``settings.max_image_pixels``, so Pillow warns above it (we refuse right after reading the header)
and raises ``DecompressionBombError`` above twice it (which we turn into the same refusal). The
warning is left alone rather than silenced with ``warnings.catch_warnings``, which is not
thread-safe before Python 3.14.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import Image, ImageFile, UnidentifiedImageError
from PIL.ExifTags import GPS, IFD, Base

from mediasift.config import Settings
from mediasift.ingest.sniff import ImageFormat, Rejected
from mediasift.media.heif import HEIF

_SWAPS_AXES = {5, 6, 7, 8}  # EXIF orientations that turn the image a quarter
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError)


def probe_image(path: Path, fmt: ImageFormat, settings: Settings) -> dict[str, Any]:
    limit = settings.max_image_pixels
    Image.MAX_IMAGE_PIXELS = limit
    with _open(path, fmt, limit) as header:
        width, height = header.size
    if width * height > limit:
        raise Rejected(_too_big((width, height), limit))
    meta, exif = _decode(path, fmt, limit)
    orientation = exif.get(Base.Orientation, 1)
    orientation = orientation if orientation in range(1, 9) else 1
    if orientation in _SWAPS_AXES:
        width, height = height, width
    meta |= {"width": width, "height": height, "orientation": orientation}
    camera = _camera(exif)
    if camera:
        meta["exif"] = camera
    return meta


def _open(path: Path, fmt: ImageFormat, limit: int) -> ImageFile.ImageFile:
    """Read the header only; Pillow decodes nothing until ``load()``."""
    try:
        return Image.open(path, formats=[fmt.name])
    except Image.DecompressionBombError:
        raise Rejected(_too_big(_unguarded_size(path, fmt), limit)) from None
    except UnidentifiedImageError:
        raise Rejected(f"corrupt {fmt.name} image: its header cannot be parsed") from None
    except _DECODE_ERRORS as exc:
        raise Rejected(f"corrupt {fmt.name} image: {exc}") from None


def _unguarded_size(path: Path, fmt: ImageFormat) -> tuple[int, int] | None:
    """The header's size, read with the format plugin directly since Pillow's guard refused to return
    it; None where the plugin runs the guard itself (GIF, WebP, ICO)."""
    factory, _accept = Image.OPEN[fmt.name]
    try:
        with path.open("rb") as f:
            size: tuple[int, int] = factory(f, str(path)).size
    except (Image.DecompressionBombError, *_DECODE_ERRORS):
        return None
    return size


def _too_big(size: tuple[int, int] | None, limit: int) -> str:
    limit_mp = f"{limit / 1e6:.4g} megapixel limit (decompression bomb?)"
    if size is None:
        return f"image is over twice the {limit_mp}"
    width, height = size
    return f"image is {width}x{height} = {width * height / 1e6:.4g} megapixels, over the {limit_mp}"


def _decode(path: Path, fmt: ImageFormat, limit: int) -> tuple[dict[str, Any], Image.Exif]:
    """Check the structure (``verify``: chunk CRCs for PNG), then decode the first frame of a fresh copy
    and read what needs the whole file (a PNG's EXIF may follow its pixels).

    A JPEG is decoded in draft mode (DCT scaling, 1/8 size): every byte is still read, so truncation
    shows, at a fraction of the cost.
    """
    try:
        with Image.open(path, formats=[fmt.name]) as image:
            image.verify()
        with Image.open(path, formats=[fmt.name]) as image:
            image.draft(image.mode, (image.width // 8, image.height // 8))
            image.load()
            # A HEIF file's other images are a burst or a collection, and a TIFF's the pages of a
            # document, not an animation's frames: its primary image (or first page) stands for it
            # (the one Pillow opens at).
            still = fmt.name in (HEIF, "TIFF")
            frames = getattr(image, "n_frames", 1)
            meta = {
                "format": image.format or fmt.name,
                "mode": image.mode,
                "n_frames": 1 if still else frames,
                "animated": not still and bool(getattr(image, "is_animated", False)),
            }
            if fmt.name == "TIFF" and frames > 1:
                meta["pages"] = frames
            return meta, image.getexif()
    except Image.DecompressionBombError:  # a later frame or tile larger than the header said
        raise Rejected(_too_big(None, limit)) from None
    except _DECODE_ERRORS as exc:
        raise Rejected(f"truncated or corrupt {fmt.name} image: {exc}") from None


def _camera(exif: Image.Exif) -> dict[str, Any]:
    """Camera make/model, capture time (ISO 8601) and GPS position, each only where present."""
    details = exif.get_ifd(IFD.Exif)
    out: dict[str, Any] = {
        "camera_make": _text(exif.get(Base.Make)),
        "camera_model": _text(exif.get(Base.Model)),
        "taken_at": _timestamp(
            details.get(Base.DateTimeOriginal) or exif.get(Base.DateTime),
            details.get(Base.OffsetTimeOriginal),
        ),
        "gps": _gps(exif.get_ifd(IFD.GPSInfo)),
    }
    return {key: value for key, value in out.items() if value}


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    return value.strip("\x00").strip() or None


def _timestamp(value: object, offset: object) -> str | None:
    text, zone = _text(value), _text(offset)
    try:
        moment = datetime.strptime(text or "", "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    iso = moment.isoformat()
    return iso + zone if zone and len(zone) == 6 and zone[0] in "+-" else iso


def _gps(tags: dict[int, Any]) -> dict[str, float] | None:
    """Decimal degrees, negative south and west; altitude in metres, negative below sea level."""
    try:
        lat = _degrees(tags[GPS.GPSLatitude], tags.get(GPS.GPSLatitudeRef), "S")
        lon = _degrees(tags[GPS.GPSLongitude], tags.get(GPS.GPSLongitudeRef), "W")
        position = {"lat": lat, "lon": lon}
        if GPS.GPSAltitude in tags:
            below = tags.get(GPS.GPSAltitudeRef) in (1, b"\x01")
            position["alt"] = -float(tags[GPS.GPSAltitude]) if below else float(tags[GPS.GPSAltitude])
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    return position if all(math.isfinite(v) for v in position.values()) else None


def _degrees(dms: Any, ref: object, negative: str) -> float:
    degrees, minutes, seconds = (float(part) for part in dms)
    value = degrees + minutes / 60 + seconds / 3600
    return -value if _text(ref) == negative else value
