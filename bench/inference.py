"""Text-embedding throughput: the raw model at its best batch size (the limit), next to mediasift's
end-to-end throughput through jobs and the cross-job micro-batcher, on the same texts in one run.

Two sets of distinct English texts (``tests/support/textgen.py``), because batching pays off so differently
with length on a CPU: short ones (4-30 words: transcript utterances, captions, OCR lines, labels)
and long ones (a paragraph of 2-3 sentences: text chunks). The result cache is off (it is outside
the pipeline), so every text is embedded.

1. Raw: MiniLM (``TextEmbedder.embed``) on the texts in length order (the ideal bucketing: a batch
   holds texts of similar length): the shipped graph, which computes in float, in batches of 1, 8
   and 32 (the baseline), and the graph quantized for int8 compute, as it runs on a CPU (one text a
   call, see ``models/text_embedder.py``).
2. Through jobs: each job carries ``--per-job`` texts and calls the inference layer
   (``Inference.embed_texts``: micro-batcher, then model), run by the worker runtime over the PostgreSQL
   broker with ``--concurrency`` job threads; once with the batcher (batches of up to 32 texts,
   gathered for up to 20 ms and cut by length) and once with batches of 1.

Printed per set: texts/s of each, the ratio of end to end to the raw best (target >= 0.9), the
speedup of the int8 graph over the float graph at its best batch, and the speedup of batching over
batch size 1, for the float graph raw and through jobs (the int8 graph is not batched on a CPU).
The device is printed first; on a CUDA machine the same command measures the GPU.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/inference.py [--texts 600] [--per-job 8] [--concurrency 32]
"""

from __future__ import annotations

import benchpath  # noqa: F401  (first: keeps bench/queue.py from hiding the standard library's queue)

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from mediasift.config import Settings, load_settings
from mediasift.db.server import embedded_url, stop_embedded
from mediasift.inference.door import Inference
from mediasift.jobs.broker import open_broker
from mediasift.jobs.model import Job, Lane
from mediasift.jobs.runtime import JobContext, Worker
from mediasift.models import devices
from mediasift.models.text_embedder import TextEmbedder
from mediasift.pipeline.failures import classify

from support.textgen import prose, short_sentences


def raw_seconds(embedder: TextEmbedder, texts: list[str], batch: int) -> float:
    """Seconds to embed ``texts`` in length order, ``batch`` at a time (the quantized graph takes one a call)."""
    order = sorted(texts, key=len)
    start = time.perf_counter()
    for i in range(0, len(order), batch):
        embedder.embed(order[i : i + batch], batch_size=batch)
    return time.perf_counter() - start


def door(max_batch: int) -> Inference:
    """The inference layer with these batches, its model loaded, its cache off (every text is embedded)."""
    inference = Inference(Settings(batch_max_size=max_batch, batch_wait_ms=20.0, inference_cache=False))
    inference.embed_texts(short_sentences(8))
    return inference


def through_jobs(texts: list[str], per_job: int, concurrency: int, inference: Inference, database_url: str) -> float:
    broker = open_broker("", database_url=database_url, lease_s=60, namespace="inf" + uuid.uuid4().hex[:8])
    jobs = [
        Job(id=f"embed-{i}", kind="embed", lane=Lane.BATCH, payload={"texts": texts[i : i + per_job]})
        for i in range(0, len(texts), per_job)
    ]
    broker.publish(jobs)

    def embed(job: Job, ctx: JobContext) -> None:
        vectors = inference.embed_texts(job.payload["texts"])
        assert vectors.shape == (len(job.payload["texts"]), TextEmbedder.dim)

    worker = Worker(broker, {"embed": embed}, worker_id="bench", classify=classify, concurrency=concurrency,
                    lanes=[Lane.BATCH], fetch_wait_s=0.05)  # fmt: skip
    start = time.perf_counter()
    worker.run(until=lambda: worker.stats.processed >= len(jobs))
    elapsed = time.perf_counter() - start
    assert worker.stats.failed == 0
    broker.purge()
    broker.close()
    return elapsed


def best_of(repeats: int, measure: Callable[[], float]) -> float:
    return min(measure() for _ in range(repeats))


def measure_set(name: str, texts: list[str], args: argparse.Namespace, database_url: str) -> None:
    n = len(texts)
    words = sorted(len(t.split()) for t in texts)
    threads = load_settings().model_threads
    float_graph = TextEmbedder(threads, quantized=False).load()
    embedder = TextEmbedder(threads, built_models=load_settings().built_models_dir).load()
    print(f"\n{name}: {n} texts of {words[0]}-{words[-1]} words (median {words[n // 2]})")
    raw = {b: n / best_of(args.repeats, lambda b=b: raw_seconds(float_graph, texts, b)) for b in (1, 8, 32)}
    for batch, rate in raw.items():
        print(f"  raw, float graph, batches of {batch:<2} by length  {rate:9.1f} texts/s")
    this = n / best_of(args.repeats, lambda: raw_seconds(embedder, texts, 1))
    kind = "int8 graph, a text a call" if embedder.quantized else "float graph, batches of 1"
    print(f"  raw, {kind:<37}{this:9.1f} texts/s")
    gathered, alone = door(32), door(1)
    batched = n / best_of(
        args.repeats, lambda: through_jobs(texts, args.per_job, args.concurrency, gathered, database_url)
    )
    single = n / best_of(args.repeats, lambda: through_jobs(texts, args.per_job, args.concurrency, alone, database_url))
    print(f"  jobs + batcher (up to 32)                   {batched:9.1f} texts/s")
    print(f"  jobs, batches of 1                          {single:9.1f} texts/s")
    best = max(raw, key=lambda b: raw[b])
    as_run = this if embedder.quantized else raw[best]
    print(f"  end to end / raw as it runs here: {batched / as_run:.2f}  (target >= 0.9)")
    print(f"  int8 graph / float graph at its best (batch {best}): {this / raw[best]:.2f}x")
    print(f"  batching speedup: float graph raw {raw[best] / raw[1]:.2f}x; through jobs {batched / single:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=600)
    parser.add_argument("--per-job", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print(devices.describe())
    print(f"{args.per_job} texts per job, {args.concurrency} job threads, PostgreSQL broker, cache off")
    TextEmbedder(load_settings().model_threads, built_models=load_settings().built_models_dir).load().embed(
        short_sentences(64)
    )  # warm up (and the quantized graph built, if it was not)
    work = Path(tempfile.mkdtemp(prefix="bench-inference-"))
    database_url = embedded_url(work / "pg")
    try:
        measure_set("short texts", short_sentences(args.texts), args, database_url)
        measure_set("long texts", prose(args.texts), args, database_url)
    finally:
        stop_embedded(work / "pg")


if __name__ == "__main__":
    main()
