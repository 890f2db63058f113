"""What operations cost: the same ingest of the bundled samples with metrics, traces and JSON logs
on, and with them off, interleaved in one process (off, on, on, off, ...) so that a slower or busier
minute weighs on both alike.

- off: the defaults. No OTLP endpoint (no tracing at all), logs at WARNING in text, nobody scraping.
- on: spans for every request, ingest, job and model call exported over OTLP/HTTP to a local
  receiver that decodes them (tests/support/otlp.py); JSON log lines at INFO (a line per job) to
  stderr; and ``/metrics`` served by a second system and scraped every ``--scrape-every`` seconds
  (15, the interval of deploy/prometheus), each scrape reading status, cost, histograms and drift
  from the database. The mean time of a scrape is printed too, to scale the cost to other intervals.

Each run ingests the samples into a fresh database (no cached model results carry over) with the
models already loaded. Printed: each run's wall time and CPU time (this process, every thread), and
the ratios of the medians, on / off (target: at most 1.03). On a machine shared with other work the
wall times swing by tens of percent from run to run; the CPU times much less.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/overhead.py [--rounds 4] [--scrape-every 15] [SAMPLES_DIR] 2>overhead.log
"""

from __future__ import annotations

import benchpath  # noqa: F401  (first: keeps bench/queue.py from hiding the standard library's queue)

import argparse
import logging
import statistics
import tempfile
import threading
import time
from contextlib import ExitStack, closing
from pathlib import Path

import httpx

from mediasift.config import Settings
from mediasift.db.server import embedded_url, stop_embedded
from mediasift.obs import logs, tracing
from mediasift.service import Mediasift

from support.apiserver import free_port
from support.databases import create_database
from support.otlp import receiving

ROOT = Path(__file__).resolve().parents[1]


SCRAPES: list[float] = []  # seconds each scrape took


def scraping(url: str, every_s: float, stop: threading.Event) -> threading.Thread:
    def loop() -> None:
        with httpx.Client() as client:
            while not stop.wait(every_s):
                started = time.perf_counter()
                client.get(url, timeout=30).raise_for_status()
                SCRAPES.append(time.perf_counter() - started)

    thread = threading.Thread(target=loop, name="scraper", daemon=True)
    thread.start()
    return thread


def one_run(
    files: list[Path], work: Path, server: str, on: bool, endpoint: str, scrape_s: float
) -> tuple[float, float]:
    """Wall seconds and this process's CPU seconds (every thread: jobs, models, the exporter, the
    scrapes, the receiver) of one ingest."""
    home = Path(tempfile.mkdtemp(dir=work))
    settings = Settings(home=home, database_url=create_database(server), log_format="json" if on else "text",
                        log_level="INFO" if on else "WARNING", otel_endpoint=endpoint if on else "")  # fmt: skip
    tracing.set_recording(on)
    root = logging.getLogger()
    root.handlers[:] = []
    root.setLevel(logging.WARNING)
    logs.configure(settings)
    with closing(Mediasift(settings)) as system, ExitStack() as stack:
        stop = threading.Event()
        if on:
            port = free_port()
            stack.enter_context(system.metrics_served(port, "127.0.0.1"))
            scraper = scraping(f"http://127.0.0.1:{port}/metrics", scrape_s, stop)
        started, cpu = time.perf_counter(), time.process_time()
        report = system.ingest(files, wait=True)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        stop.set()
        if on:
            scraper.join()
            tracing.flush()
    if report.failed or report.refused:
        raise SystemExit(f"the ingest failed: {report.failed} {report.refused}")
    return elapsed, cpu


def ratios(name: str, runs: dict[bool, list[float]]) -> str:
    off, on = statistics.median(runs[False]), statistics.median(runs[True])
    pairs = ", ".join(f"{b / a:.3f}" for a, b in zip(runs[False], runs[True], strict=True))
    return f"{name}: median off {off:.2f} s, on {on:.2f} s: on/off = {on / off:.3f} (per round {pairs})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("samples", nargs="?", type=Path, default=ROOT / "samples")
    parser.add_argument("--rounds", type=int, default=4, help="pairs of runs (each pair: one off, one on)")
    parser.add_argument("--scrape-every", type=float, default=15.0, help="seconds between scrapes (Prometheus: 15)")
    args = parser.parse_args()
    files = sorted(p for p in args.samples.iterdir() if p.is_file())
    with tempfile.TemporaryDirectory() as tmp, receiving() as receiver:
        work = Path(tmp)
        server = embedded_url(work / "pg")
        try:
            tracing.setup(Settings(home=work, otel_endpoint=receiver.base))
            print(f"{len(files)} samples; warming up (models load, caches fill): one run off, one on", flush=True)
            for on in (False, True):
                one_run(files, work, server, on, receiver.base, args.scrape_every)
            SCRAPES.clear()
            walls: dict[bool, list[float]] = {False: [], True: []}
            cpus: dict[bool, list[float]] = {False: [], True: []}
            for round_ in range(args.rounds):
                order = (False, True) if round_ % 2 == 0 else (True, False)
                for on in order:
                    wall, cpu = one_run(files, work, server, on, receiver.base, args.scrape_every)
                    walls[on].append(wall)
                    cpus[on].append(cpu)
                    print(f"round {round_ + 1} {'on ' if on else 'off'}: {wall:.2f} s, {cpu:.2f} s CPU", flush=True)
        finally:
            stop_embedded(work / "pg")
        spans = len(receiver.snapshot())
    print(ratios("wall", walls) + " (target <= 1.03)")
    print(ratios("CPU", cpus) + " (less swayed by other work on the machine)")
    print(f"{spans} spans received", end="")
    if SCRAPES:
        print(f"; {len(SCRAPES)} scrapes every {args.scrape_every:g} s, {statistics.mean(SCRAPES) * 1000:.0f} ms each")
    print()


if __name__ == "__main__":
    main()
