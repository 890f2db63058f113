"""What the people pages show: each person's face, cropped from a picture already stored, and where
they appear. Pure functions, no I/O.

A face is cut out by the browser, not here: an SVG whose ``viewBox`` is a square around the face's
box, over the whole picture drawn at the size the face detector saw it. No image is decoded or
stored for it, and the picture is the one the asset page shows (a keyframe of a video, the
thumbnail of an image), fetched once however many faces it holds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from mediasift.api.ui.views import AssetCard, analysed_size, clock, thumbnail_of
from mediasift.service_models import Appearance, AssetDetail, Person

MARGIN = 0.35  # of the face's longer side, around it on each side: some hair and chin


@dataclass(frozen=True)
class Crop:
    """A face: the picture (a stored blob), its size in the detector's pixels, and the square of it
    to show (x, y, side in the same pixels)."""

    sha256: str
    width: float
    height: float
    x: float
    y: float
    side: float

    @property
    def view_box(self) -> str:
        return f"{self.x:.1f} {self.y:.1f} {self.side:.1f} {self.side:.1f}"


def square_around(
    box: Sequence[float], width: float, height: float, margin: float = MARGIN
) -> tuple[float, float, float]:
    """A square (x, y, side) around ``box`` (x, y, w, h) with ``margin`` of its longer side on each
    side, moved (and, in a picture too small for it, shrunk) to lie inside the picture."""
    x, y, w, h = (float(v) for v in box)
    side = min(max(w, h) * (1 + 2 * margin), width, height)
    left = min(max(x + w / 2 - side / 2, 0.0), width - side)
    top = min(max(y + h / 2 - side / 2, 0.0), height - side)
    return left, top, side


def _size(width: object, height: object) -> tuple[float, float] | None:
    """A stored picture's size as the detector saw it; None when the record lacks a usable one."""
    if isinstance(width, int | float) and isinstance(height, int | float) and width > 0 and height > 0:
        return analysed_size(float(width), float(height))
    return None


def _picture(detail: AssetDetail, frame: str | None) -> tuple[str, float, float] | None:
    """The stored picture a face of ``frame`` was found in, with its size as the detector saw it."""
    if detail.media_type == "image":
        size = _size(detail.metadata.get("width"), detail.metadata.get("height"))
        if size is None:
            return None
        # The thumbnail is the analysed picture made smaller: the same shape, far fewer bytes.
        shown = thumbnail_of(detail)
        return (shown, *size) if shown else None
    for artifact in detail.artifacts:
        if artifact.kind == "keyframe" and artifact.key == frame and artifact.blob_sha256:
            size = _size(artifact.data.get("width"), artifact.data.get("height"))
            if size is not None:
                return (artifact.blob_sha256, *size)
    return None


def crop(appearance: Appearance, detail: AssetDetail) -> Crop | None:
    """The face of ``appearance`` in its asset's stored pictures; None when they do not hold it."""
    found = _picture(detail, appearance.frame)
    if found is None or len(appearance.box) != 4:
        return None
    sha256, width, height = found
    x, y, side = square_around(appearance.box, width, height)
    return Crop(sha256, width, height, x, y, side)


@dataclass(frozen=True)
class PersonCard:
    """A person as the people list shows them."""

    id: int
    name: str | None
    face_count: int
    asset_count: int
    face: Crop | None
    thumbnail: str | None  # the asset's, when the face cannot be cut out


@dataclass(frozen=True)
class Seen:
    """One face of a person on the person page: where to open it and when."""

    face_id: int
    href: str
    when: str  # "0:03.5–0:07.0" in a video; "" in a picture
    confidence: float
    face: Crop | None


@dataclass(frozen=True)
class SeenIn:
    """An asset a person appears in, with each of their faces in it."""

    asset: AssetCard
    faces: list[Seen]


def person_card(
    person: Person, first: Appearance | None, detail: AssetDetail | None, card: AssetCard | None
) -> PersonCard:
    face = crop(first, detail) if first is not None and detail is not None else None
    return PersonCard(
        person.id, person.name, person.face_count, person.asset_count, face, card.thumbnail if card else None
    )


def appearance_href(appearance: Appearance) -> str:
    """The asset's page, at the face's time in a video (the page seeks there)."""
    base = f"/assets/{appearance.asset_id}"
    return (
        f"{base}?t={appearance.start:.2f}"
        if appearance.media_type == "video" and appearance.start is not None
        else base
    )


def seen_in(
    appearances: Sequence[Appearance], details: dict[UUID, AssetDetail], cards: dict[UUID, AssetCard]
) -> list[SeenIn]:
    """The appearances by asset, in the order they came (newest asset first); an asset gone since
    (no card) is left out."""
    groups: dict[UUID, SeenIn] = {}
    for a in appearances:
        card = cards.get(a.asset_id)
        if card is None:
            continue
        when = f"{clock(a.start)}–{clock(a.end)}" if a.start is not None else ""
        seen = Seen(a.face_id, appearance_href(a), when, a.confidence, crop(a, details[a.asset_id]))
        groups.setdefault(a.asset_id, SeenIn(card, [])).faces.append(seen)
    return list(groups.values())
