"""HTTP to a URL a user gave, through one checked path: each hop's host made valid, resolved once and
(unless trusted or ``url_fetch_private``) refused when any address is not public, then connected to
those addresses only (:mod:`mediasift.net.pinned`), within the fetch's deadline and minimum rate.
Bodies are asked for and kept as sent (``Accept-Encoding: identity``; nothing is decompressed), so a
size limit counts the bytes that arrive.

:func:`download` follows redirects and writes the body to a file (ingest from a URL); :func:`send`
sends one request with a body and returns the status and the start of the answer (webhooks)."""

from __future__ import annotations

import base64
import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urljoin, urlsplit

import httpcore

from mediasift.config import Settings
from mediasift.net.addresses import Resolver, dns_name, reachable, system_resolver
from mediasift.net.errors import Unacceptable, too_large
from mediasift.net.pace import Pace
from mediasift.net.pinned import PinnedBackend

USER_AGENT = "mediasift"
DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECTS = frozenset({301, 302, 303, 307, 308})
# What may stay unescaped in a path and a query (RFC 3986 pchar; "%" keeps escapes already made).
PATH_SAFE = "/%:@!$&'()*+,;=-._~"
QUERY_SAFE = PATH_SAFE + "?"
# What goes wrong on the wire, said as "cannot fetch".
WIRE_ERRORS = (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol)


@dataclass(frozen=True)
class Downloaded:
    url: str  # where the bytes finally came from, after redirects
    name: str  # the name the server suggests (Content-Disposition, else the path's last part), unchecked
    size: int  # bytes written


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes  # the start of the answer, at most the bytes asked for
    truncated: bool  # the answer went on past that


@dataclass(frozen=True)
class Hop:
    """One URL of a fetch, parsed and made valid: every later step uses these parts."""

    url: str
    scheme: str
    host: str  # an IP address or a lower-case ASCII name (addresses.dns_name)
    port: int
    target: str  # the path and query, percent-encoded
    authorization: str | None  # Basic credentials from the URL's user information, if any

    @classmethod
    def parse(cls, url: str) -> Hop:
        try:
            parts = urlsplit(url)
        except ValueError as exc:  # a bracketed host that is not an IPv6 address
            raise Unacceptable(f"not a valid URL {url[:200]!r}: {exc}") from None
        try:
            port = parts.port  # read only when asked, and refused when out of range
        except ValueError:
            raise Unacceptable(f"not a valid port in {url[:200]!r}") from None
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise Unacceptable(f"not an http or https URL: {url[:200]!r}")
        target = quote(parts.path or "/", safe=PATH_SAFE)
        if parts.query:
            target += "?" + quote(parts.query, safe=QUERY_SAFE)
        authorization = None
        if parts.username is not None:
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            authorization = "Basic " + base64.b64encode(credentials).decode()
        return cls(
            url=url,
            scheme=parts.scheme,
            host=dns_name(parts.hostname),
            port=DEFAULT_PORTS[parts.scheme] if port is None else port,
            target=target,
            authorization=authorization,
        )

    @property
    def authority(self) -> str:
        """The Host header: the name (an IPv6 address in brackets), and the port unless the default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def download(
    url: str,
    settings: Settings,
    target: Path,
    *,
    resolver: Resolver = system_resolver,
    ssl_context: ssl.SSLContext | None = None,
) -> Downloaded:
    """GET ``url`` into the file ``target``, redirects followed (each hop checked), within
    ``url_fetch_deadline_s`` and ``url_fetch_min_bytes_per_s``, at most ``max_file_bytes`` (413)."""
    limit = settings.max_file_bytes
    pace = Pace.of(settings)
    for _ in range(settings.url_fetch_max_redirects + 1):
        hop = Hop.parse(url)
        with _exchange(hop, "GET", None, {}, settings, pace, resolver, ssl_context) as response:
            location = _header(response, "location")
            if response.status in REDIRECTS and location:
                url = urljoin(url, location)
                continue
            if response.status != 200:
                reason = response.extensions.get("reason_phrase", b"").decode("latin-1")
                raise Unacceptable(f"{url} answered HTTP {response.status} {reason}".rstrip())
            declared = _header(response, "content-length") or ""
            if declared.isdigit() and int(declared) > limit:
                raise too_large(limit)
            written = 0
            with target.open("wb") as out:
                for chunk in response.iter_stream():
                    written += len(chunk)
                    if written > limit:
                        raise too_large(limit)
                    out.write(chunk)
            return Downloaded(url=url, name=_suggested_name(response, hop), size=written)
    raise Unacceptable(f"more than {settings.url_fetch_max_redirects} redirects from {url}")


def send(
    method: str,
    url: str,
    body: bytes,
    headers: dict[str, str],
    settings: Settings,
    *,
    timeout_s: float,
    max_reply_bytes: int = 64 * 1024,
    resolver: Resolver = system_resolver,
    ssl_context: ssl.SSLContext | None = None,
) -> Reply:
    """Send one request with ``body`` (a webhook's POST) through the same checks, all within
    ``timeout_s``; the reply's status and at most ``max_reply_bytes`` of its body. A redirect is
    returned as it is, not followed: a request with a body is not sent on to somewhere else."""
    pace = Pace(deadline_s=timeout_s)
    hop = Hop.parse(url)
    with _exchange(hop, method.upper(), body, headers, settings, pace, resolver, ssl_context) as response:
        start = bytearray()
        for chunk in response.iter_stream():
            start += chunk
            if len(start) > max_reply_bytes:
                break
    return Reply(status=response.status, body=bytes(start[:max_reply_bytes]), truncated=len(start) > max_reply_bytes)


@contextmanager
def _exchange(
    hop: Hop,
    method: str,
    body: bytes | None,
    headers: dict[str, str],
    settings: Settings,
    pace: Pace,
    resolver: Resolver,
    ssl_context: ssl.SSLContext | None,
) -> Iterator[httpcore.Response]:
    """One request over a connection to the checked addresses of ``hop``; errors on the wire, while
    the caller reads the body too, become :class:`Unacceptable`."""
    trusted = hop.host in settings.url_fetch_trusted
    addresses = reachable(hop.host, hop.port, resolver, check=not (settings.url_fetch_private or trusted))
    ours = {"host", "content-length", "transfer-encoding"}
    sent = {"Accept-Encoding": "identity", "User-Agent": USER_AGENT}
    if hop.authorization:
        sent["Authorization"] = hop.authorization
    sent |= {name: value for name, value in headers.items() if name.lower() not in ours}
    wire = [("Host", hop.authority), *sent.items()]
    if body is not None:
        wire.append(("Content-Length", str(len(body))))
    timeout = min(settings.url_fetch_timeout_s, pace.deadline_s)
    origin = httpcore.Origin(hop.scheme.encode(), hop.host.encode(), hop.port)
    backend = PinnedBackend(hop.host, hop.port, addresses, pace)
    url = httpcore.URL(scheme=hop.scheme, host=hop.host, port=hop.port, target=hop.target)
    extensions = {"timeout": dict.fromkeys(("connect", "read", "write", "pool"), timeout)}
    try:
        with (
            httpcore.HTTPConnection(origin, ssl_context=ssl_context, network_backend=backend) as connection,
            connection.stream(method, url, headers=wire, content=body, extensions=extensions) as response,
        ):
            yield response
    except WIRE_ERRORS as exc:
        raise Unacceptable(f"cannot fetch {hop.url}: {type(exc).__name__}: {exc}") from None


def _header(response: httpcore.Response, name: str) -> str | None:
    """The first header ``name``: UTF-8 where it is (some servers send names so), else Latin-1."""
    wanted = name.encode()
    for key, value in response.headers:
        if key.lower() == wanted:
            try:
                return value.decode()
            except UnicodeDecodeError:
                return value.decode("latin-1")
    return None


def _suggested_name(response: httpcore.Response, hop: Hop) -> str:
    disposition = _header(response, "content-disposition") or ""
    match = re.search(r"filename\*?=(?:UTF-8'')?\"?([^\";]+)", disposition, flags=re.IGNORECASE)
    return unquote(match.group(1)) if match else unquote(hop.target.split("?", 1)[0]).rsplit("/", 1)[-1]
