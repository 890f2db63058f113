"""The people pages over the real service, models and database (no browser): the list with each
person's face, a person's page with where they appear, naming (refused for a read-only session and
for a name another person has), merging and splitting, another tenant's person not found, a hostile
name escaped, the search page's person filter; and the ops page's cost per minute of video.

One library is ingested for the module (the real face models take about a minute): photos of the
astronaut and a video with her in two shots, the cameraman (tenant alpha), and one photo of her for
tenant beta."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from mediasift.api.app import create_app
from mediasift.config import Settings
from mediasift.service import Mediasift

from support import facegen, mediagen
from support.apikeys import Keys, make_keys
from support.databases import create_database

pytestmark = pytest.mark.slow

HOSTILE = "<img src=x onerror=alert(1)><script>alert(2)<\\script>"  # no "/": a name holds none
PHOTOS = ("original", "mirrored", "half-size")


@dataclass(frozen=True)
class Library:
    client: TestClient
    system: Mediasift
    keys: Keys
    her: int  # alpha's astronaut
    cameraman: int
    theirs: int  # beta's astronaut
    video: str  # the video's asset id
    photos: dict[str, str]  # name -> asset id


def _save(folder: Path, name: str, pixels: np.ndarray) -> Path:
    path = folder / f"{name}.png"
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture(scope="module")
def library(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    tmp = tmp_path_factory.mktemp("people-ui")
    (tmp / "home").mkdir()
    settings = Settings(home=tmp / "home", database_url=create_database(pg_server))
    keys = make_keys(settings)
    alpha, beta = tmp / "alpha", tmp / "beta"
    alpha.mkdir()
    beta.mkdir()
    variants = {p.name: p for p in facegen.astronaut_variants()}
    for name in PHOTOS:
        _save(alpha, name, variants[name].pixels)
    _save(alpha, "cameraman", facegen.cameraman()[0].pixels)
    mediagen.make_video(
        alpha / "launch.mp4", 4.0, size=(480, 360),
        scenes=[mediagen.photo("rocket"), facegen.astronaut(), mediagen.photo("coffee"), facegen.astronaut()[:, ::-1]],
    )  # fmt: skip
    _save(beta, "theirs", variants["crop-wide"].pixels)
    with closing(Mediasift(settings)) as system:
        report = system.ingest([alpha], wait=True, tenant="alpha")
        assert not report.failed
        assert not system.ingest([beta], wait=True, tenant="beta").failed
        ids = {Path(a.path).stem: str(a.asset_id) for a in report.accepted}
        people = system.people.page("alpha").people
        assert len(people) == 2, people
        her = max(people, key=lambda p: p.face_count)
        cameraman = min(people, key=lambda p: p.face_count)
        (theirs,) = system.people.page("beta").people
        with TestClient(create_app(settings), follow_redirects=False) as client:
            yield Library(client, system, keys, her.id, cameraman.id, theirs.id, ids["launch"],
                          {n: ids[n] for n in PHOTOS})  # fmt: skip


def sign_in(client: TestClient, key: str) -> str:
    """A session for ``key`` (in place of the client's last); its CSRF token."""
    form = client.get("/signin")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token, form.text
    assert client.post("/signin", data={"key": key, "csrf": token.group(1)}).status_code == 303
    found = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/people").text)
    assert found
    return found.group(1)


def _faces(page: str) -> list[tuple[str, str]]:
    """Each face cut out on a page: its viewBox and the picture's digest."""
    return re.findall(r'<svg class="face" viewBox="([^"]+)"[^>]*><image href="/media/([0-9a-f]{64})"', page)


def test_the_people_page_lists_each_person_with_their_face(library: Library) -> None:
    client = library.client
    sign_in(client, library.keys.read)
    page = client.get("/people")
    assert page.status_code == 200
    assert '<a href="/people"' in page.text and 'aria-current="page">People</a>' in page.text
    assert f'href="/people/{library.her}"' in page.text and f'href="/people/{library.cameraman}"' in page.text
    assert f'href="/people/{library.theirs}"' not in page.text, "beta's person is not alpha's"
    assert page.text.count(">unnamed</span>") == 2
    her = library.system.people.get("alpha", library.her)
    assert f"{her.face_count} faces · {her.asset_count} assets" in page.text
    faces = _faces(page.text)
    assert len(faces) == 2, "a face cut out for each person"
    for view_box, sha in faces:
        x, y, w, h = (float(v) for v in view_box.split())
        assert w == h and w > 0 and x >= 0 and y >= 0, view_box
        picture = client.get(f"/media/{sha}")
        assert picture.status_code == 200 and picture.headers["content-type"].startswith("image/")


def test_a_persons_page_shows_where_they_appear_and_finds_them_in_search(library: Library) -> None:
    client = library.client
    sign_in(client, library.keys.read)
    page = client.get(f"/people/{library.her}").text
    assert "Unnamed person" in page
    times = re.findall(rf'href="/assets/{library.video}\?t=([0-9.]+)"', page)
    assert len(times) >= 2 and len(set(times)) >= 2, "her two shots in the video, each at its own time"
    assert all(f'href="/assets/{asset}"' in page for asset in library.photos.values())
    assert len(_faces(page)) >= len(PHOTOS) + 2 + 1, "each face, and hers at the top"
    assert "Save name" not in page and "Not them" not in page, "a read-only session gets no forms"
    assert f'href="/?person={library.her}"' in page

    where = client.get("/", params={"person": str(library.her)}).text
    shown = set(re.findall(r'<li><a href="/assets/([0-9a-f-]+)">', where))
    assert shown == {library.video, *library.photos.values()}
    narrowed = client.get("/", params={"q": "face", "person": str(library.her)}).text
    found = set(re.findall(r'<h3><a href="/assets/([0-9a-f-]+)">', narrowed))
    assert found and found <= shown, "the cameraman's photo is left out"
    everyone = set(re.findall(r'<h3><a href="/assets/([0-9a-f-]+)">', client.get("/", params={"q": "face"}).text))
    assert everyone - shown, "without the filter, the cameraman's photo is found"
    nobody = client.get("/", params={"q": "face", "person": "nobody at all"}).text
    assert "No person “nobody at all” here" in nobody and "<article" not in nobody


def test_naming_a_person_needs_a_write_session_and_a_free_name(library: Library) -> None:
    client = library.client
    csrf = sign_in(client, library.keys.read)
    refused = client.post(f"/people/{library.her}/name", data={"csrf": csrf, "name": "Eileen"})
    assert refused.status_code == 403
    assert library.system.people.get("alpha", library.her).name is None

    csrf = sign_in(client, library.keys.write)
    forged = client.post(f"/people/{library.her}/name", data={"csrf": "not-the-token", "name": "Eileen"})
    assert forged.status_code == 403
    named = client.post(f"/people/{library.her}/name", data={"csrf": csrf, "name": "  Eileen   Collins "})
    assert named.status_code == 303 and named.headers["location"] == f"/people/{library.her}?done=named"
    page = client.get(named.headers["location"]).text
    assert "<h1>Eileen Collins</h1>" in page and "Saved the name." in page
    assert library.system.people.get("alpha", "eileen collins").id == library.her

    taken = client.post(f"/people/{library.cameraman}/name", data={"csrf": csrf, "name": "EILEEN COLLINS"})
    assert taken.status_code == 409 and "already named" in taken.text
    assert library.system.people.get("alpha", library.cameraman).name is None

    unnamed = client.post(f"/people/{library.her}/name", data={"csrf": csrf, "name": " "})
    assert unnamed.status_code == 303 and library.system.people.get("alpha", library.her).name is None


def test_a_hostile_name_is_shown_as_text(library: Library) -> None:
    client = library.client
    csrf = sign_in(client, library.keys.write)
    assert client.post(f"/people/{library.cameraman}/name", data={"csrf": csrf, "name": HOSTILE}).status_code == 303
    escaped = "&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;alert(2)&lt;\\script&gt;"
    try:
        for path in ("/people", f"/people/{library.cameraman}", f"/people/{library.her}",
                     f"/?person={library.cameraman}"):  # fmt: skip
            page = client.get(path).text
            assert escaped in page, path
            assert HOSTILE not in page and "<script>alert" not in page and "<img src=x" not in page, path
    finally:
        client.post(f"/people/{library.cameraman}/name", data={"csrf": csrf, "name": ""})


def test_a_face_split_off_and_merged_back(library: Library) -> None:
    client = library.client
    csrf = sign_in(client, library.keys.write)
    before = library.system.people.get("alpha", library.her)
    face = before.appearances[-1].face_id
    split = client.post(f"/people/{library.her}/split", data={"csrf": csrf, "face": str(face)})
    assert split.status_code == 303
    new_id = int(re.fullmatch(r"/people/(\d+)\?done=split", split.headers["location"]).group(1))  # type: ignore[union-attr]
    assert library.system.people.get("alpha", new_id).face_count == 1
    assert library.system.people.get("alpha", library.her).face_count == before.face_count - 1
    page = client.get(f"/people/{library.her}").text
    assert f'<option value="{new_id}">' in page and f'<option value="{library.her}">' not in page

    itself = client.post(f"/people/{library.her}/merge", data={"csrf": csrf, "other": str(library.her)})
    assert itself.status_code == 409 and "cannot be merged into itself" in itself.text
    merged = client.post(f"/people/{library.her}/merge", data={"csrf": csrf, "other": str(new_id)})
    assert merged.status_code == 303 and merged.headers["location"] == f"/people/{library.her}?done=merged"
    assert library.system.people.get("alpha", library.her).face_count == before.face_count
    assert client.get(f"/people/{new_id}").status_code == 404, "merged in: gone"


def test_another_tenants_person_is_not_found(library: Library) -> None:
    client = library.client
    csrf = sign_in(client, library.keys.write)
    page = client.get(f"/people/{library.theirs}")
    assert page.status_code == 404 and "Not found" in page.text and "theirs" not in page.text
    renamed = client.post(f"/people/{library.theirs}/name", data={"csrf": csrf, "name": "Taken"})
    assert renamed.status_code == 404
    merged = client.post(f"/people/{library.her}/merge", data={"csrf": csrf, "other": str(library.theirs)})
    assert merged.status_code == 409 and library.system.people.get("beta", library.theirs).face_count == 1
    assert library.system.people.get("beta", library.theirs).name is None
    sign_in(client, library.keys.other)  # and the other way round
    assert client.get(f"/people/{library.her}").status_code == 404
    assert f'href="/people/{library.theirs}"' in client.get("/people").text


def test_the_ops_page_gives_the_cost_of_a_minute_of_video(library: Library) -> None:
    client = library.client
    sign_in(client, library.keys.admin)
    page = client.get("/ops").text
    figure = re.search(r"<dt>per minute of video</dt><dd>\$([0-9.]+)</dd>", page)
    assert figure and float(figure.group(1)) > 0, page
    assert "per CPU-hour" in page
    (chart,) = [c for c in client.get("/ops.json").json()["charts"] if c["id"] == "cost-per-minute"]
    assert [b["label"] for b in chart["bars"]] == ["video"] and chart["bars"][0]["value"] > 0
    status = library.system.status()
    assert chart["bars"][0]["value"] == pytest.approx(status.cost["video"].usd_per_minute, abs=1e-6)
