"""The four kinds of media mediasift understands."""

from enum import StrEnum


class MediaType(StrEnum):
    VIDEO = "video"
    AUDIO = "audio"
    IMAGE = "image"
    TEXT = "text"


# Picture formats a web browser displays as they are. The others stored here (HEIC, TIFF) are shown
# from a JPEG preview the thumbnail operator makes beside the thumbnail.
BROWSER_PICTURES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/avif", "image/bmp"})
