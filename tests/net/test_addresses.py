"""The address check: every form of IPv4 inside IPv6 judged by the IPv4 address it carries, the
special ranges refused, and host names made valid for DNS or refused with a reason."""

from __future__ import annotations

import ipaddress

import pytest

from mediasift.net.addresses import check_public, dns_name, embedded_ipv4, why_not_public
from mediasift.net.errors import Unacceptable

# (the wrapped form, what it carries): each with a loopback or private IPv4 inside, refused ...
WRAPPED_INTERNAL = [
    ("::ffff:127.0.0.1", "127.0.0.1"),  # IPv4-mapped
    ("::ffff:10.0.0.1", "10.0.0.1"),
    ("::127.0.0.1", "127.0.0.1"),  # IPv4-compatible
    ("64:ff9b::a9fe:a9fe", "169.254.169.254"),  # NAT64, the cloud metadata address
    ("64:ff9b::7f00:1", "127.0.0.1"),
    ("64:ff9b:1::7f00:1", "127.0.0.1"),  # a local NAT64 /96
    ("64:ff9b:1:7f00:0:100::", "127.0.0.1"),  # a local NAT64 /48 (RFC 6052: bits 48-63 and 72-87)
    ("64:ff9b:1:808:8:800:7f00:1", "127.0.0.1"),  # 8.8.8.8 read as a /48, 127.0.0.1 as a /96: both judged
    ("2002:7f00:1::", "127.0.0.1"),  # 6to4
    ("2002:c0a8:101::1", "192.168.1.1"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "127.0.0.1"),  # Teredo: the client, inverted
]
# ... and the same forms carrying a public IPv4 address, allowed.
WRAPPED_PUBLIC = [
    ("::ffff:8.8.8.8", "8.8.8.8"),
    ("::8.8.8.8", "8.8.8.8"),
    ("64:ff9b::808:808", "8.8.8.8"),
    ("64:ff9b:1::808:808", "8.8.8.8"),
    ("64:ff9b:1:808:8:800::", "8.8.8.8"),
    ("2002:808:808::1", "8.8.8.8"),
    ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", "8.8.8.8"),
]


@pytest.mark.parametrize(("address", "inside"), WRAPPED_INTERNAL)
def test_ipv4_inside_ipv6_is_judged_by_what_it_carries(address: str, inside: str) -> None:
    assert ipaddress.IPv4Address(inside) in embedded_ipv4(ipaddress.IPv6Address(address))
    assert f"it carries {inside}" in why_not_public(ipaddress.ip_address(address))
    with pytest.raises(Unacceptable, match="not a public address"):
        check_public("wrapped.example", 80, lambda host, port: [address])


@pytest.mark.parametrize(("address", "inside"), WRAPPED_PUBLIC)
def test_a_public_ipv4_inside_ipv6_is_allowed(address: str, inside: str) -> None:
    assert ipaddress.IPv4Address(inside) in embedded_ipv4(ipaddress.IPv6Address(address))
    assert why_not_public(ipaddress.ip_address(address)) == ""
    assert check_public("wrapped.example", 80, lambda host, port: [address]) == [address]


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("169.254.169.254", "link-local"),
        ("224.0.0.1", "multicast"),  # ipaddress calls it global
        ("240.0.0.1", "private"),  # reserved, and in ipaddress's private list
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "not global"),  # carrier-grade NAT
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1%eth0", "link-local"),
        ("fc00::1", "private"),
        ("ff02::1", "multicast"),
        ("2001:db8::1", "private"),  # documentation
        ("fec0::1", "site-local"),
    ],
)
def test_special_addresses_are_refused_with_the_reason(address: str, why: str) -> None:
    assert why_not_public(ipaddress.ip_address(address)) == why


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e"])
def test_public_addresses_pass(address: str) -> None:
    assert why_not_public(ipaddress.ip_address(address)) == ""


def test_every_address_of_an_answer_is_checked() -> None:
    with pytest.raises(Unacceptable, match=r"127\.0\.0\.1, which is not a public address \(loopback"):
        check_public("media.example", 80, lambda host, port: ["8.8.8.8", "127.0.0.1"])
    assert check_public("media.example", 80, lambda host, port: ["8.8.8.8", "1.1.1.1"]) == ["8.8.8.8", "1.1.1.1"]
    assert check_public("8.8.8.8", 80, lambda host, port: []) == ["8.8.8.8"], "a literal asks no resolver"
    with pytest.raises(Unacceptable, match="no addresses"):
        check_public("media.example", 80, lambda host, port: [])


def test_host_names_are_made_valid_for_dns_or_refused() -> None:
    assert dns_name("Media.Example.") == "media.example"
    assert dns_name("bücher.example") == "xn--bcher-kva.example"
    assert dns_name("a" * 63 + ".example") == "a" * 63 + ".example"
    assert dns_name("0:0:0:0:0:0:0:1") == "::1"
    for bad in ("a" * 64 + ".example", "a" * 300, "a..b", "exa mple.example", "-a.example", "a%2eb", "x" * 254):
        with pytest.raises(Unacceptable, match="not a valid host name"):
            dns_name(bad)
    assert dns_name(".".join(["a" * 63] * 3 + ["a" * 61])) != "", "253 characters is the most a name may have"
