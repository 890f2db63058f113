"""Opaque cursors for keyset pagination: a page's last sort key, as URL-safe text a client hands back
to get the next page. A cursor that does not decode is the client's mistake (ValueError)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any


class BadCursor(ValueError):
    pass


def encode(key: list[Any]) -> str:
    raw = json.dumps(key, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, arity: int) -> list[Any]:
    """The sort key in ``cursor``: a list of ``arity`` values; BadCursor when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError):
        raise BadCursor("not a cursor this API gave (use next_cursor as it came)") from None
    if not isinstance(key, list) or len(key) != arity:
        raise BadCursor("not a cursor this API gave (use next_cursor as it came)")
    return key
