"""Fetching a URL over real sockets: each name resolved once and the connection made to the address
that was checked (DNS rebinding, redirect hops, TLS for the name), the deadline and the minimum rate
against servers that trickle or go silent, bodies kept as sent, bad hosts refused, and one POST."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mediasift.config import Settings
from mediasift.net import fetch
from mediasift.net.errors import Unacceptable

from support.webstub import GZIPPED, WebStub

ROOT = Path(__file__).parents[2]


class Answers:
    """A resolver stand-in: answers each name from a script, one answer per call (the last repeats),
    and records who asked."""

    def __init__(self, script: dict[str, list[list[str]]] | None = None) -> None:
        self.script = script or {}
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        answers = self.script[host]
        return answers[min(self.asked.count(host), len(answers)) - 1]


@pytest.fixture
def home(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", url_fetch_private=False, url_fetch_allowed_hosts="")


@pytest.fixture
def web() -> Iterator[WebStub]:
    with WebStub(files={"a.txt": b"hello", "b.bin": b"\x01" * 1000}) as stub:
        yield stub


def test_a_name_is_resolved_once_and_the_checked_address_is_the_one_connected_to(
    home: Settings, tmp_path: Path
) -> None:
    """The same port on 127.0.0.1 and 127.0.0.2; the name answers .1 first and .2 after (private
    addresses allowed here, so both pass the check): only .1, the answer that was checked, is asked."""
    with (
        WebStub("127.0.0.1", files={"a.txt": b"first"}) as first,
        WebStub("127.0.0.2", first.port, files={"a.txt": b"second"}) as second,
    ):
        answers = Answers({"media.example": [["127.0.0.1"], ["127.0.0.2"]]})
        settings = home.model_copy(update={"url_fetch_private": True})
        got = fetch.download(first.url("/file/a.txt", "media.example"), settings, tmp_path / "a", resolver=answers)
        assert (tmp_path / "a").read_bytes() == b"first" and got.size == 5
        assert answers.asked == ["media.example"]
        assert [a.headers["host"] for a in first.asked] == [f"media.example:{first.port}"]
        assert second.asked == []


@pytest.mark.skipif(not (shutil.which("unshare") and shutil.which("ip")), reason="needs unshare and ip (util-linux)")
def test_dns_rebinding_to_loopback_never_reaches_loopback() -> None:
    """The attack itself, against a public address: the name answers 1.2.3.4 (a public address put on
        the loopback of a network namespace of the test's own) first and 127.0.0.1 after. The fetch gets
        the public site's bytes; the internal site on 127.0.0.1 is never asked. A name answering both at
    once is refused before either is asked."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT / 'tests'}"}
    script = [sys.executable, str(ROOT / "tests" / "support" / "rebinding.py")]
    run = subprocess.run(["unshare", "-rn", *script], env=env, capture_output=True, text=True, timeout=60)
    if run.returncode and "unshare failed" in run.stderr:
        pytest.skip(f"no network namespaces here: {run.stderr.strip()}")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["fetched"] == "public" and report["resolver_asked"] == ["rebind.example"]
    assert [path for path, _ in report["public_asked"]] == ["/file/a.txt"]
    assert report["public_asked"][0][1].startswith("rebind.example:")
    assert "127.0.0.1, which is not a public address" in report["both_refused"]
    assert report["public_asked_after_both"] == 1 and report["internal_asked"] == []


def test_each_redirect_hop_is_resolved_and_checked(home: Settings, web: WebStub, tmp_path: Path) -> None:
    """A trusted name skips the check but its redirect to another name does not; a redirect to a name
    that rebinds between the check and a second lookup is connected to its checked answer only."""
    answers = Answers({"media.example": [["127.0.0.1"]], "inside.example": [["127.0.0.9"]]})
    trusting = home.model_copy(update={"url_fetch_allowed_hosts": "media.example"})
    onward = web.url("/file/a.txt", "inside.example")
    with pytest.raises(Unacceptable, match=r"inside\.example resolves to 127\.0\.0\.9"):
        fetch.download(web.url(f"/redirect?to={onward}", "media.example"), trusting, tmp_path / "a", resolver=answers)
    assert [a.path for a in web.asked] == [f"/redirect?to={onward}"]
    assert answers.asked == ["media.example", "inside.example"]

    answers = Answers({"media.example": [["127.0.0.1"]], "other.example": [["127.0.0.1"], ["127.0.0.9"]]})
    onward = web.url("/file/a.txt", "other.example")
    trusting = home.model_copy(update={"url_fetch_allowed_hosts": "media.example,other.example"})
    got = fetch.download(web.url(f"/redirect?to={onward}", "media.example"), trusting, tmp_path / "b", resolver=answers)
    assert got.url == onward and (tmp_path / "b").read_bytes() == b"hello"
    assert answers.asked == ["media.example", "other.example"]


def _certificate(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for ``name`` (and its key), made with the openssl command."""
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", f"/CN={name}",
         "-addext", f"subjectAltName=DNS:{name}"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.mark.skipif(not shutil.which("openssl"), reason="needs the openssl command")
def test_tls_checks_the_name_while_connecting_to_its_checked_address(home: Settings, tmp_path: Path) -> None:
    """HTTPS to media.example pinned to 127.0.0.1: SNI and the certificate check are for the name
    (so a certificate for another name fails), the socket goes to the address."""
    cert, key = _certificate(tmp_path, "media.example")
    served = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    served.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))
    settings = home.model_copy(update={"url_fetch_private": True})
    answers = Answers({"media.example": [["127.0.0.1"]], "other.example": [["127.0.0.1"]]})
    with WebStub(files={"a.txt": b"secret"}, tls=served) as web:
        got = fetch.download(
            web.url("/file/a.txt", "media.example"), settings, tmp_path / "a", resolver=answers, ssl_context=trusting
        )
        assert (tmp_path / "a").read_bytes() == b"secret" and got.url.startswith("https://media.example:")
        assert web.sni == ["media.example"] and web.asked[0].headers["host"] == f"media.example:{web.port}"
        other = web.url("/file/a.txt", "other.example")
        with pytest.raises(Unacceptable, match=r"Hostname mismatch, certificate is not valid for 'other\.example'"):
            fetch.download(other, settings, tmp_path / "b", resolver=answers, ssl_context=trusting)
        with pytest.raises(Unacceptable, match="CERTIFICATE_VERIFY_FAILED"):  # the system's CAs do not know it
            fetch.download(web.url("/file/a.txt", "media.example"), settings, tmp_path / "c", resolver=answers)
        assert len(web.asked) == 1


def _paced(home: Settings, **update: float) -> Settings:
    return home.model_copy(update={"url_fetch_private": True, **update})


def test_a_server_that_sends_a_byte_a_second_is_cut_off(home: Settings, web: WebStub, tmp_path: Path) -> None:
    settings = _paced(home, url_fetch_min_bytes_per_s=100, url_fetch_rate_grace_s=2, url_fetch_rate_window_s=1)
    started = time.monotonic()
    with pytest.raises(Unacceptable, match=r"bytes in the last 1 s, slower than the minimum of 100 bytes/s"):
        fetch.download(web.url("/trickle"), settings, tmp_path / "a")
    assert 2 <= time.monotonic() - started < 4
    # 2,000 bytes a second is above that minimum: only the deadline stops it, at the deadline
    settings = _paced(home, url_fetch_min_bytes_per_s=1000, url_fetch_rate_grace_s=1, url_fetch_rate_window_s=1,
                      url_fetch_deadline_s=3)  # fmt: skip
    started = time.monotonic()
    with pytest.raises(Unacceptable, match=r"took longer than 3 s \(MEDIASIFT_URL_FETCH_DEADLINE_S\)"):
        fetch.download(web.url("/steady"), settings, tmp_path / "b")
    assert 3 <= time.monotonic() - started < 4.5
    assert (tmp_path / "b").stat().st_size >= 4000


def test_the_deadline_cuts_a_silent_server_before_the_timeout_between_bytes(
    home: Settings, web: WebStub, tmp_path: Path
) -> None:
    settings = _paced(home, url_fetch_deadline_s=1.5, url_fetch_timeout_s=60, url_fetch_min_bytes_per_s=0)
    started = time.monotonic()
    with pytest.raises(Unacceptable, match=r"took longer than 1\.5 s"):
        fetch.download(web.url("/silent"), settings, tmp_path / "a")
    assert time.monotonic() - started < 2.5
    # the timeout between bytes still applies on its own
    settings = _paced(home, url_fetch_deadline_s=60, url_fetch_timeout_s=1, url_fetch_min_bytes_per_s=0)
    with pytest.raises(Unacceptable, match="ReadTimeout: nothing arrived for 1 s"):
        fetch.download(web.url("/silent"), settings, tmp_path / "b")


def test_an_ipv6_address_is_fetched_with_brackets_in_its_host_header(home: Settings, tmp_path: Path) -> None:
    try:
        stub = WebStub("::1", files={"a.txt": b"six"})
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with stub:
        with pytest.raises(Unacceptable, match=r"::1 resolves to ::1, which is not a public address \(loopback"):
            fetch.download(stub.url("/file/a.txt"), home, tmp_path / "a")
        got = fetch.download(stub.url("/file/a.txt"), _paced(home), tmp_path / "a")
        assert got.url == f"http://[::1]:{stub.port}/file/a.txt" and (tmp_path / "a").read_bytes() == b"six"
        assert [a.headers["host"] for a in stub.asked] == [f"[::1]:{stub.port}"]


def test_a_compressed_body_is_asked_against_and_kept_as_sent(home: Settings, web: WebStub, tmp_path: Path) -> None:
    """The server compresses anyway: the file holds the gzip bytes, and the size limit counts those."""
    settings = _paced(home, max_file_bytes=len(GZIPPED))
    got = fetch.download(web.url("/gzip"), settings, tmp_path / "a")
    assert web.asked[0].headers["accept-encoding"] == "identity"
    assert (tmp_path / "a").read_bytes() == GZIPPED and got.size == len(GZIPPED)
    with pytest.raises(Unacceptable, match="larger than the limit") as refused:
        fetch.download(web.url("/gzip"), _paced(home, max_file_bytes=len(GZIPPED) - 1), tmp_path / "b")
    assert refused.value.status == 413


def test_size_limits_redirects_and_names_are_kept(home: Settings, web: WebStub, tmp_path: Path) -> None:
    got = fetch.download(web.url("/redirect?to=/file/b.bin"), _paced(home, max_file_bytes=1000), tmp_path / "a")
    assert got.size == 1000 and got.name == "b.bin" and got.url == web.url("/file/b.bin")
    with pytest.raises(Unacceptable, match="larger than the limit of 999 bytes"):
        fetch.download(web.url("/file/b.bin"), _paced(home, max_file_bytes=999), tmp_path / "b")
    loop = web.url("/redirect?to=/redirect%3Fto%3D/file/a.txt")
    with pytest.raises(Unacceptable, match="more than 1 redirects"):
        fetch.download(loop, _paced(home, url_fetch_max_redirects=1), tmp_path / "c")
    assert fetch.download(loop, _paced(home, url_fetch_max_redirects=2), tmp_path / "d").size == 5
    with pytest.raises(Unacceptable, match="answered HTTP 404 Not Found"):
        fetch.download(web.url("/nothing"), _paced(home), tmp_path / "e")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://" + "a" * 300 + ".example/x", "not a valid host name"),
        ("http://" + "a" * 64 + ".example/x", "not a valid host name"),
        ("http://" + ".".join(["a" * 63] * 3 + ["a" * 62]) + "/x", "not a valid host name"),  # 254 characters
        ("http://exa mple.com/x", "not a valid host name"),
        ("http://a..b/x", "not a valid host name"),
        ("http://%31%32%37.0.0.1/x", "not a valid host name"),
        ("http://[::1/x", "not a valid URL"),
        ("http://127.0.0.1:99999/x", "not a valid port"),
        ("ftp://example.com/x", "not an http or https URL"),
        ("http:///x", "not an http or https URL"),
    ],
)
def test_invalid_urls_are_unacceptable_not_errors(home: Settings, tmp_path: Path, url: str, why: str) -> None:
    with pytest.raises(Unacceptable, match=why) as refused:
        fetch.download(url, home, tmp_path / "a", resolver=Answers())
    assert refused.value.status == 422


def test_names_at_the_length_limits_are_resolved(home: Settings, tmp_path: Path) -> None:
    """63-character labels and 253 characters in all are valid names: they reach the resolver."""
    for host in ("a" * 63 + ".example", ".".join(["a" * 63] * 3 + ["a" * 61]), "bücher.example"):
        answers = Answers({name: [["127.0.0.1"]] for name in (host, "xn--bcher-kva.example")})
        with pytest.raises(Unacceptable, match="not a public address"):
            fetch.download(f"http://{host}/x", home, tmp_path / "a", resolver=answers)
        assert answers.asked in ([host], ["xn--bcher-kva.example"])


def test_a_post_goes_through_the_same_checks_and_its_answer_is_bounded(
    home: Settings, web: WebStub, tmp_path: Path
) -> None:
    answers = Answers({"hooks.example": [["127.0.0.1"]]})
    url = web.url("/echo", "hooks.example")
    with pytest.raises(Unacceptable, match="not a public address"):
        fetch.send("POST", url, b"{}", {}, home, timeout_s=5, resolver=answers)
    assert web.asked == []
    allowed = home.model_copy(update={"url_fetch_private": True})
    headers = {"Content-Type": "application/json", "Host": "elsewhere.example"}
    reply = fetch.send("post", url, b'{"event": "done"}', headers, allowed, timeout_s=5, resolver=answers)
    assert reply.status == 201 and reply.body == b'got {"event": "done"}' and not reply.truncated
    (asked,) = web.asked
    assert asked.method == "POST" and asked.body == b'{"event": "done"}'
    assert asked.headers["host"] == f"hooks.example:{web.port}" and asked.headers["content-type"] == "application/json"
    short = fetch.send("POST", url, b"0123456789", {}, allowed, timeout_s=5, max_reply_bytes=8, resolver=answers)
    assert short.body == b"got 0123" and short.truncated
    started = time.monotonic()
    with pytest.raises(Unacceptable, match="took longer than 1 s"):
        fetch.send("POST", web.url("/silent"), b"", {}, allowed, timeout_s=1)
    assert time.monotonic() - started < 2
