"""A moment to count from as people write it (``cost --since``, ``GET /v1/cost?since=``): an ISO date
or time, or an age such as 24h."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
SINCE_HELP = "an ISO date or time (UTC unless it names a zone), or an age such as 30m, 24h, 7d or 2w"


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """An ISO date or time (UTC when it names no zone), or an age before ``now``: 30m, 24h, 7d, 2w.
    ValueError saying what is expected otherwise."""
    text = text.strip()
    if text[:-1].replace(".", "", 1).isdigit() and text[-1:] in UNITS:
        try:
            return (now or datetime.now(UTC)) - timedelta(seconds=float(text[:-1]) * UNITS[text[-1]])
        except OverflowError:  # an age past the year 1
            return datetime.min.replace(tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"since {text!r}: give {SINCE_HELP}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
