"""Which part of the server a path belongs to: the HTTP API (bearer keys, problem+json) or the web UI
(sessions, pages)."""

from __future__ import annotations


def is_api_path(path: str) -> bool:
    """Whether ``path`` is the HTTP API's (bearer keys) rather than the web UI's (sessions)."""
    return path == "/openapi.json" or path == "/v1" or path.startswith("/v1/")
