"""No-op job throughput through the runtime on each broker, next to the raw broker round trip.

For each backend the same run measures (1) the raw client doing the broker's own round trip,
one message at a time and in batches of 100 (claim or read, then acknowledge), and (2) the mediasift runtime
(``Broker.fetch`` -> a worker thread runs a no-op handler -> batched ack) on 20,000 jobs. It prints
jobs/s, the runtime's time per job, and its ratio to each raw round trip (below 1: faster).
Servers are started here, on 127.0.0.1.

    .venv/bin/python bench/queue.py [N]
"""

from __future__ import annotations

import benchpath  # noqa: F401  (first: this file is named like the standard library's queue)

import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from mediasift.db.server import embedded_url, stop_embedded
from mediasift.jobs.broker import open_broker
from mediasift.jobs.model import Job, Lane
from mediasift.jobs.runtime import Worker
from mediasift.pipeline.failures import classify

from support.servers import NatsServer, RedisServer

BATCH = 100


def raw_postgres(url: str, n: int, batch: int) -> float:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_raw (id bigserial PRIMARY KEY, body text)")
        conn.execute("TRUNCATE bench_raw")
        with conn.cursor().copy("COPY bench_raw (body) FROM STDIN") as copy:
            for i in range(n):
                copy.write_row((f"job-{i}",))
        start = time.perf_counter()
        done = 0
        while done < n:
            rows = conn.execute(
                "DELETE FROM bench_raw WHERE id IN (SELECT id FROM bench_raw ORDER BY id LIMIT %s "
                "FOR UPDATE SKIP LOCKED) RETURNING id",
                (batch,),
            ).fetchall()
            done += len(rows)
        return time.perf_counter() - start


def raw_redis(url: str, n: int, batch: int) -> float:
    import redis

    client = redis.Redis.from_url(url)
    stream = f"bench-raw-{uuid.uuid4().hex[:6]}"
    client.xgroup_create(stream, "g", id="0", mkstream=True)
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        pipe.xadd(stream, {"job": f"job-{i}"})
    pipe.execute()
    start = time.perf_counter()
    done = 0
    while done < n:
        (_, messages), *_ = client.xreadgroup("g", "c", {stream: ">"}, count=batch)
        ids = [mid for mid, _ in messages]
        client.xack(stream, "g", *ids)
        done += len(ids)
    elapsed = time.perf_counter() - start
    client.delete(stream)
    return elapsed


def raw_nats(url: str, n: int, batch: int) -> float:
    import asyncio

    import nats

    async def run() -> float:
        nc = await nats.connect(url)
        js = nc.jetstream()
        name = f"bench_raw_{uuid.uuid4().hex[:6]}"
        await js.add_stream(name=name, subjects=[f"{name}.jobs"])
        acks = [js.publish(f"{name}.jobs", f"job-{i}".encode()) for i in range(n)]
        for chunk in range(0, n, 1000):
            await asyncio.gather(*acks[chunk : chunk + 1000])
        sub = await js.pull_subscribe(f"{name}.jobs", durable="c")
        start = time.perf_counter()
        done = 0
        while done < n:
            msgs = await sub.fetch(batch, timeout=5)
            await asyncio.gather(*(m.ack() for m in msgs))
            done += len(msgs)
        elapsed = time.perf_counter() - start
        await js.delete_stream(name)
        await nc.close()
        return elapsed

    return asyncio.run(run())


def through_runtime(broker_url: str, database_url: str, n: int) -> tuple[float, float]:
    """(publish seconds, process seconds) for n no-op jobs through the runtime."""
    broker = open_broker(broker_url, database_url=database_url, lease_s=30, namespace="b" + uuid.uuid4().hex[:8])
    jobs = [Job(id=f"job-{i}", kind="noop", lane=Lane.BATCH) for i in range(n)]
    start = time.perf_counter()
    for chunk in range(0, n, 1000):
        broker.publish(jobs[chunk : chunk + 1000])
    published = time.perf_counter() - start
    worker = Worker(broker, {"noop": lambda job, ctx: None}, worker_id="bench", classify=classify,
                    concurrency=BATCH, lanes=[Lane.BATCH], fetch_wait_s=0.05)  # fmt: skip

    def drained() -> bool:
        return worker.stats.processed >= n

    start = time.perf_counter()
    worker.run(until=drained)
    processed = time.perf_counter() - start
    broker.purge()
    broker.close()
    return published, processed


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    work = Path(tempfile.mkdtemp(prefix="bench-queue-"))
    database_url = embedded_url(work / "pg")
    redis_server, nats_server = RedisServer(work / "redis"), NatsServer(work / "nats")
    backends: list[tuple[str, str, Callable[[str, int, int], float], str]] = [
        ("postgres", "", raw_postgres, database_url),
        ("redis", redis_server.start(), raw_redis, ""),
        ("nats", nats_server.start(), raw_nats, ""),
    ]
    print(f"{n} no-op jobs, batches of {BATCH}, one worker process")
    print(f"{'broker':9} {'raw 1-by-1/s':>12} {'raw batch/s':>12} {'runtime/s':>10} {'us/job':>7} "
          f"{'x raw 1-by-1':>12} {'x raw batch':>11} {'publish/s':>10}")  # fmt: skip
    try:
        for name, url, raw, raw_url in backends:
            single = max(1000, n // 10)
            one_s = raw(raw_url or url, single, 1) / single
            batch_s = raw(raw_url or url, n, BATCH) / n
            published_s, runtime_s = through_runtime(url, database_url, n)
            per_job = runtime_s / n
            print(f"{name:9} {1 / one_s:12,.0f} {1 / batch_s:12,.0f} {1 / per_job:10,.0f} {per_job * 1e6:7.1f} "
                  f"{per_job / one_s:12.2f} {per_job / batch_s:11.2f} {n / published_s:10,.0f}")  # fmt: skip
    finally:
        redis_server.stop()
        nats_server.stop()
        stop_embedded(work / "pg")


if __name__ == "__main__":
    main()
