"""Logs as JSON lines carrying the ids of the request, asset and job they were written under."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from mediasift import telemetry
from mediasift.api.app import create_app
from mediasift.config import Settings
from mediasift.obs import logs
from mediasift.service import Mediasift

from support import mediagen


@contextmanager
def captured(logger: str) -> Iterator[io.StringIO]:
    """JSON lines of ``logger`` (INFO and up) written into the buffer yielded."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logs.JsonLines())
    target = logging.getLogger(logger)
    level = target.level
    target.addHandler(handler)
    target.setLevel(logging.INFO)
    try:
        yield buffer
    finally:
        target.removeHandler(handler)
        target.setLevel(level)


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_a_line_carries_the_ids_set_around_it_and_its_exception() -> None:
    with captured("mediasift.test") as buffer:
        log = logging.getLogger("mediasift.test")
        with telemetry.tagged(request_id="r1", asset_id="a1"), telemetry.tagged(job_id="j1"):
            try:
                raise ValueError("bad input")
            except ValueError:
                log.exception("it broke: %s", "badly")
        log.warning("outside")
    inside, outside = lines(buffer)
    assert inside["message"] == "it broke: badly" and inside["level"] == "error"
    assert inside["logger"] == "mediasift.test"
    assert (inside["request_id"], inside["asset_id"], inside["job_id"]) == ("r1", "a1", "j1")
    assert "ValueError: bad input" in inside["exception"] and re.match(r"\d{4}-\d\d-\d\dT", inside["ts"])
    assert not {"request_id", "asset_id", "job_id"} & set(outside), "ids do not outlive their block"


def test_configure_writes_json_lines_to_stderr_only_when_asked(settings: Settings) -> None:
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    try:
        logs.configure(settings)  # text: logging left as it is
        assert root.handlers == before
        as_json = settings.model_copy(update={"log_format": "json", "log_level": "info"})
        logs.configure(as_json)
        logs.configure(as_json)
        ours = [h for h in root.handlers if isinstance(h.formatter, logs.JsonLines)]
        assert len(ours) == 1 and root.level == logging.INFO, "configured once, however often asked"
    finally:
        root.handlers[:] = before
        root.setLevel(level)


def test_job_lines_carry_job_and_asset_ids_request_lines_the_request_id(settings: Settings, media_dir: Path) -> None:
    with captured("mediasift.jobs.runtime") as buffer, closing(Mediasift(settings)) as system:
        report = system.ingest([mediagen.make_text_file(media_dir / "a.txt", "The ferry leaves at noon.")], wait=True)
    (accepted,) = report.accepted
    done = [line for line in lines(buffer) if " done in " in line["message"]]
    assert {line["job_id"] for line in done} == {f"{accepted.asset_id}:{op}" for op in ("text_chunks", "embed_text")}
    assert all(line["asset_id"] == str(accepted.asset_id) for line in done)

    with captured("mediasift.api.request_context") as buffer, TestClient(create_app(settings)) as client:
        named = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
        unnamed = client.get("/healthz", headers={"X-Request-ID": "x" * 65 + " bad"})
    assert named.headers["X-Request-ID"] == "abc-123"
    assert re.fullmatch(r"[0-9a-f]{32}", unnamed.headers["X-Request-ID"]), "a header that is not sane is replaced"
    first, second = lines(buffer)
    assert first["request_id"] == "abc-123" and first["message"].startswith("GET /healthz 200 in ")
    assert second["request_id"] == unnamed.headers["X-Request-ID"]
