"""The job commands a person uses: up, status, jobs dlq / show / redrive."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mediasift.config import Settings

from support import mediagen
from support.chaos_plugins import POISON

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "mediasift.cli"]


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    tests = str(Path(__file__).parent)
    return {
        **os.environ, "MEDIASIFT_HOME": str(settings.home), "MEDIASIFT_DATABASE_URL": settings.database_url,
        "PYTHONPATH": os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")]), **extra,
    }  # fmt: skip


def _run(env: dict[str, str], *args: str) -> tuple[int, Any]:
    out = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=300)
    return out.returncode, json.loads(out.stdout) if "--json" in args and out.stdout else out.stdout


def test_dead_letters_can_be_listed_inspected_and_redriven(settings: Settings, media_dir: Path) -> None:
    env = _env(settings, MEDIASIFT_OPERATOR_PLUGINS="support.chaos_plugins:PoisonCheck")
    mediagen.make_text_file(media_dir / "bad.txt", f"perfectly ordinary words {POISON}")
    code, report = _run(env, "ingest", str(media_dir), "--wait", "--json")
    assert code == 3, "analysis failed"
    asset_id = report["accepted"][0]["asset_id"]
    assert report["accepted"][0]["status"] == "failed"
    assert "poisoned" in report["accepted"][0]["failed"]["poison_check"]

    code, dlq = _run(env, "jobs", "dlq", "--json")
    (letter,) = dlq["dead_letters"]
    assert letter["job_id"] == f"{asset_id}:poison_check" and letter["error_class"] == "permanent"
    code, shown = _run(env, "jobs", "show", letter["job_id"], "--json")
    assert code == 0 and "PermanentError" in shown["dead_letter"]["traceback"]
    assert shown["state"]["state"] == "dead"
    code, _ = _run(env, "jobs", "show", f"{asset_id}:nothing", "--json")
    assert code == 2
    code, human = _run(env, "jobs", "show", letter["job_id"])
    assert code == 0 and "dead on the interactive lane after 1 attempt" in human, human
    assert "dead letter: permanent:" in human and "PermanentError" in human and not human.lstrip().startswith("{")

    code, _ = _run(env, "status", "--json")
    assert _run(env, "jobs", "redrive", f"{asset_id}:nothing")[0] == 2, "no such dead job: said, not '0 queued'"
    assert _run(env, "jobs", "redrive", letter["job_id"], "--all")[0] == 2, "one job or --all, not both"
    code, out = _run(env, "jobs", "redrive", "--all", "--operator", "poison_check")
    assert code == 0 and "1 job queued again" in out
    code, status = _run(env, "status", "--json")
    assert status["queue"]["dead"] == 0 and status["queue"]["jobs"]["interactive"]["poison_check"] == {"queued": 1}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _scrape(port: int) -> dict[str, list[Any]]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def test_up_serves_the_api_and_runs_the_worker_that_does_the_work(settings: Settings, media_dir: Path) -> None:
    env = _env(settings, MEDIASIFT_LEASE_S="3")  # workers heartbeat every second
    port, api_port = _free_port(), _free_port()
    up = subprocess.Popen(
        [*CLI, "up", "--metrics-port", str(port), "--port", str(api_port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    api = f"http://127.0.0.1:{api_port}"
    try:
        deadline = time.monotonic() + 60
        workers: list[Any] = []
        while not workers and time.monotonic() < deadline:
            time.sleep(0.3)
            workers = _run(env, "status", "--json")[1]["workers"]
        assert len(workers) == 1
        assert httpx.get(f"{api}/healthz", timeout=10).json() == {"status": "ok"}
        assert up.stdout is not None
        admin = {"Authorization": f"Bearer {up.stdout.readline().strip()}"}  # made on first start, shown once
        assert httpx.get(f"{api}/v1/assets", timeout=10).status_code == 401, "a fresh install is not open"
        assert httpx.get(f"{api}/v1/keys", headers=admin, timeout=10).json()["keys"][0]["scope"] == "admin"
        mediagen.make_text_file(media_dir / "note.txt", "The lighthouse keeper logged a storm at midnight.")
        code, report = _run(env, "ingest", str(media_dir), "--wait", "--json")
        assert code == 0 and report["accepted"][0]["status"] == "done"

        # An upload over the API is queued (no wait) and analysed by up's worker.
        code, created = _run(env, "keys", "create", "--tenant", "ops", "--scope", "write", "--json")
        key = {"Authorization": f"Bearer {created['key']}"}
        note = b"The ferry left the harbour at dawn."
        sent = httpx.post(f"{api}/v1/assets", params={"filename": "log.txt"}, content=note, headers=key, timeout=30)
        assert sent.status_code == 201, sent.text
        asset_id = sent.json()["accepted"][0]["asset_id"]
        deadline, detail = time.monotonic() + 60, {"status": "pending"}
        while detail["status"] != "done" and time.monotonic() < deadline:
            time.sleep(0.3)
            detail = httpx.get(f"{api}/v1/assets/{asset_id}", headers=key, timeout=10).json()
        assert detail["status"] == "done" and "upload:log.txt" in detail["sources"]
        time.sleep(1.5)
        status = _run(env, "status", "--json")[1]
        assert status["workers"][0]["processed"] >= 4, "the worker did the work, not the ingest command or the API"
        metrics = _scrape(port)  # the worker serves what status says, and its own process figures
        assert [s.value for s in metrics["mediasift_workers_alive"]] == [1]
        done = {s.labels["operator"]: s.value for s in metrics["mediasift_jobs"] if s.labels["state"] == "done"}
        assert done.get("embed_text") == 2 and done.get("text_chunks") == 2
        assert metrics["process_resident_memory_bytes"][0].value > 50e6
    finally:
        up.send_signal(signal.SIGTERM)
        _, err = up.communicate(timeout=60)
    assert up.returncode == 0, err
    assert f"API: {api}" in err and "SIGTERM" in err and "stopped" in err and "shown once" in err
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{api}/healthz", timeout=5)


def test_reprocess_says_when_a_worker_with_other_settings_ran_its_jobs(settings: Settings, media_dir: Path) -> None:
    """Settings belong to each process: a worker started without the new floor runs the job with
    its own, so the results are still stale by the reprocess command's settings. That is said,
    with exit code 3, instead of a silent success."""
    env = _env(settings, MEDIASIFT_LEASE_S="3")
    mediagen.make_text_image(media_dir / "card.png", "LOW TIDE", size=(320, 160))
    code, _ = _run(env, "ingest", str(media_dir), "--wait", "--json")
    assert code == 0
    worker = subprocess.Popen([*CLI, "worker"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not _run(env, "status", "--json")[1]["workers"] and time.monotonic() < deadline:
            time.sleep(0.3)
        lower = {**env, "MEDIASIFT_LABEL_MIN_CONFIDENCE": "0.01"}
        out = subprocess.run([*CLI, "reprocess", "--operator", "labels", "--wait", "--json"], env=lower,
                             capture_output=True, text=True, timeout=300)  # fmt: skip
        assert out.returncode == 3, out.stderr
        assert json.loads(out.stdout)["still_stale"] == {"labels": 1}
        assert "other settings" in out.stderr
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=60)
