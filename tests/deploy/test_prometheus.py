"""Operations as an on-call engineer meets them: the alert rules checked and unit-tested by promtool,
the Grafana dashboard's structure, and a real Prometheus that scrapes the API and a worker while
samples are processed, reads the figures back, and runs every expression of the rules and the
dashboard without an error."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import yaml

from mediasift.config import Settings
from mediasift.jobs.model import Lane
from mediasift.service import Mediasift

from support import mediagen
from support.apiserver import free_port, serving
from support.prometheus import DASHBOARD, DEPLOY, RULES, prometheus

PROMTOOL = shutil.which("promtool") or "promtool"
TEXTS = [
    "The lighthouse keepers of the North Atlantic kept the lamps burning through every winter storm.",
    "Our village library opens a new reading room for children on the first Saturday of May.",
    "Fresh bread from the bakery on the corner sells out before nine o'clock every morning.",
]


def rule_expressions() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in panels(dashboard) for target in panel.get("targets", [])]


def test_promtool_checks_the_rules_and_the_scrape_config_and_their_unit_tests_pass() -> None:
    folder = DEPLOY / "prometheus"
    for args in (["check", "rules", "alerts.yml"], ["check", "config", "prometheus.yml"],
                 ["test", "rules", "alerts_test.yml"]):  # fmt: skip
        done = subprocess.run([PROMTOOL, *args], cwd=folder, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "SUCCESS" in done.stdout
    names = {rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]}
    assert names >= {"MediasiftQueueGrowing", "MediasiftDeadLettersGrowing", "MediasiftOperatorErrorRate",
                     "MediasiftApiLatencyHigh", "MediasiftConfidenceDriftShifted", "MediasiftWorkersGone"}  # fmt: skip
    tested = {
        case["alertname"]
        for test in yaml.safe_load((folder / "alerts_test.yml").read_text())["tests"]
        for case in test["alert_rule_test"]
    }
    assert tested == names, "every alert has a unit test"


def test_the_dashboard_is_a_grafana_dashboard_with_the_ops_panels() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] == "mediasift" and isinstance(dashboard["schemaVersion"], int)
    assert dashboard["__inputs"][0]["pluginId"] == "prometheus"
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for panel in panels(dashboard):
        grid = panel["gridPos"]
        assert {"h", "w", "x", "y"} <= set(grid) and grid["x"] + grid["w"] <= 24
        if panel["type"] == "row":
            continue
        assert panel["title"] and panel["datasource"]["uid"] == "${DS_PROMETHEUS}"
        refs = [target["refId"] for target in panel["targets"]]
        assert panel["targets"] and len(refs) == len(set(refs)) and all(t["expr"].strip() for t in panel["targets"])
    text = " ".join(dashboard_expressions())
    for metric in ("mediasift_items_analysed", "mediasift_api_request_seconds_bucket", "mediasift_queue_ready",
                   "mediasift_queue_oldest_seconds", "mediasift_operator_runs", "mediasift_model_errors_total",
                   "mediasift_result_confidence_bucket", "mediasift_confidence_drift_shifted",
                   "mediasift_cost_per_asset_usd", "mediasift_saved_usd", "mediasift_gpu_utilization_percent",
                   "mediasift_embedding_centroid_shift", "mediasift_input_mix_psi"):  # fmt: skip
        assert metric in text, f"no panel shows {metric}"


@pytest.mark.slow
def test_prometheus_scrapes_the_api_and_a_worker_and_every_expression_runs(
    settings: Settings, media_dir: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "MEDIASIFT_HOME": str(settings.home), "MEDIASIFT_DATABASE_URL": settings.database_url,
           "MEDIASIFT_LEASE_S": "3"}  # fmt: skip
    for index, text in enumerate(TEXTS):
        mediagen.make_text_file(media_dir / f"note{index}.txt", text)
    worker_port = free_port()
    with closing(Mediasift(settings)) as system, serving(settings) as api:
        system.ingest([media_dir], lane=Lane.BATCH)  # queued: no worker runs yet
        targets = {"mediasift-api": [f"127.0.0.1:{api.port}"], "mediasift-worker": [f"127.0.0.1:{worker_port}"]}
        with prometheus(tmp_path / "prometheus", targets) as server:
            depth = server.wait_for('max without (instance, job) (mediasift_queue_ready{lane="batch"}) > 0')
            assert depth[0][1] == len(TEXTS), "the queue depth, read back through Prometheus"
            worker = subprocess.Popen(
                [sys.executable, "-m", "mediasift.cli", "worker", "--metrics-port", str(worker_port)], env=env
            )
            try:
                deadline = time.monotonic() + 120
                while system.status().assets.pending and time.monotonic() < deadline:
                    time.sleep(0.5)
                assert system.status().assets.by_media_type["text"] == {"done": len(TEXTS)}
                server.wait_for('up{job="mediasift-worker"} == 1')
                per_asset = system.status().cost["text"].per_asset_usd
                assert per_asset > 0
                for job in targets:  # both targets report the database's figures, once scraped after the work
                    within = f"abs(mediasift_cost_per_asset_usd{{job='{job}'}} - {per_asset!r}) < {per_asset * 1e-6!r}"
                    server.wait_for(within, timeout_s=15)
                runs = server.wait_for(
                    'max without (instance, job) (mediasift_operator_run_seconds_count{operator="text_chunks"}) == 3'
                )
                assert runs
                p90 = server.vector(
                    "histogram_quantile(0.9, max without (instance, job)"
                    ' (mediasift_operator_run_seconds_bucket{operator="embed_text"}))'
                )
                assert p90 and 0 < p90[0][1] <= 30, "a job-time percentile from the histogram"
                confidence = server.wait_for(
                    'max without (instance, job) (mediasift_result_confidence_bucket{operator="text_chunks",'
                    'window="recent",le="+Inf"})'
                )
                assert confidence[0][1] == len(TEXTS)
                server.wait_for("sum(rate(mediasift_api_request_seconds_count[1m])) > 0")
                time.sleep(2)  # a few rule evaluations over the data
                expressions = rule_expressions() + dashboard_expressions()
                answered = {expr: server.query(expr) for expr in expressions}
                errors = {expr: a for expr, a in answered.items() if a["status"] != "success"}
                assert not errors, errors
                with_data = [expr for expr, a in answered.items() if a["data"]["result"]]
                assert len(with_data) >= len(dashboard_expressions()) // 2, "most panels have something to draw"
                rules = server.rules()
                assert len(rules) == len(rule_expressions())
                assert all(rule["health"] == "ok" for rule in rules), [r.get("lastError") for r in rules]
            finally:
                worker.terminate()
                worker.wait(timeout=60)
