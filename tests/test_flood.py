"""A flood: far more files than the queue's high-water mark. Ingest holds back, so queue depth and
the worker's memory stay bounded; the test prints the peak depth and peak resident memory."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mediasift.config import Settings
from mediasift.service import BACKPRESSURE_CHECK_EVERY, Mediasift

from support import mediagen

pytestmark = pytest.mark.slow

HIGH, LOW, FILES = 40, 20, 200  # five times the high-water mark


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_a_flood_keeps_queue_depth_and_worker_memory_bounded(settings: Settings, tmp_path: Path) -> None:
    settings = settings.model_copy(update={"queue_high_water": HIGH, "queue_low_water": LOW})
    folder = tmp_path / "flood"
    folder.mkdir()
    for i in range(FILES):
        mediagen.make_text_file(folder / f"note{i:04d}.txt", f"Note {i}: the ferry to island {i} leaves at dawn.")
    env = {
        **os.environ,
        "MEDIASIFT_HOME": str(settings.home),
        "MEDIASIFT_DATABASE_URL": settings.database_url,
        "MEDIASIFT_QUEUE_HIGH_WATER": str(HIGH),
        "MEDIASIFT_QUEUE_LOW_WATER": str(LOW),
    }
    worker = subprocess.Popen([sys.executable, "-m", "mediasift.cli", "worker"], env=env, stderr=subprocess.DEVNULL)
    system = Mediasift(settings)
    depths: list[int] = []
    memory: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.1):
            depths.append(system.broker.stats().depth)
            memory.append(rss_mb(worker.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    try:
        deadline = time.monotonic() + 30
        while not system.workers_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        sampler.start()
        messages: list[str] = []
        report = system.ingest([folder], on_wait=messages.append)
        system.wait_for([a.asset_id for a in report.accepted])
    finally:
        stop.set()
        worker.terminate()
        worker.wait(30)
    peak_depth, peak_rss = max(depths), max(memory)
    print(f"{FILES} files, high-water mark {HIGH}: peak queue depth {peak_depth}, peak worker RSS {peak_rss:.0f} MB")
    assert len(report.accepted) == FILES and system.status().assets.by_media_type["text"] == {"done": FILES}
    assert messages and "high-water mark" in messages[0], "ingest said it was holding back"
    assert peak_depth <= HIGH + 2 * BACKPRESSURE_CHECK_EVERY
    settled = memory[len(memory) // 4 :]
    assert max(settled) - min(settled) < 150, "worker memory does not grow with the flood"
