"""Text-embedding throughput: the raw model at its best batch size (the limit), next to mediasift's
end-to-end throughput through jobs and the cross-job micro-batcher, on the same texts in one run.

The texts are English prose of varied length (``tests/textgen.py``). Every text is distinct and
the result cache is off, so every text is embedded.

1. Raw: the int8 MiniLM (``TextEmbedder.embed``) on batches of 1, 8, 16, 32 and 64 texts taken in
   length order (bucketed: a batch holds texts of similar length), and on batches of 32 in random
   order (each padded to its longest text).
2. Through jobs: each job carries ``--per-job`` texts and calls the inference layer
   (``embed_texts``: cache lookup, micro-batcher, model), run by the worker runtime over the
   PostgreSQL broker with ``--concurrency`` job threads; once with the batcher (batches of up to 32,
   gathered for up to 20 ms, cut by length) and once with batches of 1.

Printed: texts/s of each, the ratio of end to end to the raw best (target >= 0.9), and the speedup
of batching over batch size 1, raw and through jobs (target >= 1.25). The device is printed first;
on a CUDA machine the same command measures the GPU.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/inference.py [--texts 1000] [--per-job 8] [--concurrency 32]
"""

from __future__ import annotations

import benchpath  # noqa: F401  (first: keeps bench/queue.py from hiding the standard library's queue)

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from mediasift.config import Settings
from mediasift.db.server import embedded_url, stop_embedded
from mediasift.inference import devices, text
from mediasift.jobs.broker import open_broker
from mediasift.jobs.model import Job, Lane
from mediasift.jobs.runtime import JobContext, Worker
from mediasift.models.text_embedder import TextEmbedder, get_text_embedder

from textgen import prose


def raw_seconds(embedder: TextEmbedder, texts: list[str], batch: int, bucketed: bool) -> float:
    order = sorted(texts, key=len) if bucketed else texts
    start = time.perf_counter()
    for i in range(0, len(order), batch):
        embedder.embed(order[i : i + batch])
    return time.perf_counter() - start


def through_jobs(texts: list[str], per_job: int, concurrency: int, max_batch: int, database_url: str) -> float:
    settings = Settings(batch_max_size=max_batch, batch_wait_ms=20.0, inference_cache=False)
    text._batchers.clear()  # a fresh batcher with these settings
    broker = open_broker("", database_url=database_url, lease_s=60, namespace="inf" + uuid.uuid4().hex[:8])
    jobs = [
        Job(id=f"embed-{i}", kind="embed", lane=Lane.BATCH, payload={"texts": texts[i : i + per_job]})
        for i in range(0, len(texts), per_job)
    ]
    broker.publish(jobs)

    def embed(job: Job, ctx: JobContext) -> None:
        vectors = text.embed_texts(job.payload["texts"], settings)  # no cache outside the pipeline
        assert vectors.shape == (len(job.payload["texts"]), TextEmbedder.dim)

    worker = Worker(broker, {"embed": embed}, worker_id="bench", concurrency=concurrency, lanes=[Lane.BATCH],
                    fetch_wait_s=0.05)  # fmt: skip
    start = time.perf_counter()
    worker.run(until=lambda: worker.stats.processed >= len(jobs))
    elapsed = time.perf_counter() - start
    assert worker.stats.failed == 0
    broker.purge()
    broker.close()
    return elapsed


def best_of(repeats: int, measure: Callable[[], float]) -> float:
    return min(measure() for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--per-job", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    texts = prose(args.texts)
    n = len(texts)
    tokens = sorted(len(t.split()) for t in texts)
    print(devices.describe())
    print(f"{n} distinct texts, {tokens[0]}-{tokens[-1]} words (median {tokens[n // 2]}), cache off")
    embedder = get_text_embedder()
    embedder.embed(texts[:64])  # warm up

    print(f"{'raw MiniLM int8':34} {'texts/s':>9}")
    raw: dict[tuple[int, bool], float] = {}
    for batch, bucketed in ((1, True), (8, True), (16, True), (32, True), (64, True), (32, False)):
        seconds = best_of(args.repeats, lambda b=batch, k=bucketed: raw_seconds(embedder, texts, b, k))
        raw[batch, bucketed] = n / seconds
        label = f"batch {batch}" + ("" if batch == 1 else (", by length" if bucketed else ", padded to longest"))
        print(f"  {label:32} {raw[batch, bucketed]:9.1f}")
    best_key = max(raw, key=lambda k: raw[k])
    best = raw[best_key]

    work = Path(tempfile.mkdtemp(prefix="bench-inference-"))
    database_url = embedded_url(work / "pg")
    try:
        jobs_batched = n / best_of(
            args.repeats, lambda: through_jobs(texts, args.per_job, args.concurrency, 32, database_url)
        )
        jobs_single = n / best_of(
            args.repeats, lambda: through_jobs(texts, args.per_job, args.concurrency, 1, database_url)
        )
    finally:
        stop_embedded(work / "pg")
    print(f"through jobs ({n // args.per_job} jobs of {args.per_job} texts, {args.concurrency} job threads)")
    print(f"  {'batcher, up to 32, by length':32} {jobs_batched:9.1f}")
    print(f"  {'batches of 1':32} {jobs_single:9.1f}")
    print(f"raw best: batch {best_key[0]}{' by length' if best_key[1] else ''}, {best:.1f} texts/s")
    print(f"end to end / raw best:          {jobs_batched / best:.2f}  (target >= 0.9)")
    print(f"batching speedup, raw:          {best / raw[1, True]:.2f}x  (batch 32 padded: "
          f"{raw[32, False] / raw[1, True]:.2f}x; target >= 1.25)")  # fmt: skip
    print(f"batching speedup, through jobs: {jobs_batched / jobs_single:.2f}x")


if __name__ == "__main__":
    main()
