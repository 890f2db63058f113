"""The content hash of a video stream: SHA-256 over its coded packets, in order.

Two files whose bytes differ only around the stream (another container, edited tags, a dropped
audio track) carry the same coded pictures: they are exact copies to a user, though their file
hashes differ. Only packets are read (demuxing, no decoding), so this costs one read of the file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import av
import av.error

from mediasift.media.video import NoVideoFrames


def video_stream_sha256(path: Path) -> str:
    """The hex SHA-256 of the first video stream's packet payloads. Raises :class:`NoVideoFrames`
    when ``path`` is no readable video or has no video stream."""
    digest = hashlib.sha256()
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise NoVideoFrames("the file has no video stream")
            for packet in container.demux(container.streams.video[0]):
                if packet.size:
                    digest.update(bytes(packet))
    except av.error.FFmpegError as exc:
        raise NoVideoFrames(f"not a readable video: {exc}") from exc
    return digest.hexdigest()
