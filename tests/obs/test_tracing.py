"""Traces: one per asset, from its upload through the API to every job a worker runs and every model
call inside them, received by a local OTLP/HTTP receiver; and nothing at all when no endpoint is set."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from mediasift import telemetry
from mediasift.config import Settings
from mediasift.jobs.model import Lane
from mediasift.obs import tracing
from mediasift.service import Mediasift

from support import mediagen
from support.apikeys import bearer, make_keys
from support.apiserver import serving
from support.otlp import ReceivedSpan, receiving

NOTES = [b"The ferry left the harbour at dawn with forty passengers aboard.",
         b"Our village library opens a new reading room for children in May."]  # fmt: skip


def test_without_an_endpoint_nothing_is_set_up_and_jobs_carry_no_trace(settings: Settings, media_dir: Path) -> None:
    assert settings.otel_endpoint == "" and tracing.setup(settings) is False and not telemetry.enabled()
    with telemetry.span("anything") as span:
        assert span is None and telemetry.traceparent() is None
    with closing(Mediasift(settings)) as system:
        system.ingest([mediagen.make_text_file(media_dir / "a.txt", "hello there, general reader")], lane=Lane.BATCH)
        held = system.broker.fetch("t", {Lane.BATCH: 5}, 1.0)
        assert held and all(telemetry.TRACEPARENT not in d.job.payload for d in held)


@pytest.mark.slow
def test_one_trace_per_asset_with_a_span_for_each_job_and_model_call(settings: Settings) -> None:
    keys = make_keys(settings)
    with receiving() as receiver:
        otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.base}
        env = {**os.environ, "MEDIASIFT_HOME": str(settings.home), "MEDIASIFT_DATABASE_URL": settings.database_url,
               "OTEL_SERVICE_NAME": "mediasift-worker", **otel}  # fmt: skip
        worker = subprocess.Popen([sys.executable, "-m", "mediasift.cli", "worker"], env=env)
        try:
            with serving(settings, **otel) as api:
                assets = []
                for index, note in enumerate(NOTES):
                    named = {**bearer(keys.write), "X-Request-ID": f"upload-{index}"}
                    sent = httpx.post(
                        f"{api.base}/v1/assets", params={"filename": f"n{index}.txt"}, content=note, headers=named
                    )
                    assert sent.status_code == 201, sent.text
                    assert sent.headers["X-Request-ID"] == f"upload-{index}"
                    assets.append(sent.json()["accepted"][0]["asset_id"])
                details = {}
                deadline = time.monotonic() + 120
                for asset in assets:
                    detail = {"status": "pending"}
                    while detail["status"] != "done" and time.monotonic() < deadline:
                        time.sleep(0.3)
                        detail = httpx.get(f"{api.base}/v1/assets/{asset}", headers=bearer(keys.write)).json()
                    assert detail["status"] == "done"
                    details[asset] = detail
        finally:
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=60) == 0

        def jobs_of(spans: list[ReceivedSpan], asset: str) -> list[ReceivedSpan]:
            return [s for s in spans if str(s.attributes.get("job.id", "")).startswith(f"{asset}:")]

        expected = {asset: set(detail["jobs"]) for asset, detail in details.items()}
        spans = receiver.wait_until(lambda got: all({s.attributes["job.group"] for s in jobs_of(got, a)} >= ops
                                                    for a, ops in expected.items()))  # fmt: skip

    requests = {s.span_id: s for s in spans if s.name == "POST /v1/assets"}
    assert len(requests) == 2 and {s.attributes["mediasift.request_id"] for s in requests.values()} == {
        "upload-0", "upload-1"}  # fmt: skip
    traces = set()
    for asset, operators in expected.items():
        (ingest,) = [s for s in spans if s.name == "ingest" and s.attributes.get("asset.id") == asset]
        assert ingest.service == "mediasift" and ingest.parent_id == "", "the asset's trace starts at its upload"
        assert ingest.links and ingest.links[0] in {s.trace_id for s in requests.values()}, "linked to its request"
        trace = [s for s in spans if s.trace_id == ingest.trace_id]
        jobs = {s.span_id: s for s in trace if s.name.startswith("job ")}
        assert sorted(s.attributes["job.group"] for s in jobs.values()) == sorted(operators), "one span per job"
        assert jobs_of(spans, asset) == list(jobs.values()), "every job of the asset is in its trace"
        assert all(s.parent_id == ingest.span_id and s.service == "mediasift-worker" for s in jobs.values())
        models = [s for s in trace if s.name.startswith("model ")]
        # under its job, or under the ingest itself (the API reads a text's language as it registers it)
        assert models and all(s.parent_id in jobs or s.parent_id == ingest.span_id for s in models)
        models = [s for s in models if s.parent_id in jobs]
        modelled = {jobs[s.parent_id].attributes["job.group"] for s in models}
        used = {op for op, run in details[asset]["operators"].items() if run.get("model")}
        assert used and used <= modelled, "each job that used a model has its calls"
        assert all(s.attributes["model.id"] and s.attributes["model.items"] >= 1 for s in models)
        traces.add(ingest.trace_id)
    assert len(traces) == len(NOTES), "one trace per asset"
