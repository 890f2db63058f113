"""A real Prometheus server (Debian's ``prometheus``, installed by scripts/install-system-deps) for
tests: its own storage in a temporary folder, a free port on loopback, a short scrape interval, the
repository's alert rules loaded, and its HTTP API read back."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from support.apiserver import free_port

DEPLOY = Path(__file__).parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "mediasift.json"


@dataclass(frozen=True)
class Prometheus:
    base: str

    def query(self, expr: str) -> dict[str, Any]:
        """The HTTP API's whole answer to an instant query (``status``, ``data`` or ``error``)."""
        answer: dict[str, Any] = httpx.get(f"{self.base}/api/v1/query", params={"query": expr}, timeout=30).json()
        return answer

    def vector(self, expr: str) -> list[tuple[dict[str, str], float]]:
        answer = self.query(expr)
        assert answer["status"] == "success", answer
        return [(r["metric"], float(r["value"][1])) for r in answer["data"]["result"]]

    def wait_for(self, expr: str, timeout_s: float = 60.0) -> list[tuple[dict[str, str], float]]:
        """The first non-empty result of ``expr``, polled until ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = self.vector(expr)
            if found:
                return found
            assert time.monotonic() < deadline, f"no data for {expr} within {timeout_s:g} s"
            time.sleep(0.5)

    def rules(self) -> list[dict[str, Any]]:
        groups = httpx.get(f"{self.base}/api/v1/rules", timeout=30).json()["data"]["groups"]
        return [rule for group in groups for rule in group["rules"]]


@contextmanager
def prometheus(folder: Path, targets: Mapping[str, Sequence[str]], interval_s: float = 1.0) -> Iterator[Prometheus]:
    """A server scraping ``targets`` (job name -> host:port) every ``interval_s`` and evaluating the
    repository's alert rules as often."""
    binary = shutil.which("prometheus")
    assert binary, "prometheus is not installed: run scripts/install-system-deps"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(RULES, folder / "alerts.yml")
    config = {
        "global": {"scrape_interval": f"{interval_s:g}s", "evaluation_interval": f"{interval_s:g}s"},
        "rule_files": ["alerts.yml"],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": list(hosts)}]} for job, hosts in targets.items()
        ],
    }
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    server = subprocess.Popen(
        [binary, f"--config.file={folder / 'prometheus.yml'}", f"--storage.tsdb.path={folder / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=(folder / "prometheus.log").open("w"),
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/-/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, (folder / "prometheus.log").read_text()
            assert time.monotonic() < deadline, "prometheus did not become ready"
            time.sleep(0.2)
        yield Prometheus(base)
    finally:
        server.terminate()
        server.wait(timeout=30)
