"""What a playable copy costs: seconds of video copied a second, against decoding the original alone.

    .venv/bin/python bench/playable.py [--seconds 60]

The originals are the first ``--seconds`` of the pipeline benchmark's video (``support.benchmedia``:
1280x720, 25 fps, slow pans over real photos, speech), stored three ways, once, in /tmp: HEVC in MP4
(a phone's, x265 ``fast``; encoded again to H.264 for the copy), H.264 and AAC in Matroska (a screen
recording's; passed through into the MP4) and MPEG-2 with MP2 sound in an MPEG-TS (a broadcast's;
encoded again). For each, the baseline in the same run is decoding every picture and sound of the
original (the floor of any copy made from it; PyAV, threads as the copy uses them), timed before and
after the copy (their mean). Printed: seconds of video a second for both, and the copy's time over the
decoding's.
"""

from __future__ import annotations

import benchpath  # noqa: F401  (first: keeps bench/queue.py from hiding the standard library's queue)

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av

from mediasift.media.playable import write_copy
from mediasift.mediatype import MediaType

from support import benchmedia

CACHE = benchmedia.CACHE / "playable"
FORMATS: dict[str, tuple[str, str, dict[str, Any], str]] = {
    # name: (container, video codec and its options, sound codec)
    "phone.mp4": ("mp4", "libx265", {"preset": "fast", "x265-params": "log-level=error"}, "aac"),
    "recording.mkv": ("matroska", "copy", {}, "copy"),
    "broadcast.ts": ("mpegts", "mpeg2video", {"b": "4000000"}, "mp2"),
}


def original(name: str, seconds: float) -> Path:
    """The benchmark video's first ``seconds`` stored as ``name`` says (made once)."""
    path = CACHE / f"{seconds:g}-{name}"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    container, video_codec, options, sound_codec = FORMATS[name]
    source, _ = benchmedia.video()
    print(f"making {path.name} (once)...", flush=True)
    part = path.with_suffix(".part" + path.suffix)
    with av.open(str(source)) as inp, av.open(str(part), "w", format=container) as out:
        vin, ain = inp.streams.video[0], inp.streams.audio[0]
        if video_codec == "copy":
            vout, aout = out.add_stream_from_template(vin), out.add_stream_from_template(ain)
            for packet in inp.demux(vin, ain):
                if packet.dts is not None and packet.pts is not None and packet.pts * packet.time_base < seconds:
                    packet.stream = vout if packet.stream is vin else aout
                    out.mux(packet)
        else:
            vout = out.add_stream(video_codec, rate=vin.average_rate, options=options)
            vout.width, vout.height, vout.pix_fmt = vin.width, vin.height, "yuv420p"
            aout = out.add_stream(sound_codec, rate=ain.rate, layout=ain.layout.name)
            chunks = av.AudioResampler(format=aout.codec_context.format.name, layout=ain.layout.name, rate=ain.rate,
                                       frame_size=aout.codec_context.frame_size)  # fmt: skip
            for frame in inp.decode(vin, ain):
                if frame.time is not None and frame.time >= seconds:
                    continue
                if isinstance(frame, av.VideoFrame):
                    frame.pict_type = av.video.frame.PictureType.NONE
                    out.mux(vout.encode(frame))
                else:
                    frame.pts = None
                    for chunk in chunks.resample(frame):
                        out.mux(aout.encode(chunk))
            for chunk in chunks.resample(None):
                out.mux(aout.encode(chunk))
            out.mux(vout.encode(None))
            out.mux(aout.encode(None))
    part.rename(path)
    return path


def decoded(path: Path) -> None:
    """Every picture and sound of ``path`` decoded, as the copy reads them."""
    with av.open(str(path)) as media:
        media.streams.video[0].thread_type = "AUTO"
        for _ in media.decode(media.streams.video[0], media.streams.audio[0]):
            pass


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    print(
        f"{'original':<16}{'copy':<14}{'decode x':>10}{'copy x':>10}{'copy/decode':>13}  (x: seconds of video a second)"
    )
    for name in FORMATS:
        path = original(name, args.seconds)
        copy = CACHE / f"copy-{name}.mp4"
        before = timed(lambda: decoded(path))  # noqa: B023 (called at once)
        made = timed(lambda: write_copy(path, copy, MediaType.VIDEO, max_side=1280, budget_s=3600))  # noqa: B023
        after = timed(lambda: decoded(path))  # noqa: B023
        decode_s = (before + after) / 2
        with av.open(str(copy)) as written:
            kind = f"{written.streams.video[0].codec_context.name}/{written.streams.audio[0].codec_context.name}"
        print(
            f"{name:<16}{kind:<14}{args.seconds / decode_s:>10.1f}{args.seconds / made:>10.1f}{made / decode_s:>13.2f}"
        )
        copy.unlink()


if __name__ == "__main__":
    main()
