"""Ingesting files with ``mediasift ingest --wait`` into a fresh data directory, for the throughput
benchmarks: wall and CPU time of the process, and what lineage says each operator took."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

MEDIASIFT = [sys.executable, "-m", "mediasift.cli"]


@dataclass
class Ingested:
    """One ``ingest --wait`` run: its wall and CPU seconds (the process and its children), the assets
    made, and per asset each operator's lineage (``operator_runs``) and artifacts."""

    wall_s: float
    cpu_s: float
    assets: list[UUID]
    runs: dict[UUID, dict[str, Any]] = field(default_factory=dict)  # asset: operator: OperatorRun
    artifacts: dict[UUID, list[Any]] = field(default_factory=dict)
    sources: dict[UUID, list[str]] = field(default_factory=dict)  # asset: the paths it came from
    home: Path = Path()  # the run's data directory and database, to query afterwards
    database_url: str = ""

    def operator_seconds(self) -> dict[str, float]:
        """Each operator's core time summed over the assets, longest first: lineage's ``core_ms`` (its
        share of the cores while more jobs computed than there are cores), else its ``duration_ms``."""
        total: dict[str, float] = {}
        for runs in self.runs.values():
            for name, run in runs.items():
                # getattr: an older checkout run through PYTHONPATH (an A/B) has no core time
                spent = run.core_ms if getattr(run, "core_ms", None) is not None else run.duration_ms
                total[name] = total.get(name, 0.0) + spent / 1000
        return dict(sorted(total.items(), key=lambda item: -item[1]))


class Server:
    """An embedded PostgreSQL server shared by the runs of a benchmark, one fresh database per run."""

    def __init__(self, folder: Path) -> None:
        from mediasift.db.server import embedded_url

        self.folder = folder
        self.url = embedded_url(folder / "pg")
        self.made = 0

    def fresh_database(self) -> str:
        import psycopg

        self.made += 1
        name = f"bench{self.made}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url.replace("/postgres?", f"/{name}?")


@contextmanager
def server() -> Iterator[Server]:
    from mediasift.db.server import stop_embedded

    with tempfile.TemporaryDirectory(prefix="mediasift-bench-") as work:
        try:
            yield Server(Path(work))
        finally:
            stop_embedded(Path(work) / "pg")


def ingest(
    files: Sequence[Path], pg: Server, env: dict[str, str] | None = None, cores: set[int] | None = None
) -> Ingested:
    """``mediasift ingest FILES --wait --json`` in a fresh process, data directory and database (on
    ``cores`` only, where given: the process sizes its model threads by the cores it may use); the
    lineage of every asset read back afterwards (outside the timing)."""
    from mediasift.config import Settings
    from mediasift.service import Mediasift

    home = pg.folder / f"home{pg.made + 1}"
    url = pg.fresh_database()
    environ = {**os.environ, "MEDIASIFT_HOME": str(home), "MEDIASIFT_DATABASE_URL": url, "HF_HUB_OFFLINE": "1",
               **(env or {})}  # fmt: skip
    command = [*MEDIASIFT, "ingest", *map(str, files), "--wait", "--json"]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        pinned = (lambda: os.sched_setaffinity(0, cores)) if cores else None
        proc = subprocess.Popen(command, env=environ, stdout=out, stderr=err, preexec_fn=pinned)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            raise SystemExit(f"ingest failed ({status}): {err.read().decode()[-3000:]}")
        out.seek(0)
        summary = json.loads(out.read())
    assets = [UUID(item["asset_id"]) for item in summary["accepted"]]
    done = Ingested(wall, usage.ru_utime + usage.ru_stime, assets, home=home, database_url=url)
    system = Mediasift(Settings(home=home, database_url=url))
    try:
        for asset in assets:
            detail = system.describe(asset)
            done.runs[asset] = detail.operators
            done.artifacts[asset] = detail.artifacts
            done.sources[asset] = detail.sources
    finally:
        system.close()
    return done


def print_timeline(runs: dict[str, Any]) -> None:
    """When each operator of one asset ran, in seconds from the first one's start: whether the sound
    operators ran beside the picture operators or waited for them."""
    if not runs:
        return
    origin = min(run.started_at for run in runs.values())
    print(f"\n{'operator':16} {'start s':>8} {'end s':>8}")
    for name, run in sorted(runs.items(), key=lambda item: item[1].started_at):
        start = (run.started_at - origin).total_seconds()
        print(f"{name:16} {start:8.1f} {start + run.duration_ms / 1000:8.1f}")


def print_operators(seconds: dict[str, float], wall_s: float, items: int, unit: str) -> None:
    """Per operator: core seconds summed over the assets, per item, and share of all operators' time."""
    total = sum(seconds.values()) or 1.0
    print(f"\n{'operator':16} {'core s':>8} {'per ' + unit:>10} {'share':>6}")
    for name, value in seconds.items():
        print(f"{name:16} {value:8.2f} {value / items:10.3f} {100 * value / total:5.1f}%")
    print(f"{'(all operators)':16} {total:8.2f} {total / items:10.3f}   (wall {wall_s:.1f} s)")
