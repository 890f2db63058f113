"""``mediasift cost``: cost and time per item by media type and operator, models' shares and savings;
its totals are the sums of the metrics."""

from __future__ import annotations

import json
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from mediasift.api.app import create_app
from mediasift.cli import app, parse_since
from mediasift.config import Settings
from mediasift.obs.cost import savings
from mediasift.service import Mediasift

from support import mediagen
from support.apikeys import bearer, make_keys


def test_the_cache_saves_its_hits_at_the_average_cost_and_a_router_the_costlier_tier_it_spared() -> None:
    models = {
        "embedder": {"calls": 2, "items": 10, "cost_usd": 1.0, "seconds": 4.0, "cache_hits": 5},
        "cheap": {"calls": 10, "items": 10, "cost_usd": 1.0},  # 0.1 per item
        "dear": {"calls": 2, "items": 2, "cost_usd": 2.0},  # 1.0 per item
        # 10 decisions, 8 answered by the cheap tier, 2 escalated to the dear one (after the cheap one ran)
        "router": {"decisions": 10, "escalated": 2, "route:cheap": 8, "route:dear": 2},
    }
    saved = savings(models)
    assert saved["cache_usd"] == pytest.approx(0.5) and saved["cache_seconds"] == pytest.approx(2.0)
    # always dear: 10 x 1.0; spent: 8 x 0.1 + 2 x 1.0 + 2 x 0.1 (the escalated ones' cheap tries)
    assert saved["routing_usd"] == pytest.approx(10.0 - 3.0)
    assert saved["by_model"] == {"embedder": {"cache_usd": 0.5, "routing_usd": 0.0},
                                 "router": {"cache_usd": 0.0, "routing_usd": pytest.approx(7.0)}}  # fmt: skip
    no_spare = {**models, "router": {"decisions": 10, "escalated": 10, "route:dear": 10}}
    assert savings(no_spare)["routing_usd"] == 0.0, "a router that always escalates saves nothing"


def test_since_reads_ages_and_iso_times() -> None:
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    assert parse_since("24h", now) == now - timedelta(hours=24)
    assert parse_since("1.5d", now) == now - timedelta(hours=36)
    assert parse_since("30m", now) == now - timedelta(minutes=30)
    assert parse_since("2026-12-01", now) == datetime(2026, 12, 1, tzinfo=UTC)
    assert parse_since("2026-12-01T08:00:00+01:00", now) == datetime(2026, 12, 1, 7, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_since("yesterday", now)


@pytest.mark.slow
def test_cost_totals_agree_with_the_metrics_over_the_cli_and_the_api(settings: Settings, media_dir: Path) -> None:
    texts = ["The ferry to the island leaves at noon. " * 3, "Fresh bread sells out before nine o'clock. " * 4]
    paths = [mediagen.make_text_file(media_dir / f"{i}.txt", text) for i, text in enumerate(texts)]
    with closing(Mediasift(settings)) as system:
        assert not system.ingest(paths, wait=True).failed
        report = system.cost()
        metrics = {f.name: f.samples for f in text_string_to_metric_families(system.metrics_text())}
    text = report.media_types["text"]
    assert report.items == text.items == 2 and set(text.operators) == {"text_chunks", "embed_text"}
    assert all(op.runs == 2 and op.failed == 0 for op in text.operators.values())
    assert report.total_usd > 0 and report.total_seconds > 0
    assert report.total_usd == pytest.approx(sum(s.value for s in metrics["mediasift_operator_cost_usd"]), rel=1e-9)
    assert report.total_seconds == pytest.approx(sum(s.value for s in metrics["mediasift_operator_seconds"]), rel=1e-9)
    (items,) = metrics["mediasift_items_analysed"]
    assert items.value == report.items
    (per_asset,) = metrics["mediasift_cost_per_asset_usd"]
    assert per_asset.value == pytest.approx(text.usd_per_item, rel=1e-9)
    per_op = {s.labels["operator"]: s.value for s in metrics["mediasift_cost_per_item_usd"]}
    assert sum(per_op.values()) == pytest.approx(text.usd_per_item, rel=1e-9)
    assert sum(m.share for m in report.models.values()) == pytest.approx(1.0)
    minilm = "sentence-transformers/all-MiniLM-L6-v2-onnx-int8"
    assert report.models[minilm].usd > 0

    env = {"MEDIASIFT_HOME": str(settings.home), "MEDIASIFT_DATABASE_URL": settings.database_url}
    shown = CliRunner(env=env).invoke(app, ["cost", "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["total_usd"] == pytest.approx(report.total_usd, rel=1e-12)
    later = CliRunner(env=env).invoke(app, ["cost", "--since", "2999-01-01", "--json"])
    assert json.loads(later.stdout)["items"] == 0 and json.loads(later.stdout)["media_types"] == {}
    assert CliRunner(env=env).invoke(app, ["cost", "--since", "soon"]).exit_code == 2
    human = CliRunner(env=env).invoke(app, ["cost", "--since", "1h"])
    assert human.exit_code == 0 and "text: 2 items" in human.stdout and "embed_text" in human.stdout

    keys = make_keys(settings)
    with TestClient(create_app(settings)) as client:
        answer = client.get("/v1/cost", headers=bearer(keys.admin))
        assert answer.status_code == 200 and answer.json()["total_usd"] == pytest.approx(report.total_usd, rel=1e-12)
        assert client.get("/v1/cost", headers=bearer(keys.read)).status_code == 403
        since = client.get("/v1/cost", params={"since": "2999-01-01T00:00:00Z"}, headers=bearer(keys.admin))
        assert since.json()["items"] == 0
