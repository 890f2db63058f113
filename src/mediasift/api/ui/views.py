"""What the pages show, made from the service's results: plain data for the templates (which escape
everything) and for the pages' scripts (as JSON). Pure functions, no I/O."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from markupsafe import Markup, escape

from mediasift.api.deps import public_source
from mediasift.exports.cues import Word
from mediasift.mediatype import BROWSER_PICTURES
from mediasift.operators.images import MAX_ANALYSIS_SIDE
from mediasift.service_models import AssetDetail, AssetExport, AssetResult, SimilarItem

WORD = re.compile(r"\w+", re.UNICODE)
MATCHED_NAMES = {"keyword": "keyword", "text": "meaning", "clip": "meaning (picture)"}


def clock(seconds: float | None) -> str:
    """``m:ss.s`` (``h:mm:ss`` past an hour); '' for no time."""
    if seconds is None:
        return ""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}.{int((seconds - whole) * 10)}"


def display_name(sources: Sequence[str]) -> str:
    """What to call an asset: the name of its first source as a client may see it."""
    if not sources:
        return "untitled"
    shown = public_source(sources[0])
    for prefix in ("upload:", "file:"):
        if shown.startswith(prefix):
            return shown[len(prefix) :]
    return shown


def marked(text: str, query: str) -> Markup:
    """``text`` escaped, with each word that starts with a word of ``query`` (of two letters or more,
    any case) in ``<mark>``."""
    stems = {w.lower() for w in WORD.findall(query) if len(w) >= 2}
    out: list[str] = []
    last = 0
    for match in WORD.finditer(text):
        word = match.group(0)
        if any(word.lower().startswith(stem) for stem in stems):
            out.append(str(escape(text[last : match.start()])))
            out.append(f"<mark>{escape(word)}</mark>")
            last = match.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))


@dataclass(frozen=True)
class Keyframe:
    start: float
    end: float
    time: float
    sha256: str


@dataclass(frozen=True)
class AssetCard:
    """An asset as search results and lists show it."""

    id: UUID
    name: str
    media_type: str
    mime: str
    status: str
    created: str
    original: str  # sha256 of the stored original
    thumbnail: str | None
    picture: str | None  # an image's page shows this: the original, or its preview where browsers cannot show it
    playable: str | None  # a video's or sound's players play this: the copy made for browsers, else the original
    no_copy: str | None  # why no playable copy was made of an original browsers cannot play (given up: too slow)
    duration: float | None
    language: str | None
    keyframes: tuple[Keyframe, ...]


def thumbnail_of(detail: AssetDetail) -> str | None:
    """The small picture that stands for an asset: its thumbnail, or (not analysed yet) an image's
    original where browsers display its format."""
    thumbnail = _artifact_blob(detail, "thumbnail")
    if thumbnail is None and detail.media_type == "image" and detail.mime in BROWSER_PICTURES:
        return detail.sha256
    return thumbnail


def card(detail: AssetDetail) -> AssetCard:
    thumbnail = thumbnail_of(detail)
    frames = sorted(
        (
            Keyframe(float(a.data.get("start", a.start or 0.0)), float(a.data.get("end", a.end or 0.0)),
                     float(a.data.get("keyframe_time", 0.0)), str(a.data["keyframe_blob"]))
            for a in detail.artifacts
            if a.kind == "shot" and a.data.get("keyframe_blob")
        ),
        key=lambda f: f.start,
    )  # fmt: skip
    language = detail.metadata.get("language")
    for artifact in detail.artifacts:
        if artifact.kind == "transcript" and artifact.data.get("language"):
            language = language or artifact.data["language"]
    duration = detail.metadata.get("duration")
    return AssetCard(
        id=detail.id,
        name=display_name(detail.sources),
        media_type=detail.media_type,
        mime=detail.mime,
        status=detail.status,
        created=detail.created_at.strftime("%Y-%m-%d %H:%M"),
        original=detail.sha256,
        thumbnail=thumbnail,
        picture=_picture(detail, thumbnail),
        playable=_playable(detail),
        no_copy=_no_copy(detail),
        duration=float(duration) if isinstance(duration, int | float) else None,
        language=str(language) if language else None,
        keyframes=tuple(frames),
    )


def _picture(detail: AssetDetail, thumbnail: str | None) -> str | None:
    """What an image's page shows: the original in a format browsers display; else its JPEG preview (or
    its thumbnail, for a picture analysed before previews were made); None for other media."""
    if detail.media_type != "image":
        return None
    if detail.mime in BROWSER_PICTURES:
        return detail.sha256
    return _artifact_blob(detail, "preview") or thumbnail


def _playable(detail: AssetDetail) -> str | None:
    """What a video's or sound's players play: the copy made for browsers (operators/playable.py) where
    there is one, else the original; None for other media."""
    if detail.media_type not in ("video", "audio"):
        return None
    return _artifact_blob(detail, "playable") or detail.sha256


def _no_copy(detail: AssetDetail) -> str | None:
    given_up = (a.data.get("skipped") for a in detail.artifacts if a.kind == "playable")
    return next((str(reason) for reason in given_up if reason), None)


def _artifact_blob(detail: AssetDetail, kind: str) -> str | None:
    return next((a.blob_sha256 for a in detail.artifacts if a.kind == kind and a.blob_sha256), None)


# -- search -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Moment:
    start: float | None
    end: float | None
    range: str
    snippet: Markup
    kind: str
    matched: tuple[str, ...]
    keyframe: str | None
    score: float


@dataclass
class ResultGroup:
    asset: AssetCard
    moments: list[Moment] = field(default_factory=list)


def result_groups(results: Iterable[AssetResult], cards: dict[UUID, AssetCard], query: str) -> list[ResultGroup]:
    """The search's assets, each with its moments, in the search's order; an asset without a card
    (deleted since the search) is left out."""
    groups = []
    for result in results:
        asset = cards.get(result.asset_id)
        if asset is None:
            continue
        moments = [
            Moment(
                start=m.start,
                end=m.end,
                range=f"{clock(m.start)}–{clock(m.end)}" if m.start is not None else "whole",
                snippet=marked(m.snippet, query),
                kind=m.kind,
                matched=tuple(MATCHED_NAMES.get(name, name) for name in m.matched),
                keyframe=m.keyframe,
                score=m.score,
            )
            for m in result.moments
        ]
        groups.append(ResultGroup(asset, moments))
    return groups


# -- the asset page ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    start: float | None
    end: float | None
    range: str
    words: tuple[Word, ...]
    text: str


def transcript(document: AssetExport) -> list[Line]:
    """The transcript's segments, each with its timed words (the text alone when it has none)."""
    lines = []
    for segment in document.segments.get("transcript", []):
        words = tuple(
            Word(str(w["word"]), float(w["start"]), float(w["end"]))
            for w in segment.data.get("words", [])
            if isinstance(w, dict) and {"word", "start", "end"} <= w.keys()
        )
        span = f"{clock(segment.start)}–{clock(segment.end)}"
        lines.append(Line(segment.start, segment.end, span, words, segment.text or ""))
    return lines


def analysed_size(width: float, height: float) -> tuple[float, float]:
    """The size a picture of ``width`` x ``height`` had when it was analysed: image operators
    shrink a picture to at most :data:`MAX_ANALYSIS_SIDE` a side first, and boxes are in those pixels."""
    scale = min(1.0, MAX_ANALYSIS_SIDE / max(width, height, 1.0))
    return width * scale, height * scale


def boxes(detail: AssetDetail, document: AssetExport) -> list[dict[str, Any]]:
    """On-screen text, faces and objects as boxes over the picture, each as fractions of the frame
    it was found in (x, y, w, h) and the time range it stands for (its shot's, or its text's). None
    for an animated picture: the browser plays it on its own clock, so no box could be drawn over the
    frame it was found in (the page lists what each frame shows, with its time)."""
    if detail.metadata.get("animated"):
        return []
    frame_size: dict[str, tuple[float, float]] = {}
    for artifact in detail.artifacts:
        if artifact.kind == "keyframe":
            frame_size[artifact.key] = (float(artifact.data.get("width", 0)), float(artifact.data.get("height", 0)))
    meta = detail.metadata
    default = analysed_size(float(meta.get("width") or 0), float(meta.get("height") or 0))
    found: list[dict[str, Any]] = []

    def add(kind: str, label: str, box: Any, start: Any, end: Any, frame: str | None) -> None:
        width, height = frame_size.get(frame or "", default)
        if not (isinstance(box, list) and len(box) == 4 and width > 0 and height > 0):
            return
        x, y, w, h = (float(v) for v in box)
        start_s = float(start) if isinstance(start, int | float) else 0.0
        end_s = float(end) if isinstance(end, int | float) else start_s
        found.append({"kind": kind, "label": label, "start": start_s, "end": end_s,
                      "x": x / width, "y": y / height, "w": w / width, "h": h / height})  # fmt: skip

    for segment in document.segments.get("ocr", []):
        for line in segment.data.get("lines", []):
            frame = segment.data.get("frame")
            add("text", str(line.get("text", "")), line.get("box"), segment.start, segment.end, frame)
    for artifact in detail.artifacts:
        if artifact.kind == "objects":
            for obj in artifact.data.get("objects", []):
                label = f"{obj.get('label', '')} {float(obj.get('confidence', 0)):.0%}"
                add("object", label, obj.get("box"), artifact.data.get("start", artifact.start),
                    artifact.data.get("end", _shot_end(detail, artifact.key)), artifact.key)  # fmt: skip
        elif artifact.kind == "faces":
            for face in artifact.data.get("faces", []):
                label = f"face {float(face.get('confidence', 0)):.0%}"
                add("face", label, face.get("box"), artifact.data.get("start"), artifact.data.get("end"), artifact.key)
    return found


def _shot_end(detail: AssetDetail, keyframe: str) -> float | None:
    """The end of the shot whose keyframe is ``keyframe``."""
    for artifact in detail.artifacts:
        if artifact.kind == "keyframe" and artifact.key == keyframe:
            shot = artifact.data.get("shot")
            for other in detail.artifacts:
                if other.kind == "shot" and other.key == shot:
                    end = other.data.get("end")
                    return float(end) if isinstance(end, int | float) else None
    return None


def labels(document: AssetExport) -> list[tuple[str, str]]:
    """Each shot's (or the picture's) labels: its time range and the top names with confidence."""
    rows = []
    for segment in document.segments.get("labels", []):
        names = ", ".join(
            f"{item['label']} ({float(item['confidence']):.0%})" for item in segment.data.get("labels", [])[:3]
        )
        span = f"{clock(segment.start)}–{clock(segment.end)}" if segment.start is not None else "whole"
        rows.append((span, names))
    return rows


def on_screen_text(document: AssetExport) -> list[tuple[float | None, str, str]]:
    return [
        (s.start, f"{clock(s.start)}–{clock(s.end)}" if s.start is not None else "whole", s.text or "")
        for s in document.segments.get("ocr", [])
    ]


@dataclass(frozen=True)
class Similar:
    id: UUID
    name: str
    media_type: str
    similarity: float
    near_duplicate: bool
    basis: str


def similar_items(items: Sequence[SimilarItem]) -> list[Similar]:
    return [
        Similar(i.asset_id, display_name([i.source_path]) if i.source_path else str(i.asset_id)[:8], i.media_type,
                i.similarity, i.near_duplicate, i.basis)
        for i in items
    ]  # fmt: skip


def metadata_rows(metadata: dict[str, Any]) -> list[tuple[str, str]]:
    """The metadata as (name, value) rows, nested values flattened to ``a.b``."""
    rows: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key in sorted(value):
                walk(f"{prefix}.{key}" if prefix else str(key), value[key])
        else:
            rows.append((prefix, str(value)))

    walk("", metadata)
    return rows
