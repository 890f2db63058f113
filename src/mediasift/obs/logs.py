"""Log lines as JSON objects, one a line, each with the ids of the request, asset and job it was
written under (and the trace's, when traced), so that a log store can join them to the traces and to
each other. Chosen by ``log_format`` ("json"; "text" leaves logging as it is)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from mediasift import telemetry
from mediasift.config import Settings


class JsonLines(logging.Formatter):
    """A record as ``{"ts", "level", "logger", "message", request_id?, asset_id?, job_id?, trace_id?,
    span_id?, "exception"?}``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **telemetry.current_ids(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(settings: Settings) -> None:
    """Make the root logger write ``settings.log_format`` lines to stderr at ``settings.log_level``
    (once: a handler it installed is reused)."""
    if settings.log_format != "json":
        return
    root = logging.getLogger()
    root.setLevel(settings.log_level.upper())
    handler = next((h for h in root.handlers if getattr(h, "mediasift_json", False)), None)
    if handler is None:
        for old in list(root.handlers):
            if isinstance(old, logging.StreamHandler) and old.stream in (sys.stderr, sys.stdout):
                root.removeHandler(old)  # basicConfig's text handler: one line per record, not two
        handler = logging.StreamHandler(sys.stderr)
        handler.mediasift_json = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    handler.setFormatter(JsonLines())
