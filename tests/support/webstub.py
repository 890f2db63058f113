"""A real HTTP server for fetch tests, on any local address and port, that records what it is asked.

Paths (over HTTP, or HTTPS with ``tls``): /file/NAME (bytes from ``files``), /trickle (one byte a
second), /silent (headers, then nothing), /steady (2,000 bytes a second), /gzip (a gzip body, whatever
was asked for), /redirect?to=URL (302); POST /echo (the body back, 201) or to the three paced paths.
Every request is recorded with its headers, even when the server answers 404."""

from __future__ import annotations

import gzip
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

GZIPPED = gzip.compress(b"\0" * 1_000_000)  # 1 MB of zeros in about a kilobyte


@dataclass
class Asked:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebStub:
    host: str = "127.0.0.1"
    port: int = 0
    files: dict[str, bytes] = field(default_factory=dict)
    asked: list[Asked] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    tls: ssl.SSLContext | None = None  # serve HTTPS with this context
    sni: list[str | None] = field(default_factory=list)  # the server names TLS clients asked for

    def __post_init__(self) -> None:
        server = _IPv6Server if ":" in self.host else ThreadingHTTPServer
        self._server = server((self.host, self.port), _handler(self))
        self.port = self._server.server_address[1]
        if self.tls is not None:
            self.tls.sni_callback = self._saw_sni
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _saw_sni(self, _socket: ssl.SSLObject, name: str | None, _context: ssl.SSLContext) -> None:
        self.sni.append(name)

    def url(self, path: str, host: str | None = None) -> str:
        scheme = "http" if self.tls is None else "https"
        host = host or self.host
        return f"{scheme}://{f'[{host}]' if ':' in host else host}:{self.port}{path}"

    def close(self) -> None:
        self.stop.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WebStub:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def _handler(stub: WebStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._record(b"")
            parts = urlsplit(self.path)
            if parts.path.startswith("/file/") and parts.path.removeprefix("/file/") in stub.files:
                self._send(200, stub.files[parts.path.removeprefix("/file/")])
            elif parts.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", parse_qs(parts.query)["to"][0])
                self.end_headers()
            elif parts.path == "/gzip":
                self._send(200, GZIPPED, ("Content-Encoding", "gzip"))
            elif parts.path in ("/trickle", "/silent", "/steady"):
                self._drip(parts.path)
            else:
                self._send(404, b"no such thing")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self._record(body)
            if self.path == "/echo":
                self._send(201, b"got " + body)
            elif self.path in ("/trickle", "/silent", "/steady"):
                self._drip(self.path)
            else:
                self._send(404, b"no such thing")

        def _drip(self, path: str) -> None:
            """Headers for a megabyte, then the bytes at the path's pace until the client leaves."""
            self.send_response(200)
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            piece, every = {"/trickle": (1, 1.0), "/silent": (0, 0.1), "/steady": (200, 0.1)}[path]
            try:
                while not stub.stop.wait(every):
                    self.wfile.write(b"x" * piece)
                    self.wfile.flush()
            except OSError:
                pass  # the client hung up: what the tests want

        def _send(self, status: int, body: bytes, *header: tuple[str, str]) -> None:
            self.send_response(status)
            for name, value in header:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _record(self, body: bytes) -> None:
            stub.asked.append(Asked(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


def wait_for(condition: Any, timeout_s: float = 10.0) -> None:
    """Wait until ``condition()`` holds (a server thread's side of a test), or fail."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.02)
