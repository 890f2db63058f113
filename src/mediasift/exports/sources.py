"""What an export may say of where an asset came from and what went wrong, without the server's
file paths: a file ingested from disk is named by its file name only, and paths under the roots
given (the data directory, the folders files came from) are taken out of messages."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath
from typing import Any, Literal

UPLOAD = "upload:"
URL_SCHEMES = ("http://", "https://")
HIDDEN = "…"

SourceKind = Literal["file", "upload", "url"]


def describe_source(source: str) -> tuple[SourceKind, str]:
    """(kind, name) of a recorded source: ("url", the URL), ("upload", the file name the client gave)
    or ("file", the file's name without its folders)."""
    if source.startswith(URL_SCHEMES):
        return "url", source
    if source.startswith(UPLOAD):
        return "upload", source.removeprefix(UPLOAD)
    return "file", PurePosixPath(source).name


def file_folders(sources: Iterable[str]) -> list[str]:
    """The folders of the sources that are files on this machine."""
    return [str(PurePosixPath(s).parent) for s in sources if describe_source(s)[0] == "file"]


def redact(text: str, roots: Iterable[str]) -> str:
    """``text`` with each of ``roots`` (folders) replaced by ``…``, longest first, so
    ``/data/home/blobs/ab/cd`` under the root ``/data/home`` reads ``…/blobs/ab/cd``."""
    for root in sorted({r.rstrip("/") for r in roots if r.strip("/")}, key=len, reverse=True):
        text = text.replace(root, HIDDEN)
    return text


def redact_tree(value: Any, roots: Iterable[str]) -> Any:
    """``value`` (JSON-like: mappings, lists, strings, numbers) with :func:`redact` applied to every
    string in it, keys included."""
    roots = list(roots)
    if isinstance(value, str):
        return redact(value, roots)
    if isinstance(value, Mapping):
        return {redact_tree(k, roots): redact_tree(v, roots) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_tree(item, roots) for item in value]
    return value
