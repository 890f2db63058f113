"""probe_file: type from bytes, validation before full decoding, the metadata a user expects, and a
reason a person understands for everything refused."""

from __future__ import annotations

import json
import random
import struct
import time
import tracemalloc
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mediasift.config import Settings
from mediasift.inference.door import Inference
from mediasift.ingest.probe import Probe, Rejected, probe_file
from mediasift.mediatype import MediaType

from support import mediagen as mg

ENGLISH = (
    "The committee's report, published on Monday, said the harbour would reopen next spring.\n"
    "Fishing boats will return once the new breakwater is finished and the channel is dredged.\n"
    "Local businesses welcomed the news after two difficult years without visitors.\n"
)
GERMAN = (
    "Die Straßenbahn fährt heute nicht über die Brücke, weil das Wetter schlecht ist.\n"
    "Größere Störungen werden erwartet, und viele Bürger müssen zu Fuß gehen.\n"
    "Überall in der Stadt räumen Helfer die umgestürzten Bäume von den Straßen.\n"
)


@pytest.fixture(autouse=True)
def _restore_pillow_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """probe_file aligns Pillow's global bomb limit with the settings; undo tiny test limits."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)


@pytest.fixture
def limits(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("speech") / "speech.wav"
    return mg.make_speech_wav(path, "the orange submarine surfaced near the northern glacier")


@pytest.fixture(scope="module")
def tone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mg.make_tone_audio(tmp_path_factory.mktemp("tone") / "tone.wav", 1.0)


def probe_with_door(path: Path, settings: Settings) -> Probe:
    """probe_file as ingest calls it: a text's language from the inference door of the same settings."""
    return probe_file(path, settings, Inference(settings).language)


def probe(path: Path, settings: Settings) -> Probe:
    result = probe_with_door(path, settings)
    json.dumps(result.metadata)  # JSON-serialisable, or this raises
    return result


def rejected(path: Path, settings: Settings) -> str:
    with pytest.raises(Rejected) as info:
        probe_with_door(path, settings)
    return str(info.value)


# ----------------------------------------------------------------------------------------- video


def test_mp4_with_speech_reports_what_was_encoded(tmp_path: Path, limits: Settings, speech: Path) -> None:
    video = mg.make_video(tmp_path / "clip.mp4", 3.0, size=(320, 240), fps=25, audio_wav=speech)
    result = probe(video, limits)
    meta = result.metadata
    assert (result.media_type, result.mime) == (MediaType.VIDEO, "video/mp4")
    assert meta["duration"] == pytest.approx(3.0, abs=0.1)
    assert (meta["width"], meta["height"], meta["fps"]) == (320, 240, 25.0)
    assert (meta["video_codec"], meta["audio_codec"], meta["has_audio"]) == ("h264", "aac", True)
    assert (meta["audio_sample_rate"], meta["audio_channels"]) == (22050, 1)
    assert (meta["container"], meta["frame_count"], meta["rotation"]) == ("mp4", 75, 0)
    assert (meta["display_width"], meta["display_height"]) == (320, 240)
    assert meta["bitrate"] > 0


@pytest.mark.parametrize(
    ("name", "codec", "mime", "container", "video_codec"),
    [
        ("clip.mkv", "h264", "video/x-matroska", "matroska", "h264"),
        ("clip.webm", "libvpx-vp9", "video/webm", "webm", "vp9"),
        ("clip.mov", "h264", "video/quicktime", "mov", "h264"),
        ("clip.avi", "mpeg4", "video/x-msvideo", "avi", "mpeg4"),
        ("clip.ts", "h264", "video/mp2t", "mpegts", "h264"),
        ("clip.flv", "flv1", "video/x-flv", "flv", "flv1"),
    ],
)
def test_video_containers(
    tmp_path: Path, limits: Settings, name: str, codec: str, mime: str, container: str, video_codec: str
) -> None:
    video = mg.make_video(tmp_path / name, 1.0, size=(160, 120), fps=20, codec=codec)
    result = probe(video, limits)
    meta = result.metadata
    assert (result.media_type, result.mime, meta["container"]) == (MediaType.VIDEO, mime, container)
    assert (meta["width"], meta["height"], meta["video_codec"]) == (160, 120, video_codec)
    assert meta["duration"] == pytest.approx(1.0, abs=0.1)
    assert meta["fps"] == 20.0
    assert (meta["has_audio"], meta["audio_codec"]) == (False, None)


@pytest.mark.parametrize(("rotation", "display"), [(90, (240, 320)), (180, (320, 240)), (270, (240, 320))])
def test_rotation_from_display_matrix(
    tmp_path: Path, limits: Settings, rotation: int, display: tuple[int, int]
) -> None:
    meta = probe(mg.make_video(tmp_path / "phone.mp4", 0.5, rotation=rotation), limits).metadata
    assert (meta["width"], meta["height"], meta["rotation"]) == (320, 240, rotation)
    assert (meta["display_width"], meta["display_height"]) == display


def test_faststart_mp4_is_accepted(tmp_path: Path, limits: Settings, tone: Path) -> None:
    meta = probe(mg.make_video(tmp_path / "fs.mp4", 2.0, audio_wav=tone, faststart=True), limits).metadata
    assert meta["duration"] == pytest.approx(2.0, abs=0.1)
    assert meta["has_audio"] is True


def test_truncated_mp4_with_index_at_the_end(tmp_path: Path, limits: Settings, tone: Path) -> None:
    video = mg.truncate(mg.make_video(tmp_path / "cut.mp4", 2.0, audio_wav=tone), 0.6)
    reason = rejected(video, limits)
    assert reason.startswith("truncated or corrupt MP4 container: moov atom not found")


def test_truncated_faststart_mp4_whose_index_points_past_the_end(tmp_path: Path, limits: Settings, tone: Path) -> None:
    video = mg.truncate(mg.make_video(tmp_path / "cut.mp4", 2.0, audio_wav=tone, faststart=True), 0.6)
    reason = rejected(video, limits)
    assert reason.startswith("truncated or corrupt MP4 container:")
    assert "past the end of the file" in reason


def test_truncated_matroska_is_caught_by_demuxing(tmp_path: Path, limits: Settings) -> None:
    video = mg.truncate(mg.make_video(tmp_path / "cut.mkv", 3.0), 0.6)
    assert "declares 3.00 s but only" in rejected(video, limits)


def test_video_over_the_pixel_limit(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, max_video_pixels=320 * 240 - 1)
    reason = rejected(mg.make_video(tmp_path / "big.mp4", 0.5), settings)
    assert reason.startswith("video is 320x240 = 0.0768 megapixels a frame, over the")


def test_video_with_no_decodable_frames(tmp_path: Path, limits: Settings) -> None:
    video = tmp_path / "blank.mp4"
    data = bytearray(mg.make_video(video, 1.0).read_bytes())
    for offset, kind, size in _boxes(bytes(data)):
        if kind == b"mdat":
            data[offset + 8 : offset + size] = bytes(size - 8)  # index intact, payload zeroed
    video.write_bytes(bytes(data))
    assert rejected(video, limits).startswith("zero decodable frames in the video stream (h264)")


def _boxes(data: bytes) -> list[tuple[int, bytes, int]]:
    boxes, pos = [], 0
    while pos < len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        boxes.append((pos, kind, size))
        pos += size
    return boxes


def test_ten_second_720p_probe_is_cheap(tmp_path: Path, limits: Settings, tone: Path) -> None:
    video = mg.make_video(tmp_path / "hd.mp4", 10.0, size=(1280, 720), audio_wav=tone)
    started = time.perf_counter()
    meta = probe(video, limits).metadata
    elapsed = time.perf_counter() - started
    assert (meta["width"], meta["height"], meta["frame_count"]) == (1280, 720, 250)
    assert elapsed < 1.0, f"probe took {elapsed:.3f} s"


# ----------------------------------------------------------------------------------------- audio


@pytest.mark.parametrize(
    ("name", "options", "mime", "codec", "container", "rate"),
    [
        ("a.wav", None, "audio/x-wav", "pcm_s16le", "wav", 44100),
        ("a.mp3", None, "audio/mpeg", "mp3", "mp3", 44100),
        ("bare.mp3", {"id3v2_version": "0", "write_xing": "0"}, "audio/mpeg", "mp3", "mp3", 44100),
        ("a.m4a", None, "audio/mp4", "aac", "mp4", 44100),
        ("a.aac", None, "audio/aac", "aac", "aac", 44100),
        ("a.flac", None, "audio/flac", "flac", "flac", 44100),
        ("a.ogg", None, "audio/ogg", "opus", "ogg", 48000),
        ("a.mka", None, "audio/x-matroska", "opus", "matroska", 48000),
    ],
)
def test_audio_formats(
    tmp_path: Path,
    limits: Settings,
    name: str,
    options: dict[str, str] | None,
    mime: str,
    codec: str,
    container: str,
    rate: int,
) -> None:
    audio = mg.make_tone_audio(tmp_path / name, 2.0, channels=2, options=options)
    result = probe(audio, limits)
    meta = result.metadata
    assert (result.media_type, result.mime) == (MediaType.AUDIO, mime)
    assert (meta["codec"], meta["container"], meta["sample_rate"], meta["channels"]) == (
        codec,
        container,
        rate,
        2,
    )
    assert meta["duration"] == pytest.approx(2.0, abs=0.1)
    assert meta["bitrate"] > 0


def test_speech_wav(limits: Settings, speech: Path) -> None:
    meta = probe(speech, limits).metadata
    assert (meta["codec"], meta["sample_rate"], meta["channels"]) == ("pcm_s16le", 22050, 1)
    assert 2.0 < meta["duration"] < 5.0


@pytest.mark.parametrize("name", ["cut.wav", "cut.flac", "cut.mp3"])
def test_truncated_audio_with_a_declared_length(tmp_path: Path, limits: Settings, name: str) -> None:
    audio = mg.truncate(mg.make_tone_audio(tmp_path / name, 3.0), 0.6)
    assert rejected(audio, limits).startswith(f"truncated or corrupt {Path(name).suffix[1:].upper()} container")


def test_audio_only_mp4_is_audio_even_named_mp4(tmp_path: Path, limits: Settings) -> None:
    audio = mg.make_tone_audio(tmp_path / "song.mp4", 1.0, codec="aac", container="mp4")
    assert probe(audio, limits).media_type == MediaType.AUDIO


# ----------------------------------------------------------------------------------------- images


def test_png_with_text_over_a_photo(tmp_path: Path, limits: Settings) -> None:
    image = mg.make_text_image(tmp_path / "sign.png", "HARBOR LIGHTHOUSE", (640, 360), mg.photo("coffee"))
    result = probe(image, limits)
    meta = result.metadata
    assert (result.media_type, result.mime) == (MediaType.IMAGE, "image/png")
    assert (meta["width"], meta["height"], meta["format"], meta["mode"]) == (640, 360, "PNG", "RGB")
    assert (meta["orientation"], meta["n_frames"], meta["animated"]) == (1, 1, False)
    assert "exif" not in meta


@pytest.mark.parametrize(("orientation", "size"), [(1, (512, 384)), (6, (384, 512)), (8, (384, 512))])
def test_jpeg_exif_and_orientation(tmp_path: Path, limits: Settings, orientation: int, size: tuple[int, int]) -> None:
    base = mg.photo("astronaut")[:384]  # 512 wide, 384 high as stored
    image = mg.make_jpeg_with_exif(
        tmp_path / "photo.jpg",
        "Canon",
        "EOS 5D Mark IV",
        datetime(2023, 7, 14, 9, 30, 5),
        gps=(-33.8568, 151.2153, 12.5),
        orientation=orientation,
        base=base,
    )
    result = probe(image, limits)
    meta = result.metadata
    assert (result.mime, meta["format"], meta["orientation"]) == ("image/jpeg", "JPEG", orientation)
    assert (meta["width"], meta["height"]) == size
    exif = meta["exif"]
    assert (exif["camera_make"], exif["camera_model"]) == ("Canon", "EOS 5D Mark IV")
    assert exif["taken_at"] == "2023-07-14T09:30:05"
    assert exif["gps"]["lat"] == pytest.approx(-33.8568, abs=1e-4)
    assert exif["gps"]["lon"] == pytest.approx(151.2153, abs=1e-4)
    assert exif["gps"]["alt"] == pytest.approx(12.5, abs=1e-4)


@pytest.mark.parametrize(("orientation", "size"), [(1, (512, 384)), (6, (384, 512)), (8, (384, 512))])
def test_heic_is_read_upright_with_its_exif(
    tmp_path: Path, limits: Settings, orientation: int, size: tuple[int, int]
) -> None:
    """libheif turns the picture as the file says while it decodes: the size is the upright one, and
    no orientation is left for anything downstream to apply a second time."""
    taken = datetime(2024, 6, 1, 8, 15, tzinfo=timezone(timedelta(hours=2)))
    base = mg.photo("astronaut")[:384]
    image = mg.make_jpeg_with_exif(tmp_path / "IMG_0001.HEIC", "Apple", "iPhone 15", taken, gps=(59.91, 10.75, 3.0),
                                   orientation=orientation, base=base)  # fmt: skip
    result = probe(image, limits)
    meta = result.metadata
    assert (result.mime, meta["format"], meta["orientation"], meta["animated"]) == ("image/heic", "HEIF", 1, False)
    assert (meta["width"], meta["height"]) == size
    exif = meta["exif"]
    assert (exif["camera_make"], exif["camera_model"]) == ("Apple", "iPhone 15")
    assert exif["taken_at"] == "2024-06-01T08:15:00+02:00"
    assert exif["gps"]["lat"] == pytest.approx(59.91, abs=1e-4)
    assert exif["gps"]["lon"] == pytest.approx(10.75, abs=1e-4)


def test_heic_brands_filetype_does_not_know_are_heic(tmp_path: Path, limits: Settings) -> None:
    """The 10-bit brand "heix" as major brand, and "mif1" naming it among its compatible brands."""
    data = mg.make_image(tmp_path / "a.heic", (120, 80)).read_bytes()
    assert data[8:12] == b"heic"
    for brands in (b"heix", b"mif1"):
        path = tmp_path / f"{brands.decode()}.heic"
        path.write_bytes(data[:8] + brands + data[12:].replace(b"heic", b"heix"))
        result = probe(path, limits)
        assert (result.mime, result.metadata["width"]) == ("image/heic", 120)


def test_gps_west_below_sea_level_and_time_offset(tmp_path: Path, limits: Settings) -> None:
    taken = datetime(2020, 1, 2, 18, 45, tzinfo=timezone(timedelta(hours=-5)))
    image = mg.make_jpeg_with_exif(tmp_path / "p.jpg", "X", "Y", taken, gps=(40.5, -3.25, -8.0))
    exif = probe(image, limits).metadata["exif"]
    assert exif["taken_at"] == "2020-01-02T18:45:00-05:00"
    assert (exif["gps"]["lat"], exif["gps"]["lon"], exif["gps"]["alt"]) == (40.5, -3.25, -8.0)


@pytest.mark.parametrize(
    ("name", "mime", "fmt"),
    [
        ("a.png", "image/png", "PNG"),
        ("a.jpg", "image/jpeg", "JPEG"),
        ("a.gif", "image/gif", "GIF"),
        ("a.webp", "image/webp", "WEBP"),
        ("a.bmp", "image/bmp", "BMP"),
        ("a.tiff", "image/tiff", "TIFF"),
        ("a.avif", "image/avif", "AVIF"),
        ("a.heic", "image/heic", "HEIF"),
    ],
)
def test_still_image_formats(tmp_path: Path, limits: Settings, name: str, mime: str, fmt: str) -> None:
    result = probe(mg.make_image(tmp_path / name, (120, 80)), limits)
    assert (result.media_type, result.mime, result.metadata["format"]) == (MediaType.IMAGE, mime, fmt)
    assert (result.metadata["width"], result.metadata["height"], result.metadata["n_frames"]) == (120, 80, 1)


@pytest.mark.parametrize("name", ["anim.gif", "anim.webp"])
def test_animated_image_is_an_image_with_frames(tmp_path: Path, limits: Settings, name: str) -> None:
    meta = probe(mg.make_image(tmp_path / name, (120, 80), frames=4), limits).metadata
    assert (meta["n_frames"], meta["animated"], meta["width"], meta["height"]) == (4, True, 120, 80)


def test_a_tiff_of_several_pages_is_a_document_not_an_animation(tmp_path: Path, limits: Settings) -> None:
    meta = probe(mg.make_image(tmp_path / "scan.tif", (120, 80), frames=3), limits).metadata
    assert (meta["n_frames"], meta["animated"], meta["pages"], meta["width"]) == (1, False, 3, 120)
    single = probe(mg.make_image(tmp_path / "one.tif", (120, 80)), limits).metadata
    assert (single["n_frames"], single["animated"], "pages" in single) == (1, False, False)


def test_png_bomb_is_refused_from_the_header_alone(tmp_path: Path, limits: Settings) -> None:
    bomb = mg.make_png_bomb(tmp_path / "bomb.png")
    assert bomb.stat().st_size < 300_000
    tracemalloc.start()
    started = time.perf_counter()
    reason = rejected(bomb, limits)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert reason == "image is 30000x30000 = 900 megapixels, over the 120 megapixel limit (decompression bomb?)"
    assert elapsed < 0.1, f"took {elapsed:.3f} s"
    assert peak < 5_000_000, f"allocated {peak} bytes"  # the pixels would be 112 MB even at 1 bit


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        # between our limit and twice it: Pillow only warns, our own check refuses
        (50_000, "image is 320x240 = 0.0768 megapixels, over the 0.05 megapixel limit (decompression bomb?)"),
        # over twice: Pillow raises, and the header is re-read for the size
        (30_000, "image is 320x240 = 0.0768 megapixels, over the 0.03 megapixel limit (decompression bomb?)"),
    ],
)
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_image_over_the_limit(tmp_path: Path, limit: int, expected: str) -> None:
    settings = Settings(home=tmp_path, max_image_pixels=limit)
    assert rejected(mg.make_image(tmp_path / "a.png", (320, 240)), settings) == expected


def test_gif_frame_larger_than_its_screen(tmp_path: Path) -> None:
    """GIF's plugin runs Pillow's guard itself on a frame outgrowing the declared screen."""
    gif = mg.make_image(tmp_path / "a.gif", (320, 240))
    data = bytearray(gif.read_bytes())
    data[6:10] = struct.pack("<HH", 16, 16)  # logical screen 16x16, frame still 320x240
    gif.write_bytes(bytes(data))
    settings = Settings(home=tmp_path, max_image_pixels=30_000)
    assert rejected(gif, settings) == "image is over twice the 0.03 megapixel limit (decompression bomb?)"


@pytest.mark.parametrize("name", ["cut.png", "cut.jpg", "cut.gif", "cut.webp", "cut.heic"])
def test_truncated_image(tmp_path: Path, limits: Settings, name: str) -> None:
    image = mg.truncate(mg.make_text_image(tmp_path / name, "TRUNCATED", background=mg.photo("chelsea")), 0.6)
    assert "corrupt" in rejected(image, limits)


def test_png_with_a_corrupt_chunk(tmp_path: Path, limits: Settings) -> None:
    image = tmp_path / "crc.png"
    data = bytearray(mg.make_image(image).read_bytes())
    data[data.index(b"IDAT") + 40] ^= 0xFF
    image.write_bytes(bytes(data))
    assert rejected(image, limits).startswith("truncated or corrupt PNG image:")


# ----------------------------------------------------------------------------------------- text


@pytest.mark.parametrize(
    ("text", "encoding", "bom", "reported", "language"),
    [
        (ENGLISH, "utf-8", False, "utf-8", "en"),
        (GERMAN, "utf-8", True, "utf-8", "de"),
        (GERMAN, "utf-16-le", True, "utf-16", "de"),
        (GERMAN, "utf-16-be", True, "utf-16", "de"),
        (ENGLISH, "utf-32-le", True, "utf-32", "en"),
        (GERMAN, "utf-16-le", False, "utf-16-le", "de"),  # no BOM: told by where the NULs fall
        (ENGLISH, "utf-16-be", False, "utf-16-be", "en"),
        (GERMAN, "cp1252", False, "cp1252", "de"),
        (ENGLISH.replace("'", "\u2019"), "cp1252", False, "cp1252", "en"),  # curly quote is 0x92
    ],
)
def test_text_encodings_and_language(
    tmp_path: Path, limits: Settings, text: str, encoding: str, bom: bool, reported: str, language: str
) -> None:
    result = probe(mg.make_text_file(tmp_path / "notes.txt", text, encoding, bom), limits)
    meta = result.metadata
    assert (result.media_type, result.mime) == (MediaType.TEXT, "text/plain")
    assert (meta["encoding"], meta["has_bom"], meta["language"]) == (reported, bom, language)
    assert (meta["chars"], meta["lines"]) == (len(text), 3)


def test_pcm_samples_whose_high_bytes_are_zero_are_no_utf16_text(tmp_path: Path, limits: Settings) -> None:
    """Quiet 16-bit PCM without a header puts a NUL in every other byte, as UTF-16 text does: read so,
    its other bytes are control codes, and it is refused as binary."""
    quiet = np.random.default_rng(0).integers(1, 256, 4000, dtype=np.uint16).astype("<u2").tobytes()
    (tmp_path / "quiet.raw").write_bytes(quiet)
    assert rejected(tmp_path / "quiet.raw", limits).startswith("binary data, not text")


def test_text_without_words_has_no_language(tmp_path: Path, limits: Settings) -> None:
    meta = probe(mg.make_text_file(tmp_path / "n.txt", "12 34 56\n78 90\n"), limits).metadata
    assert (meta["language"], meta["lines"]) == (None, 2)


def test_text_over_the_text_limit(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, max_text_bytes=1000)
    reason = rejected(mg.make_text_file(tmp_path / "long.txt", ENGLISH * 10), settings)
    assert reason == "text file is 2.5 KiB, over the 1000 bytes text limit"


def test_text_with_control_characters_is_binary(tmp_path: Path, limits: Settings) -> None:
    text = "".join(ch + ("\x01" if i % 10 == 0 else "") for i, ch in enumerate(GERMAN))
    reason = rejected(mg.make_text_file(tmp_path / "ctl.txt", text, "utf-16-le", bom=True), limits)
    assert reason.startswith("binary data, not text:")


def test_nul_bytes_without_a_bom_are_not_text(tmp_path: Path, limits: Settings) -> None:
    path = tmp_path / "data.txt"
    path.write_bytes(ENGLISH.encode() + b"\x00\x00\x01\x02" + ENGLISH.encode())
    assert "unrecognised format" in rejected(path, limits)


def test_high_bytes_that_read_as_nothing(tmp_path: Path, limits: Settings) -> None:
    """No NULs, no control bytes, yet neither UTF-8 nor sensible in any code page."""
    path = tmp_path / "mojibake.txt"
    rng = random.Random(3)
    path.write_bytes(bytes(rng.randrange(0x80, 0x100) for _ in range(5000)))
    assert rejected(path, limits).startswith("not text: the bytes are not UTF-8")


def test_invalid_utf8_after_a_bom(tmp_path: Path, limits: Settings) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"\xef\xbb\xbfhello \xc3\x28 world")
    assert rejected(path, limits).startswith("not valid utf-8 text:")


# ----------------------------------------------------------------------------------------- type from bytes


def test_png_named_mp4_is_an_image(tmp_path: Path, limits: Settings) -> None:
    path = tmp_path / "movie.mp4"
    path.write_bytes(mg.make_image(tmp_path / "real.png").read_bytes())
    result = probe(path, limits)
    assert (result.media_type, result.mime) == (MediaType.IMAGE, "image/png")


def test_wav_named_txt_is_audio(tmp_path: Path, limits: Settings, speech: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(speech.read_bytes())
    result = probe(path, limits)
    assert (result.media_type, result.mime) == (MediaType.AUDIO, "audio/x-wav")


def test_video_named_jpg_is_video(tmp_path: Path, limits: Settings) -> None:
    assert probe(mg.make_video(tmp_path / "still.jpg", 0.5, container="mp4"), limits).media_type == MediaType.VIDEO


def test_empty_file(tmp_path: Path, limits: Settings) -> None:
    path = tmp_path / "empty.mp4"
    path.touch()
    assert rejected(path, limits) == "empty file"


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, max_file_bytes=1000)
    reason = rejected(mg.make_random_bytes(tmp_path / "x.bin", 2000), settings)
    assert reason == "file is 2.0 KiB, over the 1000 bytes limit"


def test_unsupported_formats_are_named(tmp_path: Path, limits: Settings) -> None:
    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n")
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a.txt", "hello")
    elf = tmp_path / "prog"
    elf.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(200))
    assert rejected(pdf, limits) == "unsupported format: PDF document"
    assert rejected(archive, limits) == "unsupported format: ZIP archive"
    assert rejected(elf, limits) == "unsupported format: ELF executable"


SVG_PATH = '<path d="M12 2C6.48 2 2 6.48 2 12s4.48 10 10 10 10-4.48 10-10S17.52 2 12 2z"/>'


@pytest.mark.parametrize(
    "head",
    [
        "",
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        '\ufeff<?xml version="1.0"?>\n<!-- made by hand -->\n',
        '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n',
        '<!DOCTYPE svg [ <!ENTITY ns "http://www.w3.org/2000/svg"> ]>\n',
    ],
    ids=["bare", "xml-declaration", "bom-and-comment", "doctype", "internal-subset"],
)
def test_an_svg_drawing_is_refused_by_name_not_searched_as_text(tmp_path: Path, limits: Settings, head: str) -> None:
    drawing = tmp_path / "icon.svg"
    drawing.write_text(f'{head}<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">{SVG_PATH}</svg>\n')
    assert rejected(drawing, limits) == "unsupported format: SVG drawing (vector graphics are not analysed)"


def test_an_svg_named_as_a_photo_is_called_mislabeled(tmp_path: Path, limits: Settings) -> None:
    drawing = tmp_path / "photo.jpg"
    drawing.write_text(f'<svg xmlns="http://www.w3.org/2000/svg">{SVG_PATH}</svg>')
    assert rejected(drawing, limits) == (
        "mislabeled: bytes are not a JPG: unsupported format: SVG drawing (vector graphics are not analysed)"
    )


@pytest.mark.parametrize(
    "text",
    [
        '<?xml version="1.0"?>\n<note><to>Ann</to><body>The svg is attached.</body></note>\n',
        f"<!DOCTYPE html><html><body><p>The harbour at dawn.</p><svg>{SVG_PATH}</svg></body></html>\n",
        "<svgfile>not a drawing, an element whose name begins with svg</svgfile>\n",
    ],
    ids=["xml", "html-with-inline-svg", "svg-prefix"],
)
def test_other_markup_that_mentions_svg_is_still_text(tmp_path: Path, limits: Settings, text: str) -> None:
    page = tmp_path / "page.txt"
    page.write_text(text)
    assert probe(page, limits).media_type == MediaType.TEXT


@pytest.mark.parametrize("size", [1024, 65_536, 2_000_000])
@pytest.mark.parametrize("seed", range(4))
def test_random_bytes_are_refused(tmp_path: Path, limits: Settings, size: int, seed: int) -> None:
    """FFmpeg's own probe takes some random files for MP3 (given the name) or raw H.263; we never ask it."""
    for name in ("song.mp3", "clip.h263", "blob.bin"):
        reason = rejected(mg.make_random_bytes(tmp_path / name, size, seed), limits)
        assert "unrecognised format (random or unknown binary data)" in reason
    assert reason == "unrecognised format (random or unknown binary data)"  # no claim made by .bin
    assert rejected(tmp_path / "song.mp3", limits).startswith("mislabeled: bytes are not an MP3:")


@pytest.mark.parametrize(
    "magic",
    [
        b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2",
        b"RIFF\x10\x00\x00\x00WAVEfmt ",
        b"OggS\x00\x02",
        b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01",
        b"fLaC",
        b"ID3\x04\x00\x00\x00\x00\x00\x00",
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8\xff\xe0",
        b"GIF89a",
        b"\xff\xfe",
    ],
)
def test_a_signature_followed_by_junk_is_refused(tmp_path: Path, limits: Settings, magic: bytes) -> None:
    for seed in range(3):
        path = tmp_path / f"junk{seed}"
        path.write_bytes(magic + mg.make_random_bytes(tmp_path / "r", 50_000, seed).read_bytes())
        with pytest.raises(Rejected):
            probe_with_door(path, limits)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.filterwarnings("ignore:Tag data larger than file")  # Pillow reading damaged EXIF
def test_damaged_files_are_refused_or_probed_never_crash(tmp_path: Path, limits: Settings, tone: Path) -> None:
    originals = [
        mg.make_video(tmp_path / "v.mp4", 1.0, size=(160, 120), audio_wav=tone),
        mg.make_video(tmp_path / "v.webm", 1.0, size=(160, 120), codec="libvpx-vp9"),
        mg.make_tone_audio(tmp_path / "a.mp3", 1.0),
        mg.make_text_image(tmp_path / "i.png", "DAMAGE", (200, 100)),
        mg.make_jpeg_with_exif(tmp_path / "i.jpg", "A", "B", datetime(2021, 5, 6), gps=(1.0, 2.0)),
    ]
    rng = random.Random(7)
    for attempt in range(60):
        data = bytearray(rng.choice(originals).read_bytes())
        for _ in range(rng.randint(1, 30)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        path = tmp_path / f"damaged{attempt}"
        path.write_bytes(bytes(data[: rng.randint(len(data) // 2, len(data))]))
        try:
            probe(path, limits)
        except Rejected as exc:
            assert str(exc)
