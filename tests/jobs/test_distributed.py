"""A distributed run on one machine: two worker processes and the ingest command, each with a data
directory of its own, sharing nothing but a PostgreSQL server over TCP, a broker server and an S3
server (SeaweedFS, real credentials). The bundled samples come out analysed and searchable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from support.databases import create_database

pytestmark = pytest.mark.slow

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.mark.parametrize("broker", ["nats"])
def test_two_workers_and_ingest_share_only_servers(
    broker: str, request: pytest.FixtureRequest, tcp_pg_server: str, s3_server: Any, tmp_path: Path
) -> None:
    broker_url = request.getfixturevalue(f"{broker}_server")
    database_url = create_database(tcp_pg_server)
    assert database_url.startswith("postgresql://postgres@127.0.0.1:")
    bucket = "mediasift-dist"

    def env(name: str) -> dict[str, str]:
        return {
            **os.environ,
            "MEDIASIFT_HOME": str(tmp_path / name),
            "MEDIASIFT_DATABASE_URL": database_url,
            "MEDIASIFT_BROKER_URL": broker_url,
            "MEDIASIFT_BLOB_URL": f"s3://{bucket}/blobs",
            "MEDIASIFT_S3_ENDPOINT_URL": s3_server.endpoint,
            "MEDIASIFT_S3_ACCESS_KEY_ID": s3_server.access_key,
            "MEDIASIFT_S3_SECRET_ACCESS_KEY": s3_server.secret_key,
            "HF_HUB_OFFLINE": "1",
        }

    cli = [sys.executable, "-m", "mediasift.cli"]
    workers = [subprocess.Popen([*cli, "worker"], env=env(f"worker{i}"), stderr=subprocess.DEVNULL) for i in range(2)]
    try:
        status: dict[str, Any] = {}
        deadline = time.monotonic() + 60
        while len(status.get("workers", [])) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
            out = subprocess.run([*cli, "status", "--json"], env=env("ingest"), capture_output=True, text=True)
            status = json.loads(out.stdout) if out.returncode == 0 else {}
        assert len(status["workers"]) == 2 and status["queue"]["broker"] == broker

        ingest = subprocess.run(
            [*cli, "ingest", str(SAMPLES), "--wait", "--json"], env=env("ingest"), capture_output=True, text=True,
            timeout=600,
        )  # fmt: skip
        assert ingest.returncode == 0, ingest.stderr[-2000:]
        report = json.loads(ingest.stdout)
        assert len(report["accepted"]) == 6 and not report["rejected"]
        assert all(a["status"] == "done" for a in report["accepted"]), report["accepted"]

        def search(query: str) -> dict[str, Any]:
            out = subprocess.run([*cli, "search", query, "--json"], env=env("reader"), capture_output=True, text=True)
            return json.loads(out.stdout)["results"][0]

        assert search("orange submarine")["source_path"].endswith("submarine_scenes.mp4")
        assert search("water the tomato plants")["source_path"].endswith("tomato_reminder.wav")
        status = json.loads(subprocess.run([*cli, "status", "--json"], env=env("ingest"), capture_output=True,
                                           text=True).stdout)  # fmt: skip
        assert sum(w["processed"] for w in status["workers"]) > 0
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
