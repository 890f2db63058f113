"""Wall time and peak memory of ingesting the bundled samples, per media type.

Each media type runs in a fresh process and a fresh data directory (sharing one embedded
PostgreSQL server, started before timing). The baseline, measured in the same run, is
registration alone (probe, hash, store, record: ``ingest`` without ``--wait``); the ratio shows what
analysis costs on top of it.

    .venv/bin/python bench/ingest.py [SAMPLES_DIR]
"""

from __future__ import annotations

import benchpath  # noqa: F401  (first: keeps bench/queue.py from hiding the standard library's queue)

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEDIASIFT = [sys.executable, "-m", "mediasift.cli"]


def run(files: list[Path], home: Path, db_url: str, wait: bool) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of one ``mediasift ingest`` process."""
    env = {**os.environ, "MEDIASIFT_HOME": str(home), "MEDIASIFT_DATABASE_URL": db_url, "HF_HUB_OFFLINE": "1"}
    command = [*MEDIASIFT, "ingest", *map(str, files), "--json", *(["--wait"] if wait else [])]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise SystemExit(f"ingest failed ({proc.returncode}): {err.read().decode()[-2000:]}")
        out.seek(0)
        json.loads(out.read())
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    samples = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "samples"
    import psycopg

    from mediasift.config import Settings
    from mediasift.db.server import embedded_url, stop_embedded
    from mediasift.ingest.probe import probe_file

    settings = Settings()
    by_type: dict[str, list[Path]] = {}
    for path in sorted(samples.iterdir()):
        if path.is_file() and path.suffix != ".md":
            # Grouping needs only the media type, not a text's language.
            by_type.setdefault(probe_file(path, settings, lambda _: None).media_type.value, []).append(path)

    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    server = embedded_url(work / "pg")
    print(
        f"{'media':6} {'files':>5} {'MB':>6} {'register s':>10} {'ingest+analyse s':>16} {'ratio':>6} "
        f"{'peak RSS MB':>11}"
    )
    try:
        for index, (media_type, files) in enumerate(sorted(by_type.items())):
            size = sum(f.stat().st_size for f in files) / 1e6
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE b{index}r")
                conn.execute(f"CREATE DATABASE b{index}w")
            base = server.replace("/postgres?", f"/b{index}r?")
            full = server.replace("/postgres?", f"/b{index}w?")
            register_s, _ = run(files, work / f"r{index}", base, wait=False)
            analyse_s, peak = run(files, work / f"w{index}", full, wait=True)
            print(f"{media_type:6} {len(files):5d} {size:6.2f} {register_s:10.2f} {analyse_s:16.2f} "
                  f"{analyse_s / register_s:6.1f} {peak:11.0f}")  # fmt: skip
    finally:
        stop_embedded(work / "pg")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
