"""URLs as they may be shown back: a password in one is never listed."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def without_password(url: str) -> str:
    """``url`` with the password of its user part masked (``https://user:***@host/``), as listings
    show it; unchanged when it has none (or cannot be parsed)."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.netloc.rpartition("@")[2]
    except ValueError:
        return url
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
