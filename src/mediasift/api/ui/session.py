"""Web sessions: a signed cookie that names an API key, never holds it, and CSRF tokens bound to it.

A browser signs in by pasting an API key once. The cookie it gets back reads
``KEY_ID.EXPIRES.NONCE.MAC``: the key's public id, when the session ends, a random nonce, and an
HMAC-SHA256 over the three under a key derived from the server's secret *and* the stored hash of
the API key's secret. So the raw key never sits in the cookie, a cookie cannot be forged without
the server's secret (a copy of the database is not enough), and every request re-reads the key
row: a revoked or expired key ends its sessions at once, as it ends its bearer use.

Why not a server-side session row: it would add a table and a write per sign-in for one thing a
signed cookie cannot do, ending one copied cookie before it expires. Sign-out clears the cookie in
the browser; a cookie copied off a machine stays usable until it expires (``ui_session_hours``) or
its key is revoked. The cookie is ``HttpOnly`` (no script reads it) and ``SameSite=Strict`` (no other
site's page sends it), ``Secure`` over https.

The CSRF token of a session is an HMAC of its nonce under the same derived key: forms carry it in a
hidden ``csrf`` field, scripts in an ``X-CSRF-Token`` header. The sign-in form, before any session,
is protected the same way by a nonce in a short-lived cookie of its own (double submit).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mediasift.access import Principal

COOKIE = "ms_session"
SIGNIN_COOKIE = "ms_signin"
SIGNIN_COOKIE_S = 3600
SECRET_FILE = "ui-secret"

Lookup = Callable[[str], tuple[Principal, bytes] | None]  # key id -> principal and its secret's hash


@dataclass(frozen=True)
class Session:
    principal: Principal
    csrf: str
    expires_at: int  # Unix seconds


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _mac(key: bytes, text: str) -> str:
    return _b64(hmac.new(key, text.encode(), hashlib.sha256).digest())


def load_secret(configured: str, home: Path) -> bytes:
    """The secret sessions are signed with: ``configured`` when set, else a random one kept in
    ``home/ui-secret`` (made once, readable by the owner only; the first of several processes
    starting at once to link its file in wins, the others read that one)."""
    if configured:
        return configured.encode()
    path = home / SECRET_FILE
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        draft = home / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip().encode()


class Sessions:
    """Issues and opens session cookies; ``lookup`` finds a usable key by its id."""

    def __init__(self, secret: bytes, lookup: Lookup, lifetime_s: float, clock: Callable[[], float] = time.time):
        self.secret = secret
        self.lookup = lookup
        self.lifetime_s = lifetime_s
        self.clock = clock

    def _signing_key(self, key_digest: bytes) -> bytes:
        return hmac.new(self.secret, b"session:" + key_digest, hashlib.sha256).digest()

    def issue(self, principal: Principal, key_digest: bytes) -> tuple[str, Session]:
        """A new session of ``principal`` (an API key's, with its secret's stored hash): the cookie's
        value and the session."""
        if principal.key_id is None:
            raise ValueError("only an API key can sign in")
        expires = int(self.clock() + self.lifetime_s)
        nonce = secrets.token_urlsafe(16)
        body = f"{principal.key_id}.{expires}.{nonce}"
        key = self._signing_key(key_digest)
        return f"{body}.{_mac(key, body)}", Session(principal, _mac(key, "csrf:" + nonce), expires)

    def open(self, cookie: str) -> Session | None:
        """The session ``cookie`` stands for; None when it is malformed, forged, expired, or its key
        is no longer usable. Reads the key's row (call it off the event loop)."""
        parts = cookie.split(".")
        if len(parts) != 4 or not parts[1].isdigit() or len(cookie) > 256:
            return None
        key_id, expires, nonce, mac = parts
        if int(expires) <= self.clock():
            return None
        found = self.lookup(key_id)
        if found is None:
            return None
        principal, digest = found
        key = self._signing_key(digest)
        if not hmac.compare_digest(mac, _mac(key, f"{key_id}.{expires}.{nonce}")):
            return None
        return Session(principal, _mac(key, "csrf:" + nonce), int(expires))

    def signin_token(self, nonce: str) -> str:
        """The CSRF token of the sign-in form whose cookie holds ``nonce``."""
        return _mac(self.secret, "signin:" + nonce)


def same_token(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())
