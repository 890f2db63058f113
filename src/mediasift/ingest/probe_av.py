"""Audio and video: structure checked, every packet demuxed, the first frames of each stream decoded.

Demuxing reads the whole file but decodes nothing (thousands of times faster than real time), which
is how a file cut short is caught: the index or header declares more than the packets deliver. Only
the first few frames of each stream are decoded, to prove the codec data is real.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import av
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.stream import Disposition
from av.video.stream import VideoStream

from mediasift.config import Settings
from mediasift.ingest.sniff import AVFormat, Rejected
from mediasift.mediatype import MediaType

FIRST_FRAMES = 3  # decoded per stream
MAX_DECODE_TRIES = 50  # packets given to a decoder before it is declared unable to decode the stream
MISSING_TOLERANCE_S = 0.5  # declared minus read duration above this (and 1 %) means truncated
_ISO_BMFF = ("mp4", "mov", "3gp")
_RIFF = ("wav", "avi")
_RIFF_SIZE_UNKNOWN = (0, 0xFFFFFFFF)  # placeholders written by streaming recorders


def probe_av(path: Path, fmt: AVFormat, settings: Settings) -> tuple[MediaType, dict[str, Any]]:
    """The media type (video if there is a real video stream, else audio) and the metadata."""
    _check_structure(path, fmt)
    try:
        with av.open(str(path), format=fmt.demuxer, metadata_errors="replace") as container:
            return _probe_open(container, fmt, settings)
    except av.FFmpegError as exc:
        raise Rejected(f"truncated or corrupt {fmt.label} container: {_ffmpeg_reason(exc)}") from None


def _ffmpeg_reason(exc: av.FFmpegError) -> str:
    return (exc.strerror or type(exc).__name__).lower()


# ----------------------------------------------------------------------------------- structure


def _check_structure(path: Path, fmt: AVFormat) -> None:
    """Cheap container checks FFmpeg reports only as 'invalid data' (or not at all)."""
    size = path.stat().st_size
    with path.open("rb") as f:
        if fmt.name in _ISO_BMFF:
            problems = _iso_bmff_problems(f, size)
        elif fmt.name in _RIFF:
            problems = _riff_problems(f.read(8), size)
        else:
            problems = []
    if problems:
        raise Rejected(f"truncated or corrupt {fmt.label} container: {'; '.join(problems)}")


def _iso_bmff_problems(f: BinaryIO, size: int) -> list[str]:
    """Walk the top-level boxes (8-16 bytes read per box): a box running past the end, no moov."""
    problems, seen, pos = [], set(), 0
    while pos + 8 <= size:
        f.seek(pos)
        header = f.read(16)
        length, kind = struct.unpack(">I4s", header[:8])
        if length == 1:  # a 64-bit size follows
            length = struct.unpack(">Q", header[8:])[0] if len(header) == 16 else 0
        elif length == 0:  # the box runs to the end of the file
            length = size - pos
        if length < 8:
            problems.append(f"box at byte {pos} has an impossible size {length}")
            break
        name = kind.decode("latin-1")
        seen.add(name)
        if pos + length > size:
            box = f"'{name}' box" if name.isascii() and name.isprintable() else f"box at byte {pos}"
            problems.append(f"{box} runs {pos + length - size} bytes past the end of the file")
            break
        pos += length
    if "moov" not in seen:
        problems.insert(0, "moov atom not found")
    return problems


def _riff_problems(header: bytes, size: int) -> list[str]:
    declared = struct.unpack("<I", header[4:8])[0] if len(header) == 8 else 0
    if declared not in _RIFF_SIZE_UNKNOWN and declared + 8 > size:
        return [f"the RIFF header declares {declared + 8} bytes but the file has {size}"]
    return []


# ----------------------------------------------------------------------------------- streams


@dataclass
class _Track:
    """What demuxing and a little decoding found in one stream."""

    stream: VideoStream | AudioStream
    packets: int = 0
    bytes: int = 0
    start: float | None = None
    end: float | None = None
    decoded: int = 0
    tries: int = 0
    error: str | None = None
    first_frame: Any = field(default=None, repr=False)

    def add(self, packet: av.Packet) -> None:
        self.packets += 1
        self.bytes += packet.size
        if packet.pts is not None and packet.time_base is not None:
            start = float(packet.pts * packet.time_base)
            end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
            self.start = start if self.start is None else min(self.start, start)
            self.end = end if self.end is None else max(self.end, end)
        if self.decoded < FIRST_FRAMES and self.tries < MAX_DECODE_TRIES:
            self.tries += 1
            self._decode(packet)

    def finish(self) -> None:
        """Drain the decoder (a short stream may hold all its frames back), then insist on a frame."""
        if self.decoded < FIRST_FRAMES:
            self._decode(None)
        kind, codec = self.stream.type, self.stream.codec.canonical_name
        if self.packets == 0:
            raise Rejected(f"the {kind} stream ({codec}) has no packets")
        if self.decoded == 0:
            why = self.error or f"nothing came out of {self.tries} packets"
            raise Rejected(f"zero decodable frames in the {kind} stream ({codec}): {why}")

    def _decode(self, packet: av.Packet | None) -> None:
        try:
            frames = packet.decode() if packet is not None else self.stream.decode(None)
        except av.FFmpegError as exc:
            self.error = _ffmpeg_reason(exc)
            return
        if frames and self.first_frame is None:
            self.first_frame = frames[0]
        self.decoded += len(frames)


def _probe_open(container: InputContainer, fmt: AVFormat, settings: Settings) -> tuple[MediaType, dict[str, Any]]:
    video = next((s for s in container.streams.video if not s.disposition & Disposition.attached_pic), None)
    audio = next(iter(container.streams.audio), None)
    for stream in (video, audio):
        if stream is not None and stream.codec_context is None:
            raise Rejected(f"unsupported or corrupt {stream.type} codec: FFmpeg has no decoder for it")
    if video is None:
        if audio is None:
            raise Rejected(f"no audio or video stream in the {fmt.label} container")
        tracks = _scan(container, [audio])
        return MediaType.AUDIO, _common(container, tracks, fmt) | _audio_meta(audio)
    _check_frame_size(video, settings)
    tracks = _scan(container, [video] if audio is None else [video, audio])
    meta = _common(container, tracks, fmt) | _video_meta(video, tracks[0]) | _soundtrack(audio)
    return MediaType.VIDEO, meta


def _check_frame_size(video: VideoStream, settings: Settings) -> None:
    width, height = video.width, video.height
    if width * height <= 0:
        raise Rejected("video stream has no frame size (corrupt header)")
    if width * height > settings.max_video_pixels:
        raise Rejected(
            f"video is {width}x{height} = {width * height / 1e6:.4g} megapixels a frame, "
            f"over the {settings.max_video_pixels / 1e6:.4g} megapixel limit"
        )


def _scan(container: InputContainer, streams: list[VideoStream | AudioStream]) -> list[_Track]:
    tracks = {s.index: _Track(s) for s in streams}
    for packet in container.demux(streams):
        if packet.size:  # demux ends each stream with an empty packet
            tracks[packet.stream.index].add(packet)
    for track in tracks.values():
        track.finish()
    return list(tracks.values())


def _common(container: InputContainer, tracks: list[_Track], fmt: AVFormat) -> dict[str, Any]:
    duration = _duration(container, tracks, fmt)
    bitrate = container.bit_rate or round(sum(t.bytes for t in tracks) * 8 / max(duration, 1e-3))
    meta: dict[str, Any] = {"container": fmt.name, "duration": round(duration, 3), "bitrate": bitrate}
    recorded = _creation_time(container.metadata.get("creation_time"))
    return meta | ({"recorded_at": recorded} if recorded else {})


def _creation_time(value: object) -> str | None:
    """The container's creation time (MP4/MOV ``mvhd``, Matroska ``DateUTC``) as ISO 8601 UTC; None
    when absent, unreadable, or a muxer's zero (1904 or 1970)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return None if moment.year <= 1970 else moment.isoformat()


def _duration(container: InputContainer, tracks: list[_Track], fmt: AVFormat) -> float:
    """Seconds: an indexed container's declared duration, once checked against what the packets
    cover; otherwise what the packets cover (a header-less format's duration is only an estimate)."""
    read_end = max((t.end for t in tracks if t.end is not None), default=0.0)
    read = read_end - max(0.0, min((t.start for t in tracks if t.start is not None), default=0.0))
    declared = container.duration / 1e6 if container.duration else None
    if declared is None or not (fmt.indexed or read == 0):
        return read
    if declared - read_end > max(MISSING_TOLERANCE_S, 0.01 * declared):
        raise Rejected(
            f"truncated or corrupt {fmt.label} container: it declares {declared:.2f} s "
            f"but only {read_end:.2f} s of packets could be read"
        )
    return declared


def _video_meta(video: VideoStream, track: _Track) -> dict[str, Any]:
    rotation = _rotation(video, track.first_frame)
    turned = rotation in (90, 270)
    rate = video.average_rate or video.guessed_rate
    return {
        "video_codec": video.codec.canonical_name,
        "width": video.width,
        "height": video.height,
        "rotation": rotation,
        "display_width": video.height if turned else video.width,
        "display_height": video.width if turned else video.height,
        "fps": round(float(rate), 3) if rate else None,
        "frame_count": track.packets,
        "pixel_format": video.format.name if video.format else None,
    }


def _rotation(video: VideoStream, first_frame: Any) -> int:
    """Clockwise degrees a player turns the picture (0, 90, 180, 270), like the old 'rotate' tag.

    The display matrix reaches decoded frames as side data; FFmpeg reports it counter-clockwise.
    """
    counter_clockwise = first_frame.rotation if first_frame is not None else 0
    if counter_clockwise:
        return int(-counter_clockwise) % 360
    try:
        return int(video.metadata.get("rotate", 0)) % 360
    except ValueError:
        return 0


def _audio_meta(audio: AudioStream) -> dict[str, Any]:
    return {"codec": audio.codec.canonical_name, "sample_rate": audio.sample_rate, "channels": audio.channels}


def _soundtrack(audio: AudioStream | None) -> dict[str, Any]:
    if audio is None:
        return {"has_audio": False, "audio_codec": None}
    return {
        "has_audio": True,
        "audio_codec": audio.codec.canonical_name,
        "audio_sample_rate": audio.sample_rate,
        "audio_channels": audio.channels,
    }
