"""``mediasift serve`` in its own process, for tests that need a real socket and a server whose
memory they can read."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from mediasift.config import Settings


@dataclass(frozen=True)
class Served:
    base: str  # http://127.0.0.1:PORT
    pid: int

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"no VmRSS for {self.pid}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(settings: Settings, **env: str) -> Iterator[Served]:
    """The API over ``settings``' home and database, with extra ``MEDIASIFT_*`` settings in ``env``."""
    port = free_port()
    environment = {
        **os.environ,
        "MEDIASIFT_HOME": str(settings.home),
        "MEDIASIFT_DATABASE_URL": settings.database_url,
        **env,
    }
    server = subprocess.Popen([sys.executable, "-m", "mediasift.cli", "serve", "--port", str(port)], env=environment)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None, "the server stopped"
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.3)
        yield Served(base, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
