"""What a search may be narrowed to, beyond media type and tenant (which the indexed rows carry):
when an asset was ingested and recorded, how long it runs, its language, whether it shows faces, a
label or object it shows, where it came from, and a person who appears in it. Written as one SQL
condition on an asset (alias ``a``) that each side of a search adds to its own query, so a filter is
applied where the rows are read, never to a cut list afterwards."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime

from psycopg import sql

from mediasift.language_codes import stored_code

# Where each asset-level property is read from. Recorded: ``exif.taken_at``, what the image probe
# stores (EXIF DateTimeOriginal, or DateTime; with OffsetTimeOriginal when the camera wrote one, else
# read as UTC), or ``recorded_at``, an audio or video container's creation time (UTC). ``duration``
# is an audio or video's seconds; ``language`` a text's (probe), and each transcript's and text chunk's own.
_TAKEN = "coalesce(a.metadata #>> '{{exif,taken_at}}', a.metadata ->> 'recorded_at')"  # sql.SQL: braces doubled
RECORDED = (
    f"(CASE WHEN {_TAKEN} ~ '[+-][0-9]{{{{2}}}}:[0-9]{{{{2}}}}$' THEN ({_TAKEN})::timestamptz "
    f"ELSE ({_TAKEN})::timestamp AT TIME ZONE 'UTC' END)"
)
DURATION = "(a.metadata ->> 'duration')::float8"
# A source as the HTTP API shows it (api/deps.py public_source): an upload or a URL as recorded, a file
# of the server's disk as ``file:`` and its name, its folders hidden. A source prefix that begins with
# ``file:`` is matched against that, so a client can narrow to the names it was shown; any other
# prefix against the source as recorded (a path, for the command line on the server).
SHOWN_AS_RECORDED = ("upload:", "http://", "https://")  # sources the API shows as they were recorded
SHOWN_BY_NAME = "file:"  # a file of the server's disk, as the API shows it: by its name, never its folders
SHOWN_PREFIXES = (*SHOWN_AS_RECORDED, SHOWN_BY_NAME)  # every source as a key that is not an admin's sees it
SHOWN_SOURCE = (
    "(CASE WHEN "
    + " OR ".join(f"starts_with(src.source, '{prefix}')" for prefix in SHOWN_AS_RECORDED)
    + f" THEN src.source ELSE '{SHOWN_BY_NAME}' || substring(src.source FROM '[^/]*$') END)"
)


@dataclass(frozen=True)
class AssetFilters:
    """Every field None: no filter. Times are compared as instants (a naive one is UTC)."""

    ingested_after: datetime | None = None
    ingested_before: datetime | None = None
    recorded_after: datetime | None = None
    recorded_before: datetime | None = None
    min_duration: float | None = None  # seconds
    max_duration: float | None = None
    language: str | None = None  # ISO 639-1 as stored ("en", "de"); given in 639-1 or 639-3, any case
    has_faces: bool | None = None  # True: a face was found in it; False: none was
    label: str | None = None  # an image label or detected object, any case ("cat", "person")
    source_prefix: str | None = None  # an ingested path or URL begins with it
    person: str | None = None  # a person of the asset's tenant appears in it: their name (any case) or id

    def __post_init__(self) -> None:
        """Times made UTC (PostgreSQL takes offsets up to 15:59 only); ValueError with the reason for
        a time that cannot be, or a range that cannot hold anything."""
        for name in ("ingested_after", "ingested_before", "recorded_after", "recorded_before"):
            object.__setattr__(self, name, _instant(name, getattr(self, name)))
        for name in ("ingested", "recorded"):
            low, high = getattr(self, name + "_after"), getattr(self, name + "_before")
            if low is not None and high is not None and low >= high:
                raise ValueError(f"{name}_after must be before {name}_before")
        if self.min_duration is not None and self.max_duration is not None and self.min_duration > self.max_duration:
            raise ValueError("min_duration must not be above max_duration")
        for name in ("language", "label", "source_prefix", "person"):
            _check_text(name, getattr(self, name))
        if self.language is not None:
            object.__setattr__(self, "language", stored_code(self.language))

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self))


def asset_condition(filters: AssetFilters) -> sql.Composable:
    """The filters as one condition on ``a`` (an ``assets`` row); ``TRUE`` when there are none."""
    f = filters
    parts: list[sql.Composable] = []

    def add(template: str, value: object) -> None:
        if value is not None:
            literal = text_literal(value) if isinstance(value, str) else sql.Literal(value)
            parts.append(sql.SQL(template).format(v=literal))

    add("a.created_at >= {v}", f.ingested_after)
    add("a.created_at < {v}", f.ingested_before)
    add(RECORDED + " >= {v}", f.recorded_after)
    add(RECORDED + " < {v}", f.recorded_before)
    add(DURATION + " >= {v}", f.min_duration)
    add(DURATION + " <= {v}", f.max_duration)
    add(
        "(a.metadata ->> 'language' = {v} OR EXISTS (SELECT 1 FROM segments l WHERE l.asset_id = a.id "
        "AND l.kind IN ('transcript', 'text_chunk') AND l.data ->> 'language' = {v}))",
        f.language,
    )
    if f.has_faces is not None:
        faces = "EXISTS (SELECT 1 FROM segments f WHERE f.asset_id = a.id AND f.kind = 'faces')"
        parts.append(sql.SQL(faces if f.has_faces else "NOT " + faces))
    add(
        "EXISTS (SELECT 1 FROM segments l WHERE l.asset_id = a.id AND ("
        "(l.kind = 'labels' AND lower({v}) = ANY (string_to_array(lower(l.text), '; '))) OR "
        "(l.kind = 'objects' AND EXISTS (SELECT 1 FROM jsonb_array_elements(l.data -> 'objects') o "
        "WHERE lower(o ->> 'label') = lower({v})))))",
        f.label,
    )
    add(
        "EXISTS (SELECT 1 FROM faces pf JOIN people pp ON pp.id = pf.person_id WHERE pf.asset_id = a.id "
        "AND pp.tenant = a.tenant AND (lower(pp.name) = lower({v}) OR pp.id::text = {v}))",
        f.person,
    )
    add(
        "EXISTS (SELECT 1 FROM asset_sources src WHERE src.asset_id = a.id AND starts_with("
        + (SHOWN_SOURCE if f.source_prefix is not None and f.source_prefix.startswith(SHOWN_BY_NAME) else "src.source")
        + ", {v}))",
        f.source_prefix,
    )
    return sql.SQL(" AND ").join(parts) if parts else sql.SQL("TRUE")


def text_literal(value: str) -> sql.Composable:
    """``value`` as an SQL string constant with every character but letters, digits and spaces written
    as a Unicode escape (``U&'50\\0025 off'``). The condition goes into statements that also take
    parameters, where psycopg reads a ``%`` in the text as the start of a placeholder: a source prefix,
    label or person with a ``%`` in it (a folder "50% off") failed the search. Escaped, no ``%``,
    quote or backslash is left in the text, whether or not the statement has parameters."""
    return sql.SQL("U&'{}'".format("".join(ch if ch.isascii() and (ch.isalnum() or ch == " ") else _escape(ch)
                                           for ch in value)))  # fmt: skip


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\{code:04X}" if code <= 0xFFFF else f"\\+{code:06X}"


def _check_text(name: str, value: str | None) -> None:
    """ValueError for text no database row can hold: a NUL character, or one that is not Unicode (a
    lone surrogate, from a command line's undecodable bytes)."""
    if value is None:
        return
    if "\x00" in value:
        raise ValueError(f"{name} must not contain a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{name} is not valid Unicode text") from None


def _instant(name: str, value: datetime | None) -> datetime | None:
    """``value`` in UTC, a naive one read as UTC (the server's session zone is not the caller's business)."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{name} is out of range") from None


NO_FILTERS = AssetFilters()
