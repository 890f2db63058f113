"""Chaos run: mixed media through worker processes that keep being killed, and a broker restart.

    .venv/bin/python tests/support/chaos.py [--assets 300] [--broker redis|nats] [--workers 3]

Workers are real ``mediasift worker`` processes. Every few seconds one of them is killed with
SIGKILL and started again; once, the broker server is restarted. At the end every good asset must
be done, every poisoned one dead-lettered with a permanent error, no result doubled and nothing
lost. ``tests/jobs/test_chaos.py`` runs a reduced form in CI.

"Doubled" and "lost" are counted on the rows stored in PostgreSQL: per asset (by file name) and
operator, the segments, artifacts and embeddings (per model) the chaos run left, against what one
clean run of the same files stores in a database of its own (no kills, no restarts, one process).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))

from support import mediagen  # noqa: E402
from support.chaos_plugins import POISON  # noqa: E402
from support.databases import create_database  # noqa: E402
from support.servers import NatsServer, RedisServer  # noqa: E402

WORDS = [
    "harbor", "river", "mountain", "garden", "station", "library", "bridge", "market", "orchard", "tunnel",
    "valley", "meadow", "castle", "lantern", "engine", "compass", "ferry", "glacier", "meteor", "canyon",
]  # fmt: skip


@dataclass
class ChaosReport:
    assets: int = 0
    good: int = 0
    poisoned: int = 0
    done: int = 0
    dead_lettered_permanent: int = 0
    unfinished: int = 0
    kills: int = 0
    broker_restarts: int = 0
    duplicate_results: int = 0  # rows stored beyond what the clean run stores
    missing_results: int = 0  # rows the clean run stores that are not there
    rows_compared: int = 0  # rows the clean run stores, all tables together
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"assets {self.assets} (good {self.good}, poisoned {self.poisoned}): done {self.done}, "
            f"dead-lettered permanent {self.dead_lettered_permanent}, unfinished {self.unfinished}, "
            f"of {self.rows_compared} rows stored by a clean run: {self.duplicate_results} doubled, "
            f"{self.missing_results} missing; "
            f"{self.kills} SIGKILLs, {self.broker_restarts} broker restart(s), {self.seconds:.0f} s"
        )


PLUGINS = "support.chaos_plugins:PoisonCheck"


def goodness(folder: Path) -> dict[str, bool]:
    """File name -> whether it is good (not poisoned), for the files of ``make_media``."""
    return {path.name: POISON.encode() not in path.read_bytes() for path in sorted(folder.iterdir())}


def make_media(folder: Path, n: int, seed: int = 1) -> dict[str, bool]:
    """n files: about 75% text, 15% images with a word drawn, 10% speech; one in ten texts poisoned.
    Returns file name -> whether it is good."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    good: dict[str, bool] = {}
    for i in range(n):
        roll = rng.random()
        words = " ".join(rng.choice(WORDS) for _ in range(40))
        if roll < 0.75:
            poisoned = i % 10 == 3
            body = f"Document {i}. {words}." + (f" {POISON}" if poisoned else "")
            name = f"doc{i:04d}.txt"
            mediagen.make_text_file(folder / name, body)
            good[name] = not poisoned
        elif roll < 0.90:
            name = f"sign{i:04d}.png"
            mediagen.make_text_image(folder / name, f"{rng.choice(WORDS).upper()} {i}", size=(240, 120))
            good[name] = True
        else:
            name = f"say{i:04d}.wav"
            mediagen.make_speech_wav(folder / name, f"number {i} {rng.choice(WORDS)}")
            good[name] = True
    return good


class Workers:
    def __init__(self, env: dict[str, str], count: int, concurrency: int = 2) -> None:
        self.env = env
        self.procs: list[subprocess.Popen[bytes]] = []
        self.command = [sys.executable, "-m", "mediasift.cli", "worker", "--concurrency", str(concurrency)]
        for _ in range(count):
            self.procs.append(self._start())

    def _start(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(self.command, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill_one(self, rng: random.Random) -> None:
        index = rng.randrange(len(self.procs))
        self.procs[index].send_signal(signal.SIGKILL)
        self.procs[index].wait()
        self.procs[index] = self._start()

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()


def run_chaos(
    work: Path,
    database_url: str,
    *,
    assets: int,
    broker: str = "redis",
    workers: int = 3,
    kill_every_s: tuple[float, float] = (3.0, 6.0),
    timeout_s: float = 1800.0,
    seed: int = 1,
    media: Path | None = None,
    clean_rows: StoredRows | None = None,
    clean_database_url: str | None = None,
) -> ChaosReport:
    """The chaos run over ``media`` (made here when None: ``assets`` files from ``seed``), its stored
    rows compared with ``clean_rows`` (those of a clean run of the same files; made here, in
    ``clean_database_url``, when None)."""
    from mediasift.config import Settings
    from mediasift.jobs.model import Lane
    from mediasift.service import Mediasift

    if media is None:
        media = work / "media"
        make_media(media, assets, seed)
    if clean_rows is None:
        if clean_database_url is None:
            raise ValueError("a clean run to compare with needs a database of its own")
        clean_rows = clean_run(work / "clean", media, clean_database_url)
    rng = random.Random(seed)
    server_type = RedisServer if broker == "redis" else NatsServer
    server = server_type(work / "broker")
    broker_url = server.start()
    env = {
        **os.environ,
        "MEDIASIFT_HOME": str(work / "home"),
        "MEDIASIFT_DATABASE_URL": database_url,
        "MEDIASIFT_BROKER_URL": broker_url,
        "MEDIASIFT_LEASE_S": "3",
        "MEDIASIFT_MAX_ATTEMPTS": "12",
        "MEDIASIFT_RETRY_BASE_S": "0.5",
        "MEDIASIFT_RETRY_CAP_S": "5",
        "MEDIASIFT_OPERATOR_PLUGINS": PLUGINS,
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
        "HF_HUB_OFFLINE": "1",
    }
    settings = Settings(
        home=work / "home", database_url=database_url, broker_url=broker_url, lease_s=3, max_attempts=12,
        operator_plugins=PLUGINS,
    )  # fmt: skip
    report = ChaosReport()
    good = goodness(media)
    system = Mediasift(settings)
    ingest = system.ingest([media], lane=Lane.BATCH)
    ids = {Path(a.path).name: a.asset_id for a in ingest.accepted}
    report.assets, report.good, report.poisoned = len(ids), sum(good.values()), len(good) - sum(good.values())

    start = time.monotonic()
    pool = Workers(env, workers)
    restarted = False
    next_kill = time.monotonic() + rng.uniform(*kill_every_s)
    try:
        while time.monotonic() - start < timeout_s:
            status = system.status()
            unfinished = status.assets.pending
            quiet = unfinished == 0 and status.queue.depth == 0 and status.queue.in_flight == 0
            if quiet and active_jobs(database_url) == 0:  # a second delivery may still be running
                break
            if not restarted and unfinished < report.assets * 0.6:
                server.stop()
                time.sleep(1.0)
                server.start()
                restarted = True
                report.broker_restarts += 1
            if time.monotonic() >= next_kill:
                pool.kill_one(rng)
                report.kills += 1
                next_kill = time.monotonic() + rng.uniform(*kill_every_s)
            time.sleep(0.5)
    finally:
        pool.stop()
        report.seconds = time.monotonic() - start
        _check(system, ids, good, report)
        _compare(stored_rows(database_url), clean_rows, report)
        system.close()
        server.stop()
    return report


def _check(system: Any, ids: dict[str, Any], good: dict[str, bool], report: ChaosReport) -> None:
    dead = {d.job.id: d for d in system.dead_letters()}
    for name, asset_id in ids.items():
        detail = system.describe(asset_id)
        if good[name]:
            if detail.status == "done":
                report.done += 1
            else:
                report.unfinished += 1
                report.problems.append(f"{name}: {detail.status} {detail.jobs}")
        else:
            letter = dead.get(f"{asset_id}:poison_check")
            if letter is not None and letter.error_class == "permanent":
                report.dead_lettered_permanent += 1
            else:
                report.problems.append(f"{name}: poisoned but not dead-lettered as permanent")


# Per (file name, operator, what): how many rows are stored. ``what`` is "segments", "artifacts" or
# "embeddings <model>"; an embedding is counted under the operator of the segment it embeds.
StoredRows = dict[tuple[str, str, str], int]

STORED_ROWS = """
WITH names AS (SELECT asset_id, min(regexp_replace(source, '^.*/', '')) AS name FROM asset_sources GROUP BY 1)
SELECT n.name, s.operator, 'segments' AS what, count(*) AS rows
FROM segments s JOIN names n USING (asset_id) GROUP BY 1, 2, 3
UNION ALL
SELECT n.name, a.operator, 'artifacts', count(*) FROM artifacts a JOIN names n USING (asset_id) GROUP BY 1, 2, 3
UNION ALL
SELECT n.name, s.operator, 'embeddings ' || e.model, count(*)
FROM embeddings e JOIN segments s ON s.id = e.segment_id JOIN names n ON n.asset_id = e.asset_id GROUP BY 1, 2, 3
"""


def active_jobs(database_url: str) -> int:
    """Jobs marked queued, running or retrying. A job whose lease ran out under a slow worker is
    delivered again; the first delivery's ack removes the message, so the broker counts the second as
    nothing while it runs, but it marks its job running when it starts after the first finished."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        active = "SELECT count(*) FROM asset_jobs WHERE state IN ('queued', 'running', 'retrying')"
        row = conn.execute(active).fetchone()
    return int(row[0]) if row else 0


def stored_rows(database_url: str) -> StoredRows:
    """What is stored, read with SQL of its own rather than through mediasift."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        return {(name, op, what): int(rows) for name, op, what, rows in conn.execute(STORED_ROWS).fetchall()}


def clean_run(work: Path, media: Path, database_url: str) -> StoredRows:
    """Analyse ``media`` once, undisturbed, in this process and its own database, with the chaos run's
    operators; return the rows it stores."""
    from contextlib import closing

    from mediasift.config import Settings
    from mediasift.jobs.model import Lane
    from mediasift.service import Mediasift

    settings = Settings(home=work, database_url=database_url, operator_plugins=PLUGINS)
    with closing(Mediasift(settings)) as system:
        system.ingest([media], lane=Lane.BATCH, wait=True)
    rows = stored_rows(database_url)
    if not rows:
        raise RuntimeError("the clean run stored nothing to compare with")
    return rows


def _compare(rows: StoredRows, clean: StoredRows, report: ChaosReport) -> None:
    report.rows_compared = sum(clean.values())
    for key in sorted(rows.keys() | clean.keys()):
        found, expected = rows.get(key, 0), clean.get(key, 0)
        if found > expected:
            report.duplicate_results += found - expected
        elif found < expected:
            report.missing_results += expected - found
        if found != expected:
            report.problems.append(f"{' '.join(key)}: {found} rows stored, a clean run stores {expected}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=int, default=300)
    parser.add_argument("--broker", choices=["redis", "nats"], default="redis")
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    from mediasift.db.server import embedded_url, stop_embedded

    work = Path(tempfile.mkdtemp(prefix="chaos-"))
    server_url = embedded_url(work / "pg")
    try:
        report = run_chaos(
            work, create_database(server_url), assets=args.assets, broker=args.broker, workers=args.workers,
            clean_database_url=create_database(server_url),
        )  # fmt: skip
    finally:
        stop_embedded(work / "pg")
    print(report.line())
    for problem in report.problems[:20]:
        print("  ", problem)
    sys.exit(0 if not report.problems and report.unfinished == 0 else 1)


if __name__ == "__main__":
    main()
