"""The web UI in a real headless Chromium against a real ``mediasift serve`` and a real worker
process: sign in, upload a video with speech and on-screen text and watch it analysed, find a spoken
phrase and play its moment, seek from the transcript, keep tenants apart, re-drive a dead job, and
read the ops charts, name a person and open the moment they appear in. Every page is photographed
at 1280 and 375 pixels wide (see browser.py).

One analysed upload is shared by the module (the ``uploaded`` fixture drives the upload page); the
``people`` fixture adds photos and a video with faces through the HTTP API."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import psycopg
import pytest
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, expect

from mediasift.config import Settings

from support import facegen, mediagen
from support.apikeys import Keys, bearer, make_keys
from support.apiserver import Served, serving
from support.browser import DESKTOP, PHONE, chromium, screenshots, signed_in
from support.chaos_plugins import POISON
from support.databases import create_database

pytestmark = [pytest.mark.slow, pytest.mark.alone]

SPOKEN = "the orange submarine surfaced near the northern glacier"
SPEECH_START_S = 2.0
SHOWN = "HARBOUR"
PLUGINS = "support.chaos_plugins:PoisonCheck"
ANALYSIS_TIMEOUT_MS = 120_000
SEEK_TOLERANCE_S = 0.5


@dataclass
class Site:
    server: Served
    keys: Keys
    browser: Browser
    media: Path
    shots: Path
    database: str
    assets: dict[str, str] = field(default_factory=dict)  # file name -> asset id, filled by the upload


def _tour_video(folder: Path) -> Path:
    """7 s: a cat (0-3.5 s), then a cup under the word HARBOUR (3.5-7 s); speech from 2 s."""
    speech = mediagen.make_speech_wav(folder / "spoken.wav", SPOKEN)
    samples, rate = mediagen.read_audio(speech)
    padded = mediagen.write_wav(
        folder / "padded.wav", np.concatenate([np.zeros(int(SPEECH_START_S * rate)), samples.mean(axis=0)]), rate
    )
    card = mediagen.make_text_image(folder / "card.png", SHOWN, size=(480, 270), background=mediagen.photo("coffee"))
    scenes = [mediagen.photo("chelsea"), np.asarray(Image.open(card).convert("RGB"))]
    return mediagen.make_video(folder / "harbour-tour.mp4", 7.0, size=(480, 270), audio_wav=padded, scenes=scenes,
                               scene_seconds=3.5, faststart=True)  # fmt: skip


@pytest.fixture(scope="module")
def site(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("ui")
    settings = Settings(home=tmp / "home", database_url=create_database(pg_server))
    keys = make_keys(settings)  # (and the schema, before two processes start on it)
    tests = str(Path(__file__).parents[1])
    env = {"MEDIASIFT_OPERATOR_PLUGINS": PLUGINS, "MEDIASIFT_API_REQUESTS_PER_MINUTE": "0",
           "PYTHONPATH": os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    home = {"MEDIASIFT_HOME": str(settings.home), "MEDIASIFT_DATABASE_URL": settings.database_url}
    worker = subprocess.Popen(  # started first: it loads its models while the media is made
        [sys.executable, "-m", "mediasift.cli", "worker", "--concurrency", "1"], env={**os.environ, **env, **home}
    )
    media = tmp / "media"
    media.mkdir()
    _tour_video(media)
    mediagen.make_text_file(media / "ledger.txt", f"perfectly ordinary words {POISON}")
    try:
        with serving(settings, **env) as server, chromium() as browser:
            yield Site(server, keys, browser, media, tmp / "screenshots", settings.database_url)
    finally:
        worker.terminate()
        worker.wait(timeout=60)


@pytest.fixture(scope="module")
def uploaded(site: Site) -> Site:
    """Both files dropped on the upload page at once, watched until each one's analysis ends."""
    context = signed_in(site.browser, site.server.base, site.keys.write)
    page = context.new_page()
    page.goto("/upload")
    page.set_input_files("#files", [str(site.media / "harbour-tour.mp4"), str(site.media / "ledger.txt")])
    for name in ("harbour-tour.mp4", "ledger.txt"):
        row = page.locator("#uploads li", has_text=name)
        row.locator("a", has_text="open").wait_for(timeout=30_000)
        site.assets[name] = str(row.get_attribute("data-asset-id"))
    page.wait_for_function(
        "() => [...document.querySelectorAll('#uploads li')]"
        ".every(li => ['done', 'failed'].includes(li.dataset.status))",
        timeout=ANALYSIS_TIMEOUT_MS,
    )
    screenshots(page, site.shots, "upload")
    context.close()
    return site


@pytest.fixture(scope="module")
def people(uploaded: Site) -> Site:
    """Two photos of the astronaut, the cameraman, and a 4 s video with her in its second shot
    (from 2 s), uploaded over the HTTP API and analysed."""
    site = uploaded
    variants = {p.name: p.pixels for p in facegen.astronaut_variants()}
    pictures = {"astronaut.png": variants["original"], "astronaut-darker.png": variants["darker"],
                "cameraman.png": facegen.cameraman()[0].pixels}  # fmt: skip
    for name, pixels in pictures.items():
        Image.fromarray(pixels).save(site.media / name)
    mediagen.make_video(site.media / "launch.mp4", 4.0, size=(480, 360), scenes=[mediagen.photo("rocket"),
                        facegen.astronaut()], scene_seconds=2.0, faststart=True)  # fmt: skip
    _analysed(site, [*pictures, "launch.mp4"])
    return site


def _analysed(site: Site, names: list[str]) -> None:
    """Upload the files ``names`` of the site's media folder over the HTTP API and wait for their analysis."""
    for name in names:
        with open(site.media / name, "rb") as file:
            answer = httpx.post(f"{site.server.base}/v1/assets", files={"file": (name, file)},
                                headers=bearer(site.keys.write), timeout=60)  # fmt: skip
        assert answer.status_code == 201, answer.text
        site.assets[name] = answer.json()["id"]
    deadline = time.monotonic() + ANALYSIS_TIMEOUT_MS / 1000
    for name in names:
        while True:
            state = httpx.get(f"{site.server.base}/v1/assets/{site.assets[name]}", headers=bearer(site.keys.write))
            if state.json()["status"] in ("done", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert state.json()["status"] == "done", state.text


def _search_hit(site: Site, query: str) -> dict:
    answer = httpx.get(
        f"{site.server.base}/v1/search", params={"q": query, "group": "moment"}, headers=bearer(site.keys.write)
    )
    return dict(answer.json()["results"][0])


def _seeked_time(page: Page) -> float:
    page.wait_for_function(
        "() => { const p = document.getElementById('player');"
        " return p.dataset.seekedTo !== undefined && !p.seeking && p.readyState >= 1; }"
    )
    return float(page.evaluate("document.getElementById('player').currentTime"))


def test_signing_in_takes_a_key_and_keeps_only_a_signed_session(site: Site) -> None:
    context = site.browser.new_context(base_url=site.server.base)
    page = context.new_page()
    page.goto("/jobs")
    assert page.url.endswith("/signin?next=%2Fjobs"), "a page without a session goes to the sign-in"
    page.get_by_label("API key").fill("ms_0123456789abcdef_not-a-real-secret")
    page.get_by_role("button", name="Sign in").click()
    assert "was not accepted" in page.get_by_role("alert").inner_text()
    screenshots(page, site.shots, "signin")
    page.get_by_label("API key").fill(site.keys.read)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/jobs")
    (cookie,) = [c for c in context.cookies() if c["name"] == "ms_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert site.keys.read.split("_", 2)[2] not in cookie["value"], "the key's secret is not in the cookie"
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/signin")
    page.goto("/")
    assert "/signin" in page.url
    context.close()


def test_an_uploaded_video_is_analysed_while_the_page_watches(uploaded: Site) -> None:
    site = uploaded
    detail = httpx.get(
        f"{site.server.base}/v1/assets/{site.assets['harbour-tour.mp4']}", headers=bearer(site.keys.write)
    )
    assert detail.json()["status"] == "done" and detail.json()["media_type"] == "video"
    poisoned = httpx.get(f"{site.server.base}/v1/assets/{site.assets['ledger.txt']}", headers=bearer(site.keys.write))
    assert poisoned.json()["status"] == "failed"


def test_a_dropped_file_is_uploaded_and_a_refused_url_says_why(uploaded: Site) -> None:
    site = uploaded
    context = signed_in(site.browser, site.server.base, site.keys.write)
    page = context.new_page()
    page.goto("/upload")
    dropped = page.evaluate_handle(
        "() => { const t = new DataTransfer();"
        " t.items.add(new File(['notes on the lighthouse keeper'], 'dropped.txt', {type: 'text/plain'}));"
        " return t; }"
    )
    page.dispatch_event("#drop", "drop", {"dataTransfer": dropped})
    page.wait_for_selector("#uploads li[data-status='done']:has-text('dropped.txt')", timeout=60_000)
    page.get_by_label("Or fetch from a URL").fill("http://127.0.0.1:9/private.mp4")
    page.get_by_role("button", name="Fetch").click()
    refused = page.locator("#uploads li[data-status='refused']")
    refused.wait_for()
    assert "refused:" in refused.inner_text() and "127.0.0.1" in refused.inner_text()
    context.close()


def test_a_spoken_phrase_is_found_and_its_moment_plays_in_the_page(uploaded: Site) -> None:
    site = uploaded
    hit = _search_hit(site, "orange submarine")
    assert hit["asset_id"] == site.assets["harbour-tour.mp4"] and hit["start"] >= 1.0
    context = signed_in(site.browser, site.server.base, site.keys.write)
    page = context.new_page()
    page.goto("/")
    page.get_by_label("Search words, phrases or a description").fill("orange submarine")
    page.keyboard.press("Enter")
    group = page.locator("article.group", has_text="harbour-tour.mp4")
    group.wait_for()
    assert group.locator("mark").first.inner_text().lower() in ("orange", "submarine")
    assert "matched by keyword" in group.inner_text()
    group.locator("button.play").first.click()
    played_from = _seeked_time(page)
    assert abs(played_from - hit["start"]) <= SEEK_TOLERANCE_S, (played_from, hit["start"])
    page.evaluate("document.getElementById('player').pause()")
    screenshots(page, site.shots, "search")
    page.goto("/?q=submarine&min_duration=5&max_duration=3")  # a filter that can hold nothing: said why
    alert = page.get_by_role("alert")
    assert "min_duration must not be above max_duration" in alert.inner_text() and alert.is_visible()
    assert page.locator("details.filters[open]").count() == 1, "the filters open, to be fixed"
    assert page.get_by_text("Nothing here yet").count() == 0, "the library is not said to be empty"
    screenshots(page, site.shots, "search-refused")
    page.goto("/ops")  # an admin's page, for a write session: a page that says so
    assert "needs admin" in page.get_by_role("alert").inner_text()
    screenshots(page, site.shots, "ops-refused")
    context.close()


def test_the_asset_page_seeks_from_a_transcript_word_and_draws_what_is_on_screen(uploaded: Site) -> None:
    site = uploaded
    context = signed_in(site.browser, site.server.base, site.keys.write)
    page = context.new_page()
    page.goto(f"/assets/{site.assets['harbour-tour.mp4']}")
    word = page.locator("#transcript button.word", has_text="glacier")
    start = float(str(word.get_attribute("data-start")))
    assert start > SPEECH_START_S
    word.click()
    assert abs(_seeked_time(page) - start) <= SEEK_TOLERANCE_S
    page.wait_for_function("() => document.querySelector('#transcript .word.now') !== null")
    page.evaluate("document.getElementById('player').pause()")
    last = page.locator("#transcript button.word").last  # and from the keyboard: End, then Enter
    page.locator("#transcript button.word").first.focus()
    page.keyboard.press("End")
    assert last.evaluate("w => w === document.activeElement")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "t => Math.abs(document.getElementById('player').currentTime - t) <= 0.5",
        arg=float(str(last.get_attribute("data-start"))),
    )
    page.evaluate("document.getElementById('player').pause()")
    page.locator("ol.shots button").nth(1).click()  # the second shot, where HARBOUR is shown
    page.wait_for_function(f"() => document.querySelector('#overlay .box-text')?.textContent === '{SHOWN}'")
    page.evaluate("document.getElementById('player').pause()")
    assert page.locator("#overlay .box-object").count() >= 1
    # every label readable, none cut off above the picture: measured in one go in the page, as the
    # overlay is redrawn on every time update (a label looked up, then measured, may be gone)
    stage_top, labels = page.evaluate(
        "() => [document.querySelector('.stage').getBoundingClientRect().top,"
        " [...document.querySelectorAll('#overlay .box span')]"
        ".map(s => [s.textContent, s.getBoundingClientRect().top])]"
    )
    assert labels and all(top >= stage_top - 1 for _, top in labels), (stage_top, labels)
    assert page.get_by_role("link", name="transcript.vtt").count() == 1
    screenshots(page, site.shots, "asset")
    context.close()


def test_a_phones_heic_photo_is_shown_from_its_preview_with_its_text_boxed(uploaded: Site) -> None:
    """Chromium shows no HEIC: the asset page shows the JPEG preview made at analysis, and the boxes of
    the text read from it lie over it."""
    mediagen.make_text_image(uploaded.media / "IMG_0042.heic", "HARBOUR 42", size=(640, 360),
                             background=mediagen.photo("coffee"))  # fmt: skip
    _analysed(uploaded, ["IMG_0042.heic"])
    context = signed_in(uploaded.browser, uploaded.server.base, uploaded.keys.read)
    page = context.new_page()
    page.goto(f"/assets/{uploaded.assets['IMG_0042.heic']}")
    page.wait_for_function(
        "() => { const p = document.getElementById('picture'); return p.complete && p.naturalWidth; }"
    )
    assert page.evaluate(
        "[document.getElementById('picture').naturalWidth, document.getElementById('picture').naturalHeight]"
    ) == [640, 360]
    expect(page.locator("#overlay .box-text", has_text="HARBOUR")).to_have_count(1)
    screenshots(page, uploaded.shots, "heic")
    context.close()


def test_what_the_browser_cannot_play_is_played_from_its_copy(uploaded: Site) -> None:
    """Chromium plays no HEVC video and no AC-3 sound: their pages play the H.264/AAC copies made at
    analysis, and so does the search page's player, from the moment found. A page without a copy (an
    asset analysed before copies were made) says it cannot play the original, names the codec and
    links the original."""
    spoken = mediagen.make_speech_wav(uploaded.media / "phone.wav", "The violet kayak drifted past the pier.")
    mediagen.make_video(uploaded.media / "phone.mp4", 3.0, size=(320, 240), codec="hevc", faststart=True,
                        audio_wav=spoken)  # fmt: skip
    mediagen.make_tone_audio(uploaded.media / "surround.m4a", 1.0, codec="ac3", container="mp4")
    _analysed(uploaded, ["phone.mp4", "surround.m4a"])
    context = signed_in(uploaded.browser, uploaded.server.base, uploaded.keys.read)
    page = context.new_page()
    page.goto(f"/assets/{uploaded.assets['harbour-tour.mp4']}")  # H.264: played as it is
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    assert page.evaluate("document.getElementById('player').videoWidth") > 0
    expect(page.locator("#unplayable")).to_be_hidden()
    tour = page.request.get(str(page.locator("#player").get_attribute("src"))).body()
    assert tour == (uploaded.media / "harbour-tour.mp4").read_bytes()
    original = (uploaded.media / "phone.mp4").read_bytes()
    page.goto(f"/assets/{uploaded.assets['phone.mp4']}")
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    assert page.evaluate("document.getElementById('player').videoWidth") == 320
    expect(page.locator("#unplayable")).to_be_hidden()
    copy = page.request.get(str(page.locator("#player").get_attribute("src")))
    assert copy.headers["content-type"] == "video/mp4" and copy.body() != original
    screenshots(page, uploaded.shots, "playable")
    page.goto("/?q=violet+kayak")
    group = page.locator("article.group", has_text="phone.mp4")
    group.locator("button.play").first.click()
    _seeked_time(page)
    assert page.evaluate("document.getElementById('player').videoWidth") == 320
    assert page.locator("#player").get_attribute("src") == page.locator("button.play").first.get_attribute("data-src")
    assert page.request.get(str(page.locator("#player").get_attribute("src"))).body() == copy.body()
    page.evaluate("document.getElementById('player').pause()")
    screenshots(page, uploaded.shots, "search-playable")
    page.goto(f"/assets/{uploaded.assets['surround.m4a']}")
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    assert page.evaluate("document.getElementById('player').duration") == pytest.approx(1.0, abs=0.05)
    expect(page.locator("#unplayable")).to_be_hidden()
    with psycopg.connect(uploaded.database) as conn:  # as if analysed before copies were made
        conn.execute("DELETE FROM artifacts WHERE asset_id = %s AND kind = 'playable'", (uploaded.assets["phone.mp4"],))
    page.goto(f"/assets/{uploaded.assets['phone.mp4']}")
    notice = page.locator("#unplayable")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("cannot play this video (hevc)")
    assert page.request.get(str(notice.locator("a").get_attribute("href"))).body() == original
    screenshots(page, uploaded.shots, "unplayable")
    context.close()


def test_another_tenant_sees_none_of_it(uploaded: Site) -> None:
    site = uploaded
    asset = site.assets["harbour-tour.mp4"]
    context = signed_in(site.browser, site.server.base, site.keys.other)
    page = context.new_page()
    page.goto("/?q=orange+submarine")
    assert "Nothing found" in page.locator("h2.count").inner_text()
    assert page.goto(f"/assets/{asset}").status == 404
    sha = httpx.get(f"{site.server.base}/v1/assets/{asset}", headers=bearer(site.keys.write)).json()["sha256"]
    assert page.goto(f"/media/{sha}").status == 404
    page.goto("/jobs")
    assert "No dead jobs" in page.inner_text("main")
    context.close()


def test_a_dead_job_is_redriven_from_the_jobs_page(uploaded: Site) -> None:
    site = uploaded
    job_id = f"{site.assets['ledger.txt']}:poison_check"
    context = signed_in(site.browser, site.server.base, site.keys.admin)
    page = context.new_page()
    page.goto("/jobs")
    letter = page.locator("li.letter", has_text=job_id)
    assert "this document is poisoned" in letter.inner_text()
    screenshots(page, site.shots, "jobs")
    letter.get_by_role("button", name="Redrive").click()
    assert page.get_by_role("status").inner_text() == "Queued 1 dead job again."
    audit = httpx.get(f"{site.server.base}/v1/audit", headers=bearer(site.keys.admin)).json()["actions"]
    redriven = [a for a in audit if a["action"] == "POST /jobs/{job_id}/redrive" and a["target"] == job_id]
    assert [a["status"] for a in redriven] == [303], "the redrive is in the audit of API actions"
    context.close()


def test_the_ops_page_draws_charts_from_the_numbers(uploaded: Site) -> None:
    site = uploaded
    context = signed_in(site.browser, site.server.base, site.keys.admin)
    page = context.new_page()
    page.goto("/ops")
    rows = [
        "queue",
        "latency",
        "jobs-done",
        "operator-errors",
        "model-errors",
        "confidence",
        "cost",
        "seconds",
        "cache",
        "routing",
        "embedding-drift",
    ]
    for chart in rows:  # a row per lane, route, operator, model, media type
        page.wait_for_selector(f"#chart-{chart} svg rect.bar", state="attached", timeout=15_000)
    for chart in ("latency", "jobs-done", "confidence", "cost", "seconds"):  # and figures above zero
        assert page.locator(f"#chart-{chart} svg rect.bar").evaluate_all(
            "bars => bars.some(b => Number(b.getAttribute('width')) > 0)"
        ), chart
    assert "GET /" in page.locator("#chart-latency").inner_text()
    started = time.monotonic()
    # two samples make a rate
    page.wait_for_selector("#chart-throughput svg polyline", state="attached", timeout=15_000)
    page.wait_for_selector("#chart-oldest-over-time svg polyline", state="attached", timeout=15_000)
    assert time.monotonic() - started < 15
    screenshots(page, site.shots, "ops")
    context.close()


def test_the_pages_fit_a_phone(uploaded: Site) -> None:
    site = uploaded
    context = signed_in(site.browser, site.server.base, site.keys.admin)
    page = context.new_page()
    page.set_viewport_size(PHONE)
    pages = ("/", "/?q=orange+submarine", f"/assets/{site.assets['harbour-tour.mp4']}", "/upload", "/jobs", "/ops",
             "/people")  # fmt: skip
    for path in pages:
        page.goto(path, wait_until="networkidle")  # the ops charts drawn, too
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], (path, width)
    context.close()


def test_a_person_is_named_and_the_moment_they_appear_in_plays(people: Site) -> None:
    site = people
    context = signed_in(site.browser, site.server.base, site.keys.write)
    page = context.new_page()
    page.goto("/people")
    cards = page.locator("ul.people li")
    assert cards.count() == 2, page.inner_text("main")  # the astronaut and the cameraman
    for face in page.locator("ul.people svg.face image").all():  # each face's picture is served
        assert (
            httpx.get(site.server.base + str(face.get_attribute("href")), cookies=_cookies(context)).status_code == 200
        )
    screenshots(page, site.shots, "people")
    listed = httpx.get(f"{site.server.base}/v1/people", headers=bearer(site.keys.write)).json()["people"]
    her = max(listed, key=lambda p: p["face_count"])
    assert her["asset_count"] == 3, listed  # two photos and the video
    page.locator(f"a[href='/people/{her['id']}']").click()
    page.get_by_label("Name", exact=True).fill("Eileen Collins")
    page.get_by_role("button", name="Save name").click()
    expect(page.get_by_role("status")).to_have_text("Saved the name.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Eileen Collins")
    screenshots(page, site.shots, "person")
    width = _phone_width(page)
    assert width <= PHONE["width"], width

    page.get_by_role("link", name="Find in search").click()
    expect(page.locator("h2.count")).to_have_text("3 assets with Eileen Collins")
    screenshots(page, site.shots, "search-person")

    page.go_back()
    moment = page.locator(f"a[href^='/assets/{site.assets['launch.mp4']}?t=']").first
    start = float(str(moment.get_attribute("href")).split("?t=")[1])
    assert start >= 1.5, "she is in the second shot"
    moment.click()
    assert abs(_seeked_time(page) - start) <= SEEK_TOLERANCE_S
    page.wait_for_function("() => document.querySelector('#overlay .box-face') !== null")
    context.close()


def _cookies(context: BrowserContext) -> dict[str, str]:
    return {str(c["name"]): str(c["value"]) for c in context.cookies()}


def _phone_width(page: Page) -> int:
    page.set_viewport_size(PHONE)
    width = int(page.evaluate("document.documentElement.scrollWidth"))
    page.set_viewport_size(DESKTOP)
    return width


def test_the_ops_page_gives_the_cost_of_a_minute_of_video(uploaded: Site) -> None:
    site = uploaded
    context = signed_in(site.browser, site.server.base, site.keys.admin)
    page = context.new_page()
    page.goto("/ops")
    figure = page.locator(".figures div", has_text="per minute of video")
    assert figure.locator("dd").first.inner_text().startswith("$")
    page.wait_for_selector("#chart-cost-per-minute svg rect.bar", state="attached", timeout=15_000)
    screenshots(page, site.shots, "ops-cost")
    context.close()
