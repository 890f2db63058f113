"""The HTTP API: uploads (multipart and raw), URLs (through a real local HTTP server), the CLI's JSON
contracts over HTTP, tokens, blobs, latency metrics, and refusals that leave nothing behind."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from mediasift.api.app import create_app
from mediasift.api.receive import Unacceptable, safe_name
from mediasift.config import Settings
from mediasift.net.addresses import check_public

from support import mediagen
from support.apikeys import Keys, bearer

NOTE = "The lighthouse keeper wrote that the storm reached the harbour at midnight."


class _Files(SimpleHTTPRequestHandler):
    """Serves a folder; /moved/NAME redirects to /NAME, /to/HOST/NAME to http://HOST:<this port>/NAME;
    records the paths asked for; quiet."""

    asked: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.asked.append(self.path)
        if self.path.startswith("/moved/"):
            self.send_response(302)
            self.send_header("Location", self.path.removeprefix("/moved"))
            self.end_headers()
            return
        if self.path.startswith("/to/"):
            host, name = self.path.removeprefix("/to/").split("/", 1)
            self.send_response(302)
            self.send_header("Location", f"http://{host}:{self.server.server_address[1]}/{name}")
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on 127.0.0.1 serving a folder: (base URL, folder)."""
    folder = tmp_path / "www"
    folder.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Files, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", folder
    server.shutdown()


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.fromarray(mediagen.photo("chelsea")).save(out, "PNG")
    return out.getvalue()


def asset_count(client: TestClient) -> int:
    return len(client.get("/v1/assets").json()["assets"])


@pytest.mark.slow
def test_an_upload_is_analysed_and_its_results_served(client: TestClient, keys: Keys, worker: None) -> None:
    response = client.post("/v1/assets?wait=true", files={"file": ("cat.png", png_bytes(), "image/png")})
    assert response.status_code == 201, response.text
    (item,) = response.json()["accepted"]
    assert item["media_type"] == "image" and item["status"] == "done" and item["duplicate"] is False
    assert item["path"] == "upload:cat.png"

    again = client.post("/v1/assets", files={"file": ("copy.png", png_bytes(), "image/png")})
    assert again.status_code == 200 and again.json()["accepted"][0]["duplicate"] is True

    detail = client.get(f"/v1/assets/{item['asset_id'][:8]}").json()
    assert detail["id"] == item["asset_id"] and "upload:copy.png" in detail["sources"]
    kinds = {artifact["kind"] for artifact in detail["artifacts"]}
    assert {"labels", "thumbnail", "phash"} <= kinds
    thumbnail = next(a for a in detail["artifacts"] if a["kind"] == "thumbnail")
    served = client.get(f"/v1/blobs/{thumbnail['blob_sha256']}")
    assert served.status_code == 200 and served.headers["content-type"].startswith("image/")
    assert max(Image.open(io.BytesIO(served.content)).size) <= 320
    assert client.get("/v1/blobs/" + "0" * 64).status_code == 404
    assert client.get("/v1/blobs/not-a-hash").status_code == 404

    hits = client.get("/v1/search", params={"q": "a tabby cat", "type": "image"}).json()["results"]
    assert hits and hits[0]["asset_id"] == item["asset_id"]
    assert client.get(f"/v1/assets/{item['asset_id']}/similar").json()["asset_id"] == item["asset_id"]
    assert client.get("/v1/assets/ffffffff").status_code == 404
    assert client.get("/v1/search", params={"q": "cat", "mode": "fuzzy"}).status_code == 422
    # the deepest page, over every tenant (an admin's: the HNSW index is walked, not the tenant's few
    # rows scanned): more nearest texts than the index walks at once (ef_search at most 1000)
    deep = client.get("/v1/search", params={"q": "a tabby cat", "limit": "1000", "group": "moment"},
                      headers=bearer(keys.admin))  # fmt: skip
    assert deep.status_code == 200 and deep.json()["results"], deep.text


@pytest.mark.slow
def test_a_raw_body_upload_and_a_url_are_ingested_with_their_source(
    client: TestClient, worker: None, web: tuple[str, Path]
) -> None:
    raw = client.post("/v1/assets?filename=../../etc/note.txt&wait=true", content=NOTE.encode())
    assert raw.status_code == 201, raw.text
    assert raw.json()["accepted"][0]["path"] == "upload:note.txt", "only the last part of a name is kept"

    base, folder = web
    mediagen.make_image(folder / "gradient.webp", (200, 120))
    fetched = client.post("/v1/assets/from-url", json={"url": f"{base}/moved/gradient.webp", "wait": True})
    assert fetched.status_code == 201, fetched.text
    (item,) = fetched.json()["accepted"]
    assert item["media_type"] == "image" and item["path"] == f"{base}/gradient.webp" and item["status"] == "done"
    assert client.get(f"/v1/assets/{item['asset_id']}").json()["sources"] == [f"{base}/gradient.webp"]


@pytest.mark.slow
def test_bad_input_is_refused_with_a_reason_and_leaves_nothing(
    settings: Settings, client: TestClient, keys: Keys, web: tuple[str, Path]
) -> None:
    base, folder = web
    (folder / "song.mp3").write_bytes(os.urandom(50_000))
    before = asset_count(client)
    junk = client.post("/v1/assets", files={"file": ("song.mp3", os.urandom(50_000), "audio/mpeg")})
    assert junk.status_code == 422 and junk.json()["detail"]
    assert client.post("/v1/assets", files={"file": ("empty.txt", b"", "text/plain")}).status_code == 422
    assert client.post("/v1/assets", data={"note": "no file"}).status_code == 422
    missing = client.post("/v1/assets/from-url", json={"url": f"{base}/nothing.png"})
    assert missing.status_code == 422 and "404" in missing.json()["detail"]
    assert client.post("/v1/assets/from-url", json={"url": "file:///etc/passwd"}).status_code == 422
    for query in ("/v1/search?q=a%00b", "/v1/assets?status=%00", "/v1/assets/%01x"):
        assert client.get(query).status_code == 400, query
    for query in ("/v1/search?q=%ff%fe", "/v1/search?q=%ED%A0%80", "/v1/assets/%c3"):  # read as U+FFFD before
        answer = client.get(query)
        assert answer.status_code == 400 and "not UTF-8" in answer.json()["detail"], query
    assert client.get("/v1/search?q=caf%C3%A9").status_code == 200, "UTF-8 text percent-encoded"
    bogus = client.get("/v1/assets?status=bogus")  # not a status: said so, not an empty list
    assert bogus.status_code == 422 and "pending" in bogus.text, bogus.text
    assert client.get("/v1/assets?status=done").status_code == 200
    bad_port = client.post("/v1/assets/from-url", json={"url": "http://127.0.0.1:99999/a.png"})
    assert bad_port.status_code == 422 and "port" in bad_port.json()["detail"]
    assert client.post("/v1/assets/from-url", json={"url": f"{base}/song.mp3"}).status_code == 422
    assert asset_count(client) == before
    assert not any((settings.home / "uploads").iterdir()), "received files are removed"

    small = settings.model_copy(update={"max_file_bytes": 1000, "url_fetch_private": True})
    with TestClient(create_app(small), headers=bearer(keys.write)) as limited:
        too_big = limited.post("/v1/assets", files={"file": ("big.txt", b"x" * 5000, "text/plain")})
        assert too_big.status_code == 413
        past_the_form = limited.post("/v1/assets", files={"file": ("big.txt", b"x" * 80_000, "text/plain")})
        assert past_the_form.status_code == 413, "refused by the gate: past the file limit and the form's room"
        assert "1,000 bytes (MEDIASIFT_MAX_FILE_BYTES)" in past_the_form.json()["detail"], past_the_form.text
        assert limited.post("/v1/assets/from-url", json={"url": f"{base}/song.mp3"}).status_code == 413

    with TestClient(create_app(settings), headers=bearer(keys.write)) as guarded:  # no private addresses
        refused = guarded.post("/v1/assets/from-url", json={"url": f"{base}/song.mp3"})
        assert refused.status_code == 422 and "not a public address" in refused.json()["detail"]


def test_a_trusted_host_that_redirects_to_a_private_address_is_refused(
    settings: Settings, keys: Keys, web: tuple[str, Path]
) -> None:
    """Each redirect hop is checked like the first URL: ``localhost`` is trusted by name (as a public host
    would be), its redirect to 127.0.0.1, a private address nobody trusted, is refused before it is asked."""
    base, folder = web
    port = base.rsplit(":", 1)[1]
    (folder / "cat.png").write_bytes(png_bytes())
    trusting = settings.model_copy(update={"url_fetch_allowed_hosts": "LOCALHOST."})
    with TestClient(create_app(trusting), headers=bearer(keys.write)) as client:
        _Files.asked.clear()
        refused = client.post("/v1/assets/from-url", json={"url": f"http://localhost:{port}/to/127.0.0.1/cat.png"})
        assert refused.status_code == 422, refused.text
        assert "127.0.0.1" in refused.json()["detail"] and "not a public address" in refused.json()["detail"]
        assert _Files.asked == ["/to/127.0.0.1/cat.png"], "the private hop was never asked"
        assert asset_count(client) == 0
        direct = client.post("/v1/assets/from-url", json={"url": f"http://127.0.0.1:{port}/cat.png"})
        assert direct.status_code == 422 and "not a public address" in direct.json()["detail"]
        followed = client.post("/v1/assets/from-url", json={"url": f"http://localhost:{port}/to/localhost/cat.png"})
        assert followed.status_code == 201, followed.text
        assert followed.json()["accepted"][0]["path"] == f"http://localhost:{port}/cat.png"


def test_private_and_odd_addresses_are_not_fetched() -> None:
    for host in ("localhost", "127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "0.0.0.0"):
        with pytest.raises(Unacceptable, match="not a public address"):
            check_public(host, 80)
    with pytest.raises(Unacceptable, match="cannot resolve"):
        check_public("no-such-host.invalid", 80)
    assert safe_name("../../a/b\x00c.png", "x") == "bc.png" and safe_name("..", "x") == "x"


def test_the_shared_token_acts_as_an_admin_and_nothing_else_opens_the_api(settings: Settings) -> None:
    with TestClient(create_app(settings.model_copy(update={"api_token": "s3cret"}))) as guarded:
        assert guarded.get("/healthz").status_code == 200
        assert guarded.get("/readyz").status_code == 200
        assert guarded.get("/v1/status").status_code == 401
        assert guarded.get("/v1/status", headers=bearer("wrong")).status_code == 401
        assert guarded.get("/v1/status", headers=bearer("s3cret")).status_code == 200
        assert guarded.get("/openapi.json").status_code == 401
        # no docs page loading a CDN: outside /v1 is the web UI's, which takes a session, not a key (and
        # has no /docs either: tests/ui/test_web_security.py); a key there is told where the API is
        docs = guarded.get("/docs", headers=bearer("s3cret"))
        assert docs.status_code == 404 and "/v1/" in docs.json()["detail"]
        assert guarded.get("/docs").status_code == 401


def test_metrics_time_each_route_by_its_template(client: TestClient) -> None:
    assert client.get("/v1/assets/00000000").status_code == 404
    assert client.get("/v1/assets").status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)}
    counts = {
        (s.labels["route"], s.labels["status"]): s.value
        for s in families["mediasift_api_request_seconds"].samples
        if s.name.endswith("_count")
    }
    assert counts[("/v1/assets/{asset}", "404")] == 1 and counts[("/v1/assets", "200")] == 1
    assert "mediasift_queue_ready" in families and "process_resident_memory_bytes" in families


@pytest.mark.slow
def test_serve_answers_over_a_real_socket(settings: Settings) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "MEDIASIFT_HOME": str(settings.home), "MEDIASIFT_DATABASE_URL": settings.database_url}
    server = subprocess.Popen(
        [sys.executable, "-m", "mediasift.cli", "serve", "--port", str(port)], env=env, stderr=subprocess.PIPE
    )
    try:
        deadline, answer = time.monotonic() + 60, None
        while answer is None and time.monotonic() < deadline:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
            except httpx.ConnectError:
                time.sleep(0.3)
        assert answer is not None and answer.json() == {"status": "ok"}
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json").status_code == 401
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises the signal it caught
    assert server.returncode in (0, -signal.SIGTERM) and b"Traceback" not in err, err


# Routes whose success is not JSON, and the media type each declares instead.
NOT_JSON = {
    "/metrics": "text/plain",
    "/v1/blobs/{sha256}": "*/*",
    "/v1/assets/{asset}/transcript.vtt": "text/vtt",
    "/v1/assets/{asset}/ocr.vtt": "text/vtt",
    "/v1/assets/{asset}/transcript.srt": "application/x-subrip",
}


def test_openapi_describes_every_successful_response(settings: Settings) -> None:
    document = create_app(settings).openapi()
    schemas = document["components"]["schemas"]
    assert {"/v1/status", "/v1/assets", *NOT_JSON} <= set(document["paths"])
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            route = f"{method.upper()} {path}"
            successes = {code: answer for code, answer in operation["responses"].items() if code.startswith("2")}
            assert successes, f"{route} declares no successful response"
            for code, answer in successes.items():
                content = answer.get("content", {})
                if code == "204":
                    assert not content, f"{route} 204 declares a body"
                    continue
                if path in NOT_JSON:
                    assert [kind for kind in content if kind.startswith(NOT_JSON[path])], f"{route} {code}: {content}"
                    continue
                schema = content.get("application/json", {}).get("schema", {})
                if "$ref" in schema:
                    schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
                assert schema.get("properties"), f"{route} {code} has no response schema"


def test_wait_never_analyses_in_the_api_process(api_settings: Settings, keys: Keys) -> None:
    """With no worker alive, ``wait=true`` waits its time out and answers 202: the file is registered
    and queued, and nothing of its analysis ran here."""
    impatient = api_settings.model_copy(update={"api_wait_timeout_s": 1.0})
    with TestClient(create_app(impatient), headers=bearer(keys.write)) as client:
        started = time.monotonic()
        answer = client.post("/v1/assets?filename=note.txt&wait=true", content=NOTE.encode())
        assert answer.status_code == 202 and answer.json()["analysed"] is False, answer.text
        assert 1.0 <= time.monotonic() - started < 10
        detail = client.get(f"/v1/assets/{answer.json()['id']}").json()
        assert detail["status"] == "pending" and detail["operators"] == {} and detail["artifacts"] == []
        assert {job["state"] for job in detail["jobs"].values()} == {"queued"}


def test_readiness_says_which_server_cannot_be_reached(settings: Settings) -> None:
    unreachable = settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0", "api_ready_timeout_s": 1.0})
    with TestClient(create_app(unreachable)) as client:
        assert client.get("/healthz").status_code == 200, "alive"
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["detail"] == "the broker did not answer within 1 s", "only the broker, by name"
    patient = settings.model_copy(update={"api_ready_timeout_s": 60.0})  # a first look opens the broker
    with TestClient(create_app(patient)) as client:
        assert client.get("/readyz").json() == {"status": "ok"}


def test_a_full_queue_is_answered_429_and_registers_nothing(api_settings: Settings, keys: Keys) -> None:
    """Ingest back-pressure over HTTP: at the high-water mark an upload is told to come back later
    (the CLI waits instead); nothing of it is kept."""
    full = api_settings.model_copy(update={"queue_high_water": 0})
    with TestClient(create_app(full), headers=bearer(keys.write)) as client:
        answer = client.post("/v1/assets?filename=note.txt", content=NOTE.encode())
        assert answer.status_code == 429 and int(answer.headers["retry-after"]) > 0
        assert "high-water" in answer.json()["detail"]
        assert asset_count(client) == 0


def test_an_id_prefix_of_several_assets_is_a_conflict_that_says_so(client: TestClient) -> None:
    """Seventeen assets: two start with the same hexadecimal digit, which names neither (409), and
    a digit none starts with is no asset (404)."""
    ids = []
    for n in range(17):
        made = client.post(f"/v1/assets?filename=note{n}.txt", content=f"note number {n} of seventeen".encode())
        assert made.status_code in (200, 201, 202), made.text
        ids.append(made.json()["id"])
    firsts = [asset_id[0] for asset_id in ids]
    shared = next(c for c in firsts if firsts.count(c) > 1)
    several = client.get(f"/v1/assets/{shared}")
    assert several.status_code == 409 and "give more of the id" in several.json()["detail"]
    unused = next((c for c in "0123456789abcdef" if c not in firsts), None)
    if unused is not None:
        assert client.get(f"/v1/assets/{unused}").status_code == 404
    assert client.get(f"/v1/assets/{ids[0]}").status_code == 200


def test_a_write_the_key_may_not_make_is_refused_and_on_record(client: TestClient, keys: Keys) -> None:
    """The audit holds every write, refused ones too: who tried, what, and the 403 it ended with."""
    refused = client.post("/v1/assets?filename=note.txt", content=NOTE.encode(), headers=bearer(keys.read))
    assert refused.status_code == 403 and "needs write" in refused.json()["detail"]
    cross_site = client.post("/v1/assets?filename=note.txt", content=NOTE.encode(),
                             headers={"Origin": "https://evil.example"})  # fmt: skip
    assert cross_site.status_code == 403
    actions = client.get("/v1/audit").json()["actions"]
    assert [(a["action"], a["target"], a["status"]) for a in actions] == [
        ("POST /v1/assets", "/v1/assets", 403), ("POST /v1/assets", "/v1/assets", 403),
    ]  # fmt: skip
    assert actions[0]["key_id"] != actions[1]["key_id"], "the read key's try, then the write key's"
    assert asset_count(client) == 0
