"""A webhook receiver for tests: a real HTTP server on 127.0.0.1 that checks each request's signature
by the Standard Webhooks rules, written here from the specification and not taken from mediasift, and
answers with the status the test sets. It can be stopped and started again on the same port (a
receiver that is down refuses connections)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from support.servers import free_port

TOLERANCE_S = 300  # the specification's replay window


@dataclass(frozen=True)
class Received:
    msg_id: str
    timestamp: int
    body: bytes
    verified: bool  # the signature matched the secret and the timestamp was within the window
    status: int  # what the receiver answered

    @property
    def event(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document


def verify(secret: str, headers: dict[str, str], body: bytes, now: float | None = None) -> bool:
    """The check a receiver makes: HMAC-SHA256 with the base64 key after ``whsec_`` over
    ``id.timestamp.body``, compared in constant time with each ``v1,`` signature given, and a
    timestamp within five minutes of ``now`` (this moment by default)."""
    msg_id, stamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    now = time.time() if now is None else now
    if not msg_id or not stamp.isdigit() or abs(now - int(stamp)) > TOLERANCE_S:
        return False
    key = base64.b64decode(secret.split("_", 1)[1])
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest())
    given = [part.split(",", 1)[1].encode() for part in headers.get("webhook-signature", "").split() if "," in part]
    return any(hmac.compare_digest(expected, signature) for signature in given)


@dataclass
class Receiver:
    secret: str = ""  # set once the webhook is made
    status: int = 200  # what to answer
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _arrived: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self._arrived = threading.Condition(self._lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {name.lower(): value for name, value in self.headers.items()}
                status = receiver.status
                record = Received(
                    msg_id=headers.get("webhook-id", ""),
                    timestamp=int(headers.get("webhook-timestamp", "0") or 0),
                    body=body,
                    verified=verify(receiver.secret, headers, body),
                    status=status,
                )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with receiver._arrived:
                    receiver.received.append(record)
                    receiver._arrived.notify_all()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def delivered(self) -> list[Received]:
        """What was received and answered with a 2xx."""
        with self._lock:
            return [r for r in self.received if 200 <= r.status < 300]

    def wait_for(self, count: int, timeout_s: float) -> list[Received]:
        """Wait until ``count`` requests were answered with a 2xx (or the timeout); return them."""
        deadline = time.monotonic() + timeout_s
        with self._arrived:
            while sum(200 <= r.status < 300 for r in self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._arrived.wait(left)
        return self.delivered()
