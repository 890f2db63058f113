"""A local server that speaks the OpenAI HTTP protocol for ``/v1/embeddings`` and
``/v1/chat/completions``, for tests of the remote model client (no real endpoint is reachable here).

Its normal answers are checkable: an embedding is derived from the text's hash (same text, same
vector), and a chat answer about an image names the image's dominant colour and size, computed from
the pixels it was sent. Tests script what the next requests get (:meth:`StandIn.script`): an error
status with headers (429 with ``Retry-After``), a slow answer, a body that is not the protocol's.
Every request is recorded with its arrival time, headers and JSON body.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
from PIL import Image

COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 170, 50),
    "blue": (30, 60, 220),
    "yellow": (235, 220, 40),
    "white": (245, 245, 245),
    "black": (10, 10, 10),
    "grey": (128, 128, 128),
}


@dataclass(frozen=True)
class Reply:
    """What one request gets. ``body`` None means the normal answer (after ``delay_s``)."""

    status: int = 200
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    content_type: str = "application/json"

    @staticmethod
    def error(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
        body = json.dumps({"error": {"message": message, "type": "test", "code": status}}).encode()
        return Reply(status=status, body=body, headers=headers or {})

    @staticmethod
    def rate_limited(retry_after: str) -> Reply:
        return Reply.error(429, "Rate limit reached, slow down", {"Retry-After": retry_after})

    @staticmethod
    def json(payload: Any) -> Reply:
        return Reply(body=json.dumps(payload).encode())


@dataclass(frozen=True)
class Received:
    path: str
    at: float  # time.monotonic() when the request arrived
    authorization: str | None
    body: Any


def dominant_colour(image: bytes) -> tuple[str, int, int]:
    """The named colour nearest the image's mean colour, and its width and height."""
    with Image.open(io.BytesIO(image)) as picture:
        pixels = np.asarray(picture.convert("RGB"), dtype=np.float64)
    mean = pixels.reshape(-1, 3).mean(axis=0)
    name = min(COLOURS, key=lambda c: float(np.sum((np.array(COLOURS[c]) - mean) ** 2)))
    return name, pixels.shape[1], pixels.shape[0]


def text_embedding(text: str, dim: int) -> list[float]:
    """A deterministic vector for ``text`` (the same text always gets the same one)."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
    return [round(float(x), 6) for x in np.random.default_rng(seed).standard_normal(dim)]


def _image_of(messages: list[dict[str, Any]]) -> bytes | None:
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            for part in content:
                if part.get("type") == "image_url":
                    url = part["image_url"]["url"]
                    return base64.b64decode(url.split(",", 1)[1])
    return None


def _texts_of(messages: list[dict[str, Any]]) -> list[str]:
    texts = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.extend(p["text"] for p in content if p.get("type") == "text")
    return texts


class StandIn:
    """The server, on 127.0.0.1 at a free port, answering from its own threads."""

    def __init__(self, api_key: str = "sk-standin", dim: int = 16) -> None:
        self.api_key = api_key
        self.dim = dim
        self.received: list[Received] = []
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="openai-standin", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> StandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def script(self, *replies: Reply) -> None:
        """The next requests get these replies, in order; after them, normal answers again."""
        with self._lock:
            self._replies.extend(replies)

    def requests(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.received if path is None or r.path == path]

    # -- answering ----------------------------------------------------------------------------------

    def _next_reply(self, received: Received) -> Reply:
        with self._lock:
            self.received.append(received)
            return self._replies.popleft() if self._replies else Reply()

    def answer(self, path: str, body: Any) -> tuple[int, Any]:
        if path == "/v1/embeddings":
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            return 200, {
                "object": "list",
                "model": body["model"],
                "data": [
                    {"object": "embedding", "index": i, "embedding": text_embedding(t, self.dim)}
                    for i, t in enumerate(texts)
                ],
                "usage": {"prompt_tokens": sum(len(t) // 4 + 1 for t in texts), "total_tokens": 0},
            }
        if path == "/v1/chat/completions":
            image = _image_of(body["messages"])
            texts = _texts_of(body["messages"])
            if image is None:
                text = "You asked: " + texts[-1]
            else:
                colour, width, height = dominant_colour(image)
                text = f"A picture that is mostly {colour}, {width} by {height} pixels."
            prompt_tokens = sum(len(t) // 4 + 1 for t in texts) + (85 if image is not None else 0)
            completion_tokens = len(text) // 4 + 1
            return 200, {
                "id": "chatcmpl-standin",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        return 404, {"error": {"message": f"no route {path}", "type": "invalid_request_error"}}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                arrived = time.monotonic()
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                auth = self.headers.get("Authorization")
                reply = standin._next_reply(Received(self.path, arrived, auth, body))
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                status, headers, content_type = reply.status, reply.headers, reply.content_type
                if reply.body is not None:
                    payload = reply.body
                elif standin.api_key and auth != f"Bearer {standin.api_key}":
                    status, payload = 401, json.dumps({"error": {"message": "Incorrect API key provided"}}).encode()
                elif body is None:
                    status, payload = 400, json.dumps({"error": {"message": "the body is not JSON"}}).encode()
                else:
                    status, answer = standin.answer(self.path, body)
                    payload = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test)

        return Handler
