"""The web UI treated as hostile ground, over the real app and database (no browser): sessions that
cannot be forged and end with their key, CSRF on every write, no cross-site writes, escaping of what
users wrote, tenants kept apart, redirects that stay on this site, the HTTP API unchanged, and no
server error for junk."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mediasift.api.app import create_app
from mediasift.config import Settings
from mediasift.service import Mediasift

from support import mediagen
from support.apikeys import Keys, bearer, make_keys

HTML = {"Accept": "text/html,application/xhtml+xml"}
HOSTILE = "<img src=x onerror=alert(1)> the orange submarine's log </script><script>alert(2)</script>"


@pytest.fixture
def keys(settings: Settings) -> Keys:
    return make_keys(settings)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), follow_redirects=False) as test_client:
        yield test_client


def sign_in(client: TestClient, key: str, next_: str = "/") -> str:
    """Sign in through the form; the session's CSRF token."""
    form = client.get("/signin")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token, form.text
    answer = client.post("/signin", data={"key": key, "csrf": token.group(1), "next": next_})
    assert answer.status_code == 303, answer.text
    page = client.get("/upload")
    found = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def _ingest_text(settings: Settings, folder: Path, name: str, text: str, tenant: str) -> str:
    system = Mediasift(settings)
    try:
        report = system.ingest([mediagen.make_text_file(folder / name, text)], wait=True, tenant=tenant)
        return str(report.accepted[0].asset_id)
    finally:
        system.close()


def test_a_page_without_a_session_goes_to_sign_in_and_a_script_call_gets_401(client: TestClient) -> None:
    page = client.get("/jobs?cursor=x", headers=HTML)
    assert page.status_code == 303 and page.headers["location"] == "/signin?next=%2Fjobs%3Fcursor%3Dx"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/ops.json").status_code == 401
    assert client.post("/upload", content=b"x").status_code == 401
    signin = client.get("/signin")
    assert signin.status_code == 200 and "frame-ancestors 'none'" in signin.headers["content-security-policy"]
    assert signin.headers["x-frame-options"] == "DENY" and signin.headers["cache-control"] == "no-store"


def test_the_session_cookie_is_signed_http_only_strict_and_holds_no_key(settings: Settings, keys: Keys) -> None:
    for base, secure in (("http://testserver", False), ("https://testserver", True)):
        with TestClient(create_app(settings), base_url=base, follow_redirects=False) as client:
            form = client.get("/signin")
            token = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert token
            answer = client.post("/signin", data={"key": keys.write, "csrf": token.group(1), "next": "/"})
            cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("ms_session="))
            assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
            assert ("Secure" in cookie) is secure
            value = cookie.split(";")[0].removeprefix("ms_session=")
            assert keys.write.split("_", 2)[2] not in value and keys.write not in value  # ms_<id>_<secret>
            assert value.split(".")[0] == keys.write.split("_")[1], "the cookie names the key by its public id"


def test_a_forged_expired_or_revoked_session_is_refused(settings: Settings, keys: Keys) -> None:
    with TestClient(create_app(settings), follow_redirects=False) as client:
        sign_in(client, keys.write)
        good = client.cookies["ms_session"]
        assert client.get("/jobs", headers=HTML).status_code == 200
        forged = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
        client.cookies.set("ms_session", forged)
        assert client.get("/jobs", headers=HTML).status_code == 303
        key_id, expires, nonce, mac = good.split(".")
        client.cookies.set("ms_session", f"{key_id}.{int(expires) + 3600}.{nonce}.{mac}")
        assert client.get("/jobs", headers=HTML).status_code == 303, "a later expiry breaks the signature"
        client.cookies.set("ms_session", good)
        system = Mediasift(settings)
        assert system.keys.revoke(key_id)
        system.close()
        assert client.get("/jobs", headers=HTML).status_code == 303, "revoking the key ends its sessions"
    # A 3 s session: long enough to be used at once on a busy machine (1 s was not, once), then expired.
    lifetime_s = 3.0
    short = settings.model_copy(update={"ui_session_hours": lifetime_s / 3600})
    with TestClient(create_app(short), follow_redirects=False) as client:
        sign_in(client, keys.read)
        signed_in = time.monotonic()  # the session expires by then plus its lifetime (whole seconds)
        assert client.get("/jobs").status_code == 200
        time.sleep(max(0.0, signed_in + lifetime_s + 1.1 - time.monotonic()))
        assert client.get("/jobs", headers=HTML).status_code == 303


def test_every_write_needs_the_sessions_csrf_token(client: TestClient, keys: Keys) -> None:
    csrf = sign_in(client, keys.write)
    assert client.post("/signout").status_code == 403
    assert client.post("/signout", data={"csrf": "wrong"}).status_code == 403
    assert client.post("/jobs/nothing:ocr/redrive", data={"csrf": ""}).status_code == 403
    files = {"file": ("note.txt", b"hello there", "text/plain")}
    assert client.post("/upload", files=files).status_code == 403
    assert client.post("/upload", files=files, headers={"X-CSRF-Token": "nope"}).status_code == 403
    assert client.post("/upload/url", json={"url": "http://example.com/"}).status_code == 403
    assert client.post("/people/1/name", data={"name": "x"}).status_code == 403
    assert client.post("/people/1/merge", data={"csrf": "wrong", "other": "2"}).status_code == 403
    assert client.post("/upload", files=files, headers={"X-CSRF-Token": csrf}).status_code == 201
    assert client.post("/jobs/nothing:ocr/redrive", data={"csrf": csrf}).headers["location"] == "/jobs?requeued=0"
    out = client.post("/signout", data={"csrf": csrf})
    assert out.status_code == 303 and 'ms_session=""' in out.headers["set-cookie"]


def test_the_sign_in_form_needs_its_own_token(client: TestClient, keys: Keys) -> None:
    client.get("/signin")
    refused = client.post("/signin", data={"key": keys.write, "csrf": "forged", "next": "/"})
    assert refused.status_code == 403 and "ms_session" not in refused.headers.get("set-cookie", "")


def test_writes_from_another_sites_page_are_refused(client: TestClient, keys: Keys) -> None:
    csrf = sign_in(client, keys.write)
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        assert client.post("/signout", data={"csrf": csrf}, headers=headers).status_code == 403
    assert client.post("/signout", data={"csrf": csrf}, headers={"Origin": "http://testserver"}).status_code == 303


def test_a_session_does_not_open_the_http_api_and_the_api_lists_no_page(client: TestClient, keys: Keys) -> None:
    sign_in(client, keys.admin)
    assert client.get("/v1/assets").status_code == 401, "/v1 takes bearer keys only"
    assert client.get("/docs").status_code == 404 and client.get("/redoc").status_code == 404, "no docs pages"
    schema = client.get("/openapi.json", headers=bearer(keys.admin)).json()
    assert all(path.startswith("/v1/") or path in ("/healthz", "/readyz", "/metrics") for path in schema["paths"])
    assert "content-security-policy" not in client.get("/v1/assets", headers=bearer(keys.admin)).headers


@pytest.mark.slow
def test_what_users_wrote_is_escaped_on_every_page(
    settings: Settings, client: TestClient, keys: Keys, tmp_path: Path
) -> None:
    asset = _ingest_text(settings, tmp_path, "log.txt", HOSTILE, "alpha")
    sign_in(client, keys.write)
    for path in ("/?q=orange+submarine", f"/assets/{asset}", "/"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert "<img src=x" not in page.text and "<script>alert" not in page.text, path
    results = client.get("/?q=orange+submarine").text
    assert "onerror=alert(1)&gt;" in results and "<mark>orange</mark>" in results
    assert "&lt;/script&gt;&lt;script&gt;alert(2)" in client.get(f"/assets/{asset}").text, "the text, escaped"
    assert client.get("/?q=%3Cscript%3E").text.count("<script>") == 0


@pytest.mark.parametrize(
    ("given", "lands"),
    [("/jobs", "/jobs"), ("//evil.example/x", "/"), ("https://evil.example/", "/"), ("/\\evil.example", "/"),
     ("/signin", "/"), ("", "/")],
)  # fmt: skip
def test_sign_in_goes_back_only_to_a_page_of_this_site(client: TestClient, keys: Keys, given: str, lands: str) -> None:
    form = client.get("/signin")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token
    answer = client.post("/signin", data={"key": keys.read, "csrf": token.group(1), "next": given})
    assert answer.headers["location"] == lands


def test_a_read_key_looks_but_does_not_write_and_only_admins_see_ops(client: TestClient, keys: Keys) -> None:
    csrf = sign_in(client, keys.read)
    files = {"file": ("note.txt", b"hello", "text/plain")}
    assert client.post("/upload", files=files, headers={"X-CSRF-Token": csrf}).status_code == 403
    assert client.get("/ops").status_code == 403 and client.get("/ops.json").status_code == 403
    assert 'href="/upload"' not in client.get("/").text
    assert client.post("/signout", data={"csrf": csrf}).status_code == 303


@pytest.mark.slow
def test_a_tenant_reads_only_its_own_assets_media_state_and_exports(
    settings: Settings, client: TestClient, keys: Keys, tmp_path: Path
) -> None:
    asset = _ingest_text(settings, tmp_path, "alpha.txt", "the orange submarine surfaced", "alpha")
    sha = client.get(f"/v1/assets/{asset}", headers=bearer(keys.write)).json()["sha256"]
    sign_in(client, keys.other)
    for path in (
        f"/assets/{asset}",
        f"/assets/{asset}/state.json",
        f"/media/{sha}",
        f"/assets/{asset}/exports/export.json",
    ):
        assert client.get(path).status_code == 404, path
    assert "Nothing found" in client.get("/?q=orange+submarine").text
    sign_in(client, keys.write)
    assert client.get(f"/assets/{asset}/state.json").json()["status"] == "done"
    media = client.get(f"/media/{sha}", headers={"Range": "bytes=4-9"})
    assert media.status_code == 206 and media.content == b"orange"
    assert media.headers["content-security-policy"] == "default-src 'none'; sandbox"


def test_wrong_keys_at_sign_in_are_held_back(client: TestClient) -> None:
    statuses = []
    for _ in range(25):
        form = client.get("/signin")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token
        statuses.append(
            client.post("/signin", data={"key": "ms_0123456789abcdef_wrong", "csrf": token.group(1)}).status_code
        )
    assert statuses[0] == 401 and statuses[-1] == 429


JUNK = [
    ("GET", "/assets/%00"), ("GET", "/assets/zzzz"), ("GET", "/assets/" + "a" * 5000), ("GET", "/media/xyz"),
    ("GET", "/media/" + "g" * 64), ("GET", "/?since=notadate&min_duration=-4&max_duration=nan&type=<x>&mode=x"),
    ("GET", "/?q=" + "x" * 2000), ("GET", "/jobs?requeued=-1"), ("GET", "/jobs?cursor=%%%"), ("GET", "/?cursor=abc"),
    ("GET", "/assets/zzzz/exports/transcript.vtt"), ("GET", "/assets/zzzz/state.json"), ("POST", "/upload/url"),
    ("POST", "/jobs/%2F%2F/redrive"), ("GET", "/nowhere"), ("GET", "/signin?next=%0d%0aSet-Cookie:x"),
    ("POST", "/signin"), ("GET", "/people?cursor=abc"), ("GET", "/people/%00"), ("GET", "/people/" + "a" * 5000),
    ("GET", "/people/99999999999999999999"), ("GET", "/people/1?done=<x>"), ("POST", "/people/1/name"),
    ("POST", "/people/1/merge"), ("POST", "/people/x/split"), ("GET", "/?person=" + "<x>" * 60 + "&q=a"),
    ("GET", "/?person=1"),
]  # fmt: skip


def test_junk_gets_a_4xx_never_a_server_error(client: TestClient, keys: Keys) -> None:
    csrf = sign_in(client, keys.write)
    for method, path in JUNK:
        answer = client.request(method, path, headers={"X-CSRF-Token": csrf})
        assert answer.status_code < 500, (method, path, answer.status_code, answer.text[:300])


def test_sessions_are_signed_with_a_secret_kept_for_the_owner_and_shared_by_every_api_process(
    settings: Settings, keys: Keys
) -> None:
    with TestClient(create_app(settings), follow_redirects=False) as first:
        sign_in(first, keys.read)
        cookie = first.cookies["ms_session"]
    secret = settings.home / "ui-secret"
    assert secret.stat().st_mode & 0o777 == 0o600
    with TestClient(create_app(settings), follow_redirects=False) as second:
        second.cookies.set("ms_session", cookie)
        assert second.get("/jobs").status_code == 200, "another API process over the same home"
    other = settings.model_copy(update={"ui_secret": "another secret"})
    with TestClient(create_app(other), follow_redirects=False) as third:
        third.cookies.set("ms_session", cookie)
        assert third.get("/jobs", headers=HTML).status_code == 303, "a session of another secret is not one"
