"""A worker process for runtime tests: ``python tests/support/job_worker.py BROKER_URL DATABASE_URL NAMESPACE
LEASE_S CONCURRENCY RECORD_DIR``. Its handlers sleep for ``payload["s"]`` seconds and then record
the finished attempt as a file ``RECORD_DIR/<job id>.<attempt>.<pid>``. SIGTERM stops it gracefully."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from mediasift.jobs.broker import open_broker
from mediasift.jobs.model import Job
from mediasift.jobs.runtime import JobContext, Worker
from mediasift.pipeline.failures import classify


def main() -> None:
    broker_url, database_url, namespace, lease_s, concurrency, record_dir = sys.argv[1:7]
    broker = open_broker(broker_url, database_url=database_url, lease_s=float(lease_s), namespace=namespace)
    records = Path(record_dir)

    def sleep_then_record(job: Job, ctx: JobContext) -> None:
        time.sleep(float(job.payload.get("s", 0)))
        (records / f"{job.id}.{ctx.delivery.attempt}.{os.getpid()}").write_text("done")

    worker = Worker(broker, {"sleep": sleep_then_record}, worker_id=f"w{os.getpid()}", classify=classify,
                    concurrency=int(concurrency), grace_s=30.0)  # fmt: skip

    def stop(signum: int, frame: Any) -> None:
        worker.stop()

    signal.signal(signal.SIGTERM, stop)
    print("ready", flush=True)
    code = worker.run()
    broker.close()
    print(f"stopped processed={worker.stats.processed}", flush=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
