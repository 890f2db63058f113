"""Running the HTTP API: uvicorn with the timeouts and limits ``Settings`` give.

- every request head must arrive within ``api_header_timeout_s`` (:mod:`.head_deadline`; uvicorn
  itself has no such timeout),
- an idle kept-alive connection is closed after ``api_keepalive_timeout_s``,
- at most ``api_max_concurrency`` requests are handled at once, the rest get 503 (:mod:`.concurrency`),
- on shutdown, requests in flight get ``api_shutdown_grace_s`` to finish before they are cancelled.

:func:`serve` runs in the main thread, where uvicorn handles SIGTERM/SIGINT itself (``mediasift
serve``); :class:`ApiThread` runs beside other work in the same process (``mediasift up``), stopped
by the caller's own signal handling.
"""

from __future__ import annotations

import gc
import socket
import threading
import time
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp

from mediasift.api.concurrency import ConcurrencyLimit
from mediasift.api.head_deadline import head_deadline_protocol
from mediasift.config import Settings

STARTUP_TIMEOUT_S = 60.0


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (0: any free port). Raises OSError (port taken, no such
    address) here, in the caller, rather than inside the server."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=2048)


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def api_server(app: ASGIApp, settings: Settings) -> uvicorn.Server:
    """A uvicorn server for ``app`` (run it on a socket from :func:`bind`)."""
    config = uvicorn.Config(
        ConcurrencyLimit(app, settings.api_max_concurrency),
        http=head_deadline_protocol(settings.api_header_timeout_s),
        timeout_keep_alive=settings.api_keepalive_timeout_s,
        timeout_graceful_shutdown=settings.api_shutdown_grace_s,
        log_level="warning",
    )
    return uvicorn.Server(config)


def serve(app: ASGIApp, settings: Settings, sock: socket.socket) -> None:
    """Serve ``app`` on ``sock`` until SIGTERM/SIGINT; call from the main thread.

    What the process made to get here (the app, its imports) lives as long as it does: collected once
    and frozen, the cyclic collector stops walking it with every full collection, which otherwise
    paused a request now and then (as the models a process loads are, :mod:`mediasift.inference.registry`)."""
    gc.collect()
    gc.freeze()
    api_server(app, settings).run(sockets=[sock])


class ApiThread:
    """The API served on a thread of this process, as a context manager: started (listening and past
    the app's startup) on entry, shut down gracefully on exit or by :meth:`stop`.

    Signals stay with the main thread (uvicorn handles them only there): its handler calls
    :meth:`stop`, which is safe from a signal handler (it sets a flag the server polls every 0.1 s)."""

    def __init__(self, app: ASGIApp, settings: Settings, sock: socket.socket) -> None:
        self.server = api_server(app, settings)
        self.url = url_of(sock)
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, name="http-api")

    def __enter__(self) -> ApiThread:
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                self._thread.join()
                raise RuntimeError("the HTTP API did not start (its startup failed or took over a minute)")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
        self._thread.join()
