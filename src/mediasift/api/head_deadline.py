"""uvicorn's h11 protocol with a deadline on each request head (request line and headers).

uvicorn (0.54) arms no timer while a request head is being read: its keep-alive timer starts only
when a response is complete, and every byte received cancels it (``data_received`` first calls
``_unset_keepalive_if_required``). So a connection that opens and sends nothing, or a partial
request line, or headers one byte a minute (slowloris), is held open for good, each one a file
descriptor and a protocol object; enough of them exhaust the process. ASGI middleware cannot help:
the app sees a request only once its head is parsed. The httptools protocol has the same gap.

This subclass gives every request head one total deadline, not reset by the bytes that trickle in:
from the moment the connection is made (for its first request) or from the first byte of the next
request (on a kept-alive connection), the head must be complete within ``head_timeout_s``, or the
connection is closed without an answer (as nginx does at ``client_header_timeout``). Once the head
is parsed the deadline is off: bodies (uploads of many gigabytes) and responses (blob downloads)
take as long as they take.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any, ClassVar

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

logger = logging.getLogger(__name__)


def _no_delay(transport: asyncio.Transport) -> None:
    """Send each write at once (``TCP_NODELAY``). asyncio sets it only on sockets whose ``proto`` is
    ``IPPROTO_TCP``, and the listening socket (``socket.create_server``) and so every accepted one
    have proto 0: with Nagle's algorithm on, the body written after the response head waited for the
    client's delayed ACK, 40 ms on every request of a kept-alive connection but the first (measured:
    /healthz 44 ms over one connection, 1 ms on a new one; 1 ms with this)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class HeadDeadlineProtocol(H11Protocol):
    """Closes a connection whose request head is not complete ``head_timeout_s`` after it began.

    Use :func:`head_deadline_protocol` for a class with the timeout set; uvicorn builds one instance
    per connection from the class given as ``Config(http=...)``."""

    head_timeout_s: ClassVar[float] = 10.0

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        _no_delay(transport)
        self._arm_head_deadline()

    def data_received(self, data: bytes) -> None:
        if self._awaiting_head():
            self._arm_head_deadline()  # a no-op when armed already: the deadline is total
        super().data_received(data)
        if not self._awaiting_head():
            self._disarm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        # Always: uvicorn cancels its own keep-alive timer only when ``exc`` is None.
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def _awaiting_head(self) -> bool:
        """Whether the client is (still) to send a request head: h11 leaves IDLE once one is parsed."""
        return self.conn.their_state is h11.IDLE

    def _arm_head_deadline(self) -> None:
        if self._head_deadline is None:
            self._head_deadline = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing():
            logger.debug("closing %s: no complete request head within %.1f s", self.client, self.head_timeout_s)
            self.transport.close()


def head_deadline_protocol(head_timeout_s: float) -> type[HeadDeadlineProtocol]:
    """The protocol class to give uvicorn (``Config(http=...)``) for this head deadline."""
    if head_timeout_s <= 0:
        raise ValueError(f"the request head timeout must be positive, not {head_timeout_s}")
    return type("HeadDeadlineProtocol", (HeadDeadlineProtocol,), {"head_timeout_s": head_timeout_s})
