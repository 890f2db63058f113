"""The four kinds of media mediasift understands."""

from enum import StrEnum


class MediaType(StrEnum):
    VIDEO = "video"
    AUDIO = "audio"
    IMAGE = "image"
    TEXT = "text"
