"""The content hash of a video stream: SHA-256 over its coded packets, in order.

Two files whose bytes differ only around the stream (another container, edited tags, a dropped
audio track) carry the same coded pictures: they are exact copies to a user, though their file
hashes differ. Only packets are read (demuxing, no decoding), so this costs one read of the file;
the same read notes the stream's random-access points, which let a reader of frames seek only where
that saves decoding (:meth:`mediasift.media.video.VideoSource.frames_at`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import av
import av.error

from mediasift.media.video import NoVideoFrames, StreamInfo


@dataclass(frozen=True)
class StreamDigest:
    sha256: str  # hex, over the first video stream's packet payloads
    sync_times: tuple[float, ...]  # its random-access points, seconds from the stream's start


def video_stream_digest(path: Path) -> StreamDigest:
    """The first video stream's content hash and random-access points. Raises
    :class:`NoVideoFrames` when ``path`` is no readable video or has no video stream."""
    digest = hashlib.sha256()
    sync_times: list[float] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise NoVideoFrames("the file has no video stream")
            stream = container.streams.video[0]
            info = StreamInfo.of(stream)
            for packet in container.demux(stream):
                if packet.size:
                    digest.update(bytes(packet))
                when = info.seconds(packet.pts)
                if packet.is_keyframe and when is not None:
                    sync_times.append(when)
    except av.error.FFmpegError as exc:
        raise NoVideoFrames(f"not a readable video: {exc}") from exc
    return StreamDigest(digest.hexdigest(), tuple(sync_times))
