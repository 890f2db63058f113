"""A distributed run on one machine: two worker processes and the ingest command, each with a data
directory of its own, sharing nothing but a PostgreSQL server over TCP, a broker server (NATS or
Redis) and an S3 server (SeaweedFS, real credentials). The bundled samples come out analysed and
searchable; each worker ran a share of the jobs, and the ingesting process ran none.

Who ran a job is read from what the system records (``asset_jobs.worker``, the worker's id as in the
``workers`` table), not from the workers' own counters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from psycopg.rows import dict_row

from support.databases import create_database

pytestmark = pytest.mark.slow

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
TESTS = Path(__file__).resolve().parents[1]
# Each worker must have finished at least this share of the jobs. The hold plugin gives every asset a
# two-second job, all six queued at once, and a worker runs two jobs at a time: one worker alone
# would leave the other idle with work ready for seconds, which a fair spread does not do.
MIN_SHARE = 0.2


def _query(database_url: str, sql: str) -> list[dict[str, Any]]:
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        return conn.execute(sql).fetchall()


@pytest.mark.parametrize("broker", ["nats", "redis"])
def test_two_workers_and_ingest_share_only_servers(
    broker: str, request: pytest.FixtureRequest, tcp_pg_server: str, s3_server: Any, tmp_path: Path
) -> None:
    broker_url = request.getfixturevalue(f"{broker}_server")
    database_url = create_database(tcp_pg_server)
    assert database_url.startswith("postgresql://postgres@127.0.0.1:")
    bucket = f"mediasift-dist-{broker}"

    def env(name: str) -> dict[str, str]:
        return {
            **os.environ,
            "MEDIASIFT_HOME": str(tmp_path / name),
            "MEDIASIFT_DATABASE_URL": database_url,
            "MEDIASIFT_BROKER_URL": broker_url,
            "MEDIASIFT_QUEUE_NAMESPACE": f"dist{os.getpid()}{broker}",
            "MEDIASIFT_BLOB_URL": f"s3://{bucket}/blobs",
            "MEDIASIFT_S3_ENDPOINT_URL": s3_server.endpoint,
            "MEDIASIFT_S3_ACCESS_KEY_ID": s3_server.access_key,
            "MEDIASIFT_S3_SECRET_ACCESS_KEY": s3_server.secret_key,
            "MEDIASIFT_OPERATOR_PLUGINS": "support.plugins:Hold",
            "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
            "HF_HUB_OFFLINE": "1",
        }

    cli = [sys.executable, "-m", "mediasift.cli"]
    workers = [subprocess.Popen([*cli, "worker"], env=env(f"worker{i}"), stderr=subprocess.DEVNULL) for i in range(2)]
    try:
        registered: list[dict[str, Any]] = []
        deadline = time.monotonic() + 120
        while len(registered) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                registered = _query(database_url, "SELECT id, pid FROM workers WHERE stopped_at IS NULL")
            except psycopg.errors.UndefinedTable:  # no process has migrated the database yet
                registered = []
        worker_ids = {row["pid"]: row["id"] for row in registered}
        assert set(worker_ids) == {proc.pid for proc in workers}, registered

        ingest = subprocess.run(
            [*cli, "ingest", str(SAMPLES), "--wait", "--json"], env=env("ingest"), capture_output=True, text=True,
            timeout=600,
        )  # fmt: skip
        assert ingest.returncode == 0, ingest.stderr[-2000:]
        assert "analysing here" not in ingest.stderr
        report = json.loads(ingest.stdout)
        assert len(report["accepted"]) == 6 and not report["rejected"]
        assert all(a["status"] == "done" for a in report["accepted"]), report["accepted"]

        # Who ran what, as the database records it.
        jobs = _query(database_url, "SELECT asset_id, operator, state, worker FROM asset_jobs")
        runs = _query(database_url, "SELECT asset_id, operator, status FROM operator_runs")
        ever_registered = {row["id"] for row in _query(database_url, "SELECT id FROM workers")}
        assert ever_registered == set(worker_ids.values()), "no other worker (the ingest's own) ever ran"
        assert {j["state"] for j in jobs} == {"done"} and len(jobs) == len(runs) >= 6 * 2
        assert {(j["asset_id"], j["operator"]) for j in jobs} == {(r["asset_id"], r["operator"]) for r in runs}
        share = Counter(j["worker"] for j in jobs)
        print(f"{broker}: {len(jobs)} jobs; per worker {dict(share)}")
        assert set(share) == set(worker_ids.values()), f"every job names one of the two workers: {share}"
        for worker_id in worker_ids.values():
            assert share[worker_id] >= MIN_SHARE * len(jobs), f"{worker_id} ran too few of the jobs: {share}"
        hold = Counter(j["worker"] for j in jobs if j["operator"] == "hold")
        assert set(hold) == set(worker_ids.values()), f"each worker ran some of the held jobs: {hold}"

        def search(query: str) -> dict[str, Any]:
            out = subprocess.run([*cli, "search", query, "--json"], env=env("reader"), capture_output=True, text=True)
            return json.loads(out.stdout)["results"][0]

        assert search("orange submarine")["source_path"].endswith("submarine_scenes.mp4")
        assert search("water the tomato plants")["source_path"].endswith("tomato_reminder.wav")
        out = subprocess.run([*cli, "status", "--json"], env=env("ingest"), capture_output=True, text=True)
        status = json.loads(out.stdout)
        assert status["queue"]["broker"] == broker
        assert {w["id"] for w in status["workers"]} == set(worker_ids.values())
    finally:
        for proc in workers:
            proc.terminate()
        for proc in workers:
            proc.wait(60)

    s3 = boto3.client(
        "s3", endpoint_url=s3_server.endpoint, aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key, region_name="us-east-1",
    )  # fmt: skip
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="blobs/").get("Contents", [])]
    assert len(keys) >= 6 + 4, "the six samples and their derived media are in S3"
    assert not (tmp_path / "ingest" / "blobs").exists(), "nothing was stored on the ingesting machine"
