"""What a file is, from its first bytes: a candidate format, or :class:`Rejected` with the reason.

Only signatures are read here; the ``probe_*`` modules then validate the candidate by parsing and
decoding it. FFmpeg is never asked to guess a format: its probe scores random bytes as H.263 video
or MP3 audio now and then (almost always when the name ends in ``.mp3``), so audio and video formats
are recognised here and the matching demuxer is forced. Formats without a real signature (MP3 with
no ID3 tag, ADTS AAC, MPEG-TS) are only accepted when several frames chain up header to header.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import filetype
from filetype.types import APPLICATION, ARCHIVE, DOCUMENT, FONT
from PIL import features

from mediasift.media.heif import HEIF

HEAD_BYTES = 64 * 1024
CHAIN_FRAMES = 5  # consecutive MP3/ADTS frame headers that must follow one another
CHAIN_SEARCH_BYTES = 4096  # how far into the stream the first frame may start (padding, junk)
TEXT_MAX_CONTROL_RATIO = 0.02


class Rejected(Exception):
    """Input refused; ``str(exc)`` is the reason, written for a person (e.g. ``'empty file'``); ``mime``
    the format the bytes were found to be, where they are one this does not take (a PSD, an SVG)."""

    def __init__(self, reason: str, mime: str | None = None) -> None:
        super().__init__(reason)
        self.mime = mime


@dataclass(frozen=True)
class AVFormat:
    """A container of audio and/or video, opened with a forced FFmpeg demuxer."""

    name: str  # reported as metadata["container"]
    demuxer: str
    audio_mime: str
    video_mime: str | None = None  # None: the format carries audio only
    indexed: bool = False  # declares its duration up front, so reading less means the file was cut

    @property
    def label(self) -> str:
        return self.name.upper()


@dataclass(frozen=True)
class ImageFormat:
    name: str  # Pillow's format name
    mime: str


@dataclass(frozen=True)
class TextFormat:
    bom_encoding: str | None  # the codec a byte-order mark names ("utf-8-sig", "utf-16", "utf-32")
    encoding: str | None = None  # the codec told without a BOM: UTF-16 by where its NULs fall

    @property
    def known_encoding(self) -> str | None:
        return self.bom_encoding or self.encoding


Candidate = AVFormat | ImageFormat | TextFormat

MP4 = AVFormat("mp4", "mov", "audio/mp4", "video/mp4", indexed=True)
MOV = AVFormat("mov", "mov", "audio/mp4", "video/quicktime", indexed=True)
M3GP = AVFormat("3gp", "mov", "audio/3gpp", "video/3gpp", indexed=True)
MATROSKA = AVFormat("matroska", "matroska", "audio/x-matroska", "video/x-matroska", indexed=True)
WEBM = AVFormat("webm", "matroska", "audio/webm", "video/webm", indexed=True)
AVI = AVFormat("avi", "avi", "audio/x-msvideo", "video/x-msvideo", indexed=True)
ASF = AVFormat("asf", "asf", "audio/x-ms-wma", "video/x-ms-asf", indexed=True)
FLV = AVFormat("flv", "flv", "audio/x-flv", "video/x-flv")
OGG = AVFormat("ogg", "ogg", "audio/ogg", "video/ogg")
MPEGTS = AVFormat("mpegts", "mpegts", "audio/mp2t", "video/mp2t")
MPEGPS = AVFormat("mpeg", "mpeg", "audio/mpeg", "video/mpeg")
WAV = AVFormat("wav", "wav", "audio/x-wav")
FLAC = AVFormat("flac", "flac", "audio/flac", indexed=True)
AIFF = AVFormat("aiff", "aiff", "audio/aiff")
CAF = AVFormat("caf", "caf", "audio/x-caf")
MP3 = AVFormat("mp3", "mp3", "audio/mpeg")
MP3_INDEXED = AVFormat("mp3", "mp3", "audio/mpeg", indexed=True)  # a Xing/Info/VBRI header counts frames
AAC = AVFormat("aac", "aac", "audio/aac")

# (offset, magic) -> format, for signatures that identify a format on their own.
_MAGIC: tuple[tuple[int, bytes, AVFormat], ...] = (
    (0, b"OggS", OGG),
    (0, b"fLaC", FLAC),
    (0, b"FLV\x01", FLV),
    (0, b"caff", CAF),
    (0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", ASF),
    (0, b"\x00\x00\x01\xba", MPEGPS),
)
_RIFF_FORMS = {b"WAVE": WAV, b"AVI ": AVI}
_AIFF_FORMS = (b"AIFF", b"AIFC")
_ISO_BRANDS = {b"qt  ": MOV, b"3gp": M3GP, b"3g2": M3GP}  # anything else with ftyp is MP4
_AVIF_BRANDS = (b"avif", b"avis")
_HEVC_STILL_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx")
_HEIF_BRANDS = (*_HEVC_STILL_BRANDS, b"mif1", b"msf1")
_QUICKTIME_BOXES = (b"moov", b"mdat", b"wide")  # old QuickTime files start without ftyp

_IMAGES = {
    "image/png": ImageFormat("PNG", "image/png"),
    "image/apng": ImageFormat("PNG", "image/png"),
    "image/jpeg": ImageFormat("JPEG", "image/jpeg"),
    "image/gif": ImageFormat("GIF", "image/gif"),
    "image/webp": ImageFormat("WEBP", "image/webp"),
    "image/bmp": ImageFormat("BMP", "image/bmp"),
    "image/tiff": ImageFormat("TIFF", "image/tiff"),
}
_AVIF = ImageFormat("AVIF", "image/avif")
_HEIF = ImageFormat(HEIF, "image/heic")
_UNSUPPORTED_NAMES = {
    "pdf": "PDF document",
    "zip": "ZIP archive",
    "gz": "gzip archive",
    "elf": "ELF executable",
    "exe": "Windows executable",
    "psd": "Photoshop image",
}
_OTHER_MATCHERS = list(DOCUMENT + ARCHIVE + FONT + APPLICATION)
# Documents that may consist of printable bytes only, so they must be named before the text check.
_TEXT_LIKE_DOCUMENTS = (
    (b"%PDF-", "PDF document"),
    (b"%!PS", "PostScript document"),
    (b"{\\rtf", "RTF document"),
)

# An SVG drawing is XML text whose "words" are mostly path data ("M12 2C6.48 2 2 6.48..."): searched as
# text it would only add noise, so it is refused by name. Its root element comes after an optional BOM,
# XML declaration, comments and doctype (with an internal subset).
_SVG = re.compile(
    rb"\A(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*>\s*|<!--.*?-->\s*|<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>\s*)*<svg[\s>/]",
    re.DOTALL | re.IGNORECASE,
)

_BOMS = (  # UTF-32 LE first: its BOM starts with UTF-16 LE's
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROL_BYTES = bytes(b for b in range(32) if chr(b) not in "\t\n\r\f\v\x1b") + b"\x7f"


def sniff(path: Path) -> Candidate:
    """The format the file's bytes claim; raises :class:`Rejected` for unsupported or unknown data."""
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
        found = _strong_av(head) or _image(head) or _weak_av(head, f) or _text(head)
    if found is None:
        _reject_known_other(head)
        raise Rejected("unrecognised format (random or unknown binary data)")
    return found


def _strong_av(head: bytes) -> AVFormat | None:
    for offset, magic, fmt in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return fmt
    if head[:4] in (b"RIFF", b"RF64"):  # RF64: WAV over 4 GiB
        return _RIFF_FORMS.get(head[8:12])
    if head[:4] == b"FORM" and head[8:12] in _AIFF_FORMS:
        return AIFF
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML; the DocType element says webm or matroska
        return WEBM if b"webm" in head[:64] else MATROSKA
    if head[4:8] == b"ftyp":
        return _iso_bmff(head)
    return MOV if head[4:8] in _QUICKTIME_BOXES else None


def _iso_bmff(head: bytes) -> AVFormat | None:
    """MP4-family files by brand; AVIF/HEIF stills share the box format and are left to :func:`_image`."""
    major, brands = _ftyp(head)
    if major in _AVIF_BRANDS + _HEIF_BRANDS or any(b in _AVIF_BRANDS for b in brands):
        return None
    return _ISO_BRANDS.get(major) or _ISO_BRANDS.get(major[:3]) or MP4


def _ftyp(head: bytes) -> tuple[bytes, list[bytes]]:
    """An ISO BMFF file's major brand and compatible brands (its first box, ``ftyp``)."""
    brands = [head[i : i + 4] for i in range(16, min(len(head), int.from_bytes(head[:4])), 4)]
    return head[8:12], brands


def _is_hevc_still(head: bytes) -> bool:
    """A HEIF file of HEVC pictures (HEIC): by its major brand, or a generic HEIF brand with an HEVC
    one among its compatible brands (filetype knows only "heic", not the 10-bit and sequence brands)."""
    if head[4:8] != b"ftyp":
        return False
    major, brands = _ftyp(head)
    return major in _HEVC_STILL_BRANDS or (major in (b"mif1", b"msf1") and any(b in _HEVC_STILL_BRANDS for b in brands))


def _image(head: bytes) -> ImageFormat | None:
    if _is_hevc_still(head):
        return _HEIF
    kind = filetype.image_match(head)
    if kind is None:
        return None
    if kind.mime == "image/avif" and features.check("avif"):
        return _AVIF
    if kind.mime in _IMAGES:
        return _IMAGES[kind.mime]
    raise Rejected(f"unsupported format: {_describe(kind.extension, kind.mime)}", kind.mime)


def _weak_av(head: bytes, f: BinaryIO) -> AVFormat | None:
    """MP3 / ADTS AAC (after an optional ID3v2 tag) proven by a chain of frame headers; MPEG-TS by
    its sync byte every 188 (or 192) bytes."""
    if _ts_sync(head, 0, 188) or _ts_sync(head, 4, 192):
        return MPEGTS
    body = head
    if head[:3] == b"ID3" and len(head) >= 10 and all(b < 0x80 for b in head[6:10]):
        f.seek(_id3_length(head))
        body = f.read(HEAD_BYTES)
        if body[:4] == b"fLaC":
            return FLAC
    start = _chain_start(body, _mp3_frame_length)
    if start is not None:
        first_frame = body[start : start + _mp3_frame_length(body[start : start + 4])]
        return MP3_INDEXED if any(tag in first_frame for tag in (b"Xing", b"Info", b"VBRI")) else MP3
    return AAC if _chain_start(body, _adts_frame_length) is not None else None


def _id3_length(head: bytes) -> int:
    """Bytes taken by an ID3v2 tag: 10-byte header, 'syncsafe' size (7 bits a byte), optional footer."""
    size = sum(b << (7 * (3 - i)) for i, b in enumerate(head[6:10]))
    return 10 + size + (10 if head[5] & 0x10 else 0)


def _ts_sync(head: bytes, first: int, stride: int) -> bool:
    positions = range(first, len(head), stride)
    return len(positions) >= 8 and all(head[p] == 0x47 for p in positions[:64])


# MPEG audio bitrates in kbit/s for bitrate index 1..14, keyed by (MPEG-1 ? 1 : 2, layer group).
_MP3_KBPS = {
    (1, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (1, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (1, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (2, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (2, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mp3_frame_length(h: bytes) -> int:
    """Length in bytes of the MPEG audio frame whose header starts ``h``, 0 if it is not one."""
    if len(h) < 4 or h[0] != 0xFF or h[1] & 0xE0 != 0xE0:
        return 0
    version, layer = (h[1] >> 3) & 3, 4 - ((h[1] >> 1) & 3)
    bitrate_index, rate_index, padding = h[2] >> 4, (h[2] >> 2) & 3, (h[2] >> 1) & 1
    if version == 1 or layer == 4 or bitrate_index in (0, 15) or rate_index == 3:
        return 0
    mpeg1 = version == 3
    kbps = _MP3_KBPS[(1, layer) if mpeg1 else (2, min(layer, 2))][bitrate_index - 1]
    rate = _MP3_RATES[version][rate_index]
    if layer == 1:
        return (12000 * kbps // rate + padding) * 4
    return (144000 if mpeg1 or layer == 2 else 72000) * kbps // rate + padding


def _adts_frame_length(h: bytes) -> int:
    """Length in bytes of the ADTS AAC frame whose header starts ``h``, 0 if it is not one."""
    if len(h) < 7 or h[0] != 0xFF or h[1] & 0xF6 != 0xF0 or (h[2] >> 2) & 0xF > 12:
        return 0
    length = ((h[3] & 3) << 11) | (h[4] << 3) | (h[5] >> 5)
    return length if length >= 7 else 0


def _chain_start(data: bytes, frame_length: Callable[[bytes], int]) -> int | None:
    """Where CHAIN_FRAMES frames start following each other, if they do within the first few KB."""
    for start in range(min(len(data), CHAIN_SEARCH_BYTES)):
        if data[start] != 0xFF:
            continue
        pos = start
        for _ in range(CHAIN_FRAMES):
            length = frame_length(data[pos : pos + 7])
            if not length:
                break
            pos += length
        else:
            return start
    return None


def _text(head: bytes) -> TextFormat | None:
    """A BOM, or bytes free of NULs and with few control characters; decoding is checked later."""
    for magic, name in _TEXT_LIKE_DOCUMENTS:
        if head.startswith(magic):
            raise Rejected(f"unsupported format: {name}")
    if _SVG.match(head):
        raise Rejected("unsupported format: SVG drawing (vector graphics are not analysed)", "image/svg+xml")
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return TextFormat(encoding)
    if b"\x00" in head:
        return _utf16_without_bom(head)
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return TextFormat(None) if controls <= TEXT_MAX_CONTROL_RATIO * len(head) else None


def _utf16_without_bom(head: bytes) -> TextFormat | None:
    """UTF-16 written without a BOM, told as the ``file`` tool tells it: text in Latin script puts a NUL
    in (nearly) every other byte, the first of each pair big-endian, the second little-endian."""
    pairs = len(head) // 2
    if pairs < 8:
        return None
    firsts, seconds = head[0 : 2 * pairs : 2], head[1 : 2 * pairs : 2]
    for nuls, others, encoding in ((firsts, seconds, "utf-16-be"), (seconds, firsts, "utf-16-le")):
        if nuls.count(0) >= 0.9 * pairs and others.count(0) == 0:
            return TextFormat(None, encoding)
    return None


def _reject_known_other(head: bytes) -> None:
    kind = filetype.match(head, matchers=_OTHER_MATCHERS)
    if kind is not None:
        raise Rejected(f"unsupported format: {_describe(kind.extension, kind.mime)}", kind.mime)


def _describe(extension: str, mime: str) -> str:
    return _UNSUPPORTED_NAMES.get(extension, f"{extension.upper()} file ({mime})")
