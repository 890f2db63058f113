"""Queue state as Prometheus metrics: the same numbers as ``status``."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from mediasift.config import Settings
from mediasift.errors import PermanentError
from mediasift.jobs.model import ErrorClass, Failure, Job, Lane
from mediasift.obs.metrics import exposition
from mediasift.service import Mediasift

import mediagen


def test_metrics_report_queue_depth_dead_letters_jobs_and_assets(settings: Settings, media_dir: Path) -> None:
    system = Mediasift(settings)
    system.ingest([mediagen.make_text_file(media_dir / "a.txt", "hello there, general reader")], lane=Lane.BATCH)
    system.broker.publish([Job(id="x", kind="other", lane=Lane.INTERACTIVE)])
    held = system.broker.fetch("t", {Lane.INTERACTIVE: 1}, 1.0)
    system.broker.bury(held[0], Failure(ErrorClass.PERMANENT, str(PermanentError("bad"))))
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(exposition(system.status))
        for s in family.samples
    }
    assert samples[("mediasift_queue_ready", (("broker", "postgres"), ("lane", "batch")))] == 1
    assert samples[("mediasift_queue_dead", (("broker", "postgres"),))] == 1
    assert samples[("mediasift_jobs", (("lane", "batch"), ("operator", "text_chunks"), ("state", "queued")))] == 1
    assert samples[("mediasift_assets", (("media_type", "text"), ("status", "pending")))] == 1
    assert samples[("mediasift_workers_alive", ())] == 0
