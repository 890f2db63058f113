"""Queue state as Prometheus metrics: the same numbers as ``status``."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from mediasift.config import Settings
from mediasift.errors import PermanentError
from mediasift.inference import stats
from mediasift.jobs.model import ErrorClass, Failure, Job, Lane
from mediasift.service import Mediasift

from support import mediagen


def test_metrics_report_queue_depth_dead_letters_jobs_and_assets(settings: Settings, media_dir: Path) -> None:
    system = Mediasift(settings)
    system.ingest([mediagen.make_text_file(media_dir / "a.txt", "hello there, general reader")], lane=Lane.BATCH)
    system.broker.publish([Job(id="x", kind="other", lane=Lane.INTERACTIVE)])
    held = system.broker.fetch("t", {Lane.INTERACTIVE: 1}, 1.0)
    system.broker.bury(held[0], Failure(ErrorClass.PERMANENT, str(PermanentError("bad"))))
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(system.metrics_text())
        for s in family.samples
    }
    assert samples[("mediasift_queue_ready", (("broker", "postgres"), ("lane", "batch")))] == 1
    assert samples[("mediasift_queue_dead", (("broker", "postgres"),))] == 1
    assert samples[("mediasift_jobs", (("lane", "batch"), ("operator", "text_chunks"), ("state", "queued")))] == 1
    assert samples[("mediasift_assets", (("media_type", "text"), ("status", "pending")))] == 1
    assert samples[("mediasift_workers_alive", ())] == 0


def test_metrics_report_what_the_models_did(settings: Settings, media_dir: Path) -> None:
    stats.take_unflushed()  # counts earlier tests in this process left unwritten: they belong to their databases
    system = Mediasift(settings)
    text = "The ferry to the island leaves at noon. " * 3
    result = system.ingest([mediagen.make_text_file(media_dir / "a.txt", text)], lane=Lane.BATCH, wait=True)
    assert not result.failed
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(system.metrics_text())
        for s in family.samples
    }
    minilm = (("model", "sentence-transformers/all-MiniLM-L6-v2-onnx-int8"),)
    assert samples[("mediasift_model_items_total", minilm)] >= 1
    assert samples[("mediasift_model_cost_usd_total", minilm)] > 0
    lookups = samples.get(("mediasift_model_cache_hits_total", minilm), 0) + samples.get(
        ("mediasift_model_cache_misses_total", minilm), 0
    )
    assert lookups >= 1
    text_cost = samples[("mediasift_cost_per_asset_usd", (("media_type", "text"),))]
    assert text_cost >= samples[("mediasift_model_cost_usd_total", minilm)] > 0
    router = (("model", "lingua-fast-then-accurate"),)
    assert samples[("mediasift_model_decisions_total", router)] >= 1
    routes = [
        v
        for (name, labels), v in samples.items()
        if name == "mediasift_model_routes_total"
        and dict(labels)["model"] == "lingua-fast-then-accurate"
        and dict(labels)["decision"].startswith("route:")
    ]
    assert sum(routes) == samples[("mediasift_model_decisions_total", router)]
