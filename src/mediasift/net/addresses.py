"""Which addresses a fetch may reach: a host name made valid for DNS, resolved once, and each of its
addresses judged, IPv4 addresses wrapped in IPv6 (NAT64, 6to4, IPv4-mapped and -compatible, Teredo)
by the IPv4 address inside. The fetch then connects to these addresses and no others, so a name that
answers differently the second time (DNS rebinding) cannot move it."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable

from mediasift.net.errors import Unacceptable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses to try, in order (socket.getaddrinfo's by default)
Resolver = Callable[[str, int], list[str]]

NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the last 32 bits
LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215, an operator's own NAT64 prefix
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d (:: and ::1 are in it too)
# A DNS label: letters, digits, hyphens inside, at most 63 (underscores are in real names too).
LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives, in its order, each once."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Unacceptable(f"cannot resolve host {host!r}: {exc.strerror}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def dns_name(host: str) -> str:
    """``host`` as it goes into DNS, the Host header and TLS: an IP address in its usual form, or a
    name in lower-case ASCII (IDNA) without the root's dot, labels of 1 to 63 characters, 253 in all.
    Anything else is :class:`Unacceptable`, never a ``UnicodeError`` from deeper down."""
    literal = ip_literal(host)
    if literal is not None:
        return str(literal)
    try:
        name = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise Unacceptable(f"not a valid host name: {host[:100]!r}") from None
    name = name.removesuffix(".")  # the root: "example.com." is example.com
    labels = name.split(".")
    if len(name) > 253 or not all(LABEL.fullmatch(label) for label in labels):
        raise Unacceptable(f"not a valid host name: {host[:100]!r}")
    return name


def ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses that traffic to ``address`` reaches through a translator or a tunnel.
    A local NAT64 prefix (64:ff9b:1::/48) may hold the IPv4 address after its 48 bits (RFC 6052) or
    in the last 32 bits (a /96 inside it): bits set in a place give that place's reading, and an
    address with bits in both places gives both, each judged. (An operator's /56 or /64 inside it is
    read as one of these two.)"""
    value = int(address)
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        return list(address.teredo)  # the relay and the client behind it
    if address in NAT64 or (address in IPV4_COMPATIBLE and value > 1):  # :: and ::1 are judged as such
        return [ipaddress.IPv4Address(value & 0xFFFFFFFF)]
    if address in LOCAL_NAT64:
        middle, last = (value >> 32) & (2**48 - 1), value & 0xFFFFFFFF
        found = []
        if middle:  # a /48 layout: bits 48-63, then 72-87 past the u octet
            found.append(ipaddress.IPv4Address((((value >> 64) & 0xFFFF) << 16) | ((value >> 40) & 0xFFFF)))
        if last or not middle:  # a /96 inside the prefix
            found.append(ipaddress.IPv4Address(last))
        return found
    return []


def why_not_public(address: IPAddress) -> str:
    """Why ``address`` is not a public unicast address ("" when it is)."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner:
            reasons = [f"it carries {v4}, which is {why}" for v4 in inner if (why := why_not_public(v4))]
            return "; ".join(reasons)
    for flag in ("is_unspecified", "is_loopback", "is_link_local", "is_multicast", "is_private", "is_reserved"):
        if getattr(address, flag):
            return flag.removeprefix("is_").replace("_", "-")
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "site-local"
    return "" if address.is_global else "not global"


def reachable(host: str, port: int, resolver: Resolver, *, check: bool) -> list[str]:
    """The addresses to connect to for ``host`` (a :func:`dns_name`): the literal itself, or the
    resolver's answer, asked once. With ``check``, any address that is not public refuses them all."""
    literal = ip_literal(host)
    addresses = [host] if literal is not None else resolver(host, port)
    if not addresses:
        raise Unacceptable(f"cannot resolve host {host!r}: no addresses")
    if check:
        for text in addresses:
            address = ipaddress.ip_address(text)
            why = why_not_public(address)
            if why:
                raise Unacceptable(
                    f"{host} resolves to {address}, which is not a public address ({why}; "
                    "MEDIASIFT_URL_FETCH_PRIVATE=1 allows it)"
                )
    return addresses


def check_public(host: str, port: int, resolver: Resolver = system_resolver) -> list[str]:
    """The addresses of ``host``, all of them public, or :class:`Unacceptable` saying which is not."""
    return reachable(dns_name(host), port, resolver, check=True)
