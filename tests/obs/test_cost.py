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
from mediasift.cli import app
from mediasift.config import Settings
from mediasift.db import assets as asset_repo
from mediasift.db import results as result_repo
from mediasift.obs.cost import per_minute, savings
from mediasift.records import OperatorResult
from mediasift.service import Mediasift
from mediasift.since import parse_since

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


def test_run_time_is_priced_per_minute_of_media() -> None:
    # 90 s of run time at $0.36 an hour is $0.009; over 3 minutes of video, $0.003 a minute
    assert per_minute(90.0, 3.0, 0.36) == {"minutes": 3.0, "compute_usd": pytest.approx(0.009),
                                           "compute_usd_per_minute": pytest.approx(0.003)}  # fmt: skip
    assert per_minute(90.0, 0.0, 0.36)["compute_usd_per_minute"] is None  # images and texts have no minutes


def _analysed(
    conn: object,
    sha: str,
    media_type: str,
    metadata: dict[str, object],
    run_s: dict[str, float],
    core_s: dict[str, float] | None = None,
) -> None:
    """An asset with a run of each operator of ``run_s`` (its wall seconds), counted ``core_s`` of
    the cores where given (else none: a run made without a worker)."""
    asset, _ = asset_repo.register_asset(conn, tenant="default", sha256=sha, media_type=media_type,
                                         mime="video/mp4", size_bytes=1, metadata=metadata)  # fmt: skip
    now = datetime.now(UTC)
    for operator, seconds in run_s.items():
        core = (core_s or {}).get(operator)
        run = result_repo.RunRecord(asset_id=asset, operator=operator, operator_version="1", params={},
                                    params_hash="h", model=None, model_version=None, started_at=now,
                                    finished_at=now, duration_ms=seconds * 1000,
                                    core_ms=None if core is None else core * 1000, cost=0.001)  # fmt: skip
        result_repo.replace_results(conn, run, OperatorResult(), [])


def test_status_and_cost_give_the_cost_of_a_minute_of_video(settings: Settings) -> None:
    priced = settings.model_copy(update={"compute_usd_per_hour": 0.36})
    with closing(Mediasift(priced)) as system:
        with system.db.transaction() as conn:
            _analysed(conn, "a" * 64, "video", {"duration": 120.0}, {"keyframes": 10.0, "ocr": 50.0})
            _analysed(conn, "b" * 64, "video", {"duration": 60.0}, {"keyframes": 30.0})
            _analysed(conn, "c" * 64, "image", {"width": 10}, {"labels": 2.0})
            _analysed(conn, "d" * 64, "video", {"duration": 600.0}, {})  # never analysed: not counted
        status = system.status()
        report = system.cost()
    video = report.media_types["video"]
    # 90 s of run time at $0.36 an hour over the 3 minutes of the two analysed videos
    assert video.minutes == pytest.approx(3.0) and video.compute_usd == pytest.approx(0.009)
    assert video.compute_usd_per_minute == pytest.approx(0.003)
    assert report.media_types["image"].compute_usd_per_minute is None
    assert status.cost["video"].usd_per_minute == pytest.approx(0.003) and status.compute_usd_per_hour == 0.36
    assert status.cost["image"].usd_per_minute is None

    env = {"MEDIASIFT_HOME": str(settings.home), "MEDIASIFT_DATABASE_URL": settings.database_url,
           "MEDIASIFT_COMPUTE_USD_PER_HOUR": "0.36"}  # fmt: skip
    shown = CliRunner(env=env).invoke(app, ["status"])
    assert shown.exit_code == 0, shown.output
    assert "$0.00300 per minute of video (3.0 minutes" in shown.stdout
    assert "per minute of image" not in shown.stdout
    costed = CliRunner(env=env).invoke(app, ["cost"])
    assert costed.exit_code == 0, costed.output
    said = " ".join(costed.stdout.split())  # however the console wraps it
    assert "video: 2 items" in said and "3.0 min, $0.003000 of CPU per minute" in said
    assert "image: 1 item," in said and said.count("per minute") == 1


def test_a_run_is_priced_at_its_share_of_the_cores_not_its_wall_time(settings: Settings) -> None:
    priced = settings.model_copy(update={"compute_usd_per_hour": 0.36})
    with closing(Mediasift(priced)) as system:
        with system.db.transaction() as conn:
            # OCR ran 40 s beside other jobs and was counted 20 s of the cores; keyframes, stored
            # without a core time (a run made without a worker), count their 10 s of wall time
            _analysed(conn, "e" * 64, "video", {"duration": 60.0}, {"ocr": 40.0, "keyframes": 10.0}, {"ocr": 20.0})
        report = system.cost()
    video = report.media_types["video"]
    assert video.operators["ocr"].seconds == pytest.approx(20.0)
    assert video.operators["keyframes"].seconds == pytest.approx(10.0)
    assert video.compute_usd == pytest.approx(30 * 0.36 / 3600)  # 30 core-seconds, not 50 of wall time


def test_since_reads_ages_and_iso_times() -> None:
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    assert parse_since("24h", now) == now - timedelta(hours=24)
    assert parse_since("1.5d", now) == now - timedelta(hours=36)
    assert parse_since("30m", now) == now - timedelta(minutes=30)
    assert parse_since("99999999999999999999d", now) == parse_since("5000000d", now) == datetime.min.replace(tzinfo=UTC)
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
        hour = client.get("/v1/cost", params={"since": "1h"}, headers=bearer(keys.admin))
        assert hour.status_code == 200 and hour.json()["media_types"]["text"]["items"] == 2, "an age, as the CLI"
        soon = client.get("/v1/cost", params={"since": "soon"}, headers=bearer(keys.admin))
        assert soon.status_code == 422 and "an age such as 30m, 24h" in soon.json()["detail"]
