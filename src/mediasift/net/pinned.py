"""An httpcore network backend that connects one host only to the addresses checked for it, and
paces every byte. httpcore hands the backend the URL's host; the backend never resolves it again, so
the Host header, TLS SNI and the certificate check stay on the name while the socket goes to the
address that was judged."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable
from typing import Any

import httpcore

from mediasift.net.pace import Pace


class PinnedBackend(httpcore.NetworkBackend):
    def __init__(self, host: str, port: int, addresses: list[str], pace: Pace) -> None:
        self.host, self.port, self.addresses, self.pace = host, port, addresses, pace
        self._system = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        """A connection to the first of the checked addresses that answers, in the resolver's order."""
        if (host, port) != (self.host, self.port):
            raise httpcore.ConnectError(f"{host}:{port} is not the host that was checked ({self.host}:{self.port})")
        failure: Exception = httpcore.ConnectError("no address to connect to")
        for address in self.addresses:
            try:
                stream = self._system.connect_tcp(
                    address, port, self.pace.left(timeout), local_address, socket_options or ()
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            return PacedStream(stream, self.pace)
        self.pace.left(None)  # a deadline that cut the last try says so
        raise failure

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class PacedStream(httpcore.NetworkStream):
    """A stream whose reads wake at least every second to judge the fetch's deadline and rate, and
    whose writes end at the deadline. ``timeout`` keeps its meaning: the longest silence allowed."""

    def __init__(self, inner: httpcore.NetworkStream, pace: Pace) -> None:
        self.inner, self.pace = inner, pace

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        silent_until = None if timeout is None else time.monotonic() + timeout
        while True:
            silence_left = None if silent_until is None else silent_until - time.monotonic()
            wait = self.pace.next_wait(silence_left)  # the deadline and the rate are judged first
            if wait <= 0:
                raise httpcore.ReadTimeout(f"nothing arrived for {timeout:g} s")
            try:
                data = self.inner.read(max_bytes, wait)
            except httpcore.ReadTimeout:
                continue  # a wake-up to judge the pace, or the silence is over: the loop says which
            self.pace.got(len(data))
            return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        try:
            self.inner.write(buffer, self.pace.left(timeout))
        except httpcore.WriteTimeout:
            self.pace.left(None)
            raise

    def close(self) -> None:
        self.inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return PacedStream(self.inner.start_tls(ssl_context, server_hostname, self.pace.left(timeout)), self.pace)

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)
