"""People end to end, with the real models and database: pictures of the astronaut in several
assets (photos made from hers, and a video) become one person, the cameraman another, pictures
without faces none; a person is named, found by ``--person``, merged, split, per tenant, through the
service and the HTTP API (``/v1/people``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from skimage import data
from typer.testing import CliRunner

from mediasift.api.app import create_app
from mediasift.cli import app
from mediasift.config import Settings
from mediasift.db.search_filters import AssetFilters
from mediasift.service import Mediasift
from mediasift.service_errors import PersonConflict, PersonNotFound

from support import facegen, mediagen
from support.apikeys import bearer, make_keys

pytestmark = pytest.mark.slow

VARIANTS = ("original", "crop-wide", "half-size", "mirrored", "darker", "jpeg-q15", "on-coffee")


def _save(folder: Path, name: str, pixels: np.ndarray) -> Path:
    path = folder / f"{name}.png"
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture
def system(settings: Settings) -> Iterator[Mediasift]:
    with closing(Mediasift(settings)) as made:
        yield made


@pytest.fixture
def library(system: Mediasift, media_dir: Path) -> dict[str, object]:
    """Seven photos of the astronaut, a video with her in two shots, the cameraman, and a cup of
    coffee, ingested and analysed."""
    variants = {p.name: p for p in facegen.astronaut_variants()}
    for name in VARIANTS:
        _save(media_dir, name, variants[name].pixels)
    _save(media_dir, "cameraman", facegen.cameraman()[0].pixels)
    _save(media_dir, "coffee", np.asarray(data.coffee()))
    video = mediagen.make_video(
        media_dir / "clip.mp4", 4.0, size=(480, 360),
        scenes=[mediagen.photo("rocket"), facegen.astronaut(), mediagen.photo("coffee"), facegen.astronaut()[:, ::-1]],
    )  # fmt: skip
    report = system.ingest([media_dir], wait=True)
    assert not report.failed
    return {"video": video}


def test_faces_across_assets_become_people(system: Mediasift, library: dict[str, object]) -> None:
    people = system.people.page("default").people
    counts = sorted((p.face_count, p.asset_count) for p in people)
    assert len(people) == 2, counts
    her = max(people, key=lambda p: p.face_count)
    assert her.asset_count == len(VARIANTS) + 1, "every photo of her and the video"
    assert her.face_count >= len(VARIANTS) + 2
    assert min(people, key=lambda p: p.face_count).face_count == 1  # the cameraman
    detail = system.people.get("default", her.id)
    assert {a.media_type for a in detail.appearances} == {"image", "video"}
    firsts = system.people.first_appearances("default", [p.id for p in people])
    assert firsts == {p.id: system.people.get("default", p.id, limit=1).appearances[0] for p in people}
    assert system.people.first_appearances("other", [p.id for p in people]) == {}, "another tenant's people"
    assert all(a.start is not None for a in detail.appearances if a.media_type == "video")

    # named, and found by name through the search filter
    named = system.people.name("default", her.id, "  Eileen   Collins ")
    assert named.name == "Eileen Collins"
    assert system.people.get("default", "eileen collins").id == her.id
    found = system.answers("face", filters=AssetFilters(person="Eileen Collins"), limit=50)
    assert len(found.results) == her.asset_count
    with pytest.raises(PersonNotFound, match="nobody"):  # not an empty answer, which reads as no appearances
        system.answers("face", filters=AssetFilters(person="nobody"), limit=50)

    # another person may not take the name; merge them instead
    cameraman = min(people, key=lambda p: p.face_count)
    with pytest.raises(PersonConflict):
        system.people.name("default", cameraman.id, "eileen collins")
    with pytest.raises(PersonNotFound):
        system.people.get("other", her.id)

    # split two of her faces off, then merge them back
    faces = [a.face_id for a in detail.appearances[:2]]
    split = system.people.split("default", her.id, faces, "Copy")
    assert split.person.face_count == her.face_count - 2 and split.split_off.face_count == 2
    with pytest.raises(PersonConflict):
        system.people.split("default", split.split_off.id, faces)  # all of a person's faces
    merged = system.people.merge("default", "Eileen Collins", ["Copy"])
    assert merged.merged == [split.split_off.id] and merged.person.face_count == her.face_count
    assert merged.person.name == "Eileen Collins"
    with pytest.raises(PersonNotFound):
        system.people.get("default", "Copy")


def test_new_faces_join_a_named_person_and_other_tenants_have_their_own(
    system: Mediasift, settings: Settings, tmp_path: Path
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    variants = {p.name: p for p in facegen.astronaut_variants()}
    _save(first, "original", variants["original"].pixels)
    _save(second, "rotated", variants["rotated-8"].pixels)
    _save(second, "pasted", variants["on-rocket-large"].pixels)
    system.ingest([first], wait=True)
    (her,) = system.people.page("default").people
    system.people.name("default", her.id, "Eileen")
    system.ingest([second], wait=True)
    (again,) = system.people.page("default").people
    assert again.id == her.id and again.name == "Eileen" and again.asset_count == 3

    system.ingest([second], wait=True, tenant="other")
    (theirs,) = system.people.page("other").people
    assert theirs.id != her.id and theirs.name is None and theirs.asset_count == 2

    _the_cli_names_splits_merges_and_finds(settings, her.id)

    keys = make_keys(settings)
    with TestClient(create_app(settings), headers=bearer(keys.write)) as client:
        listed = client.get("/v1/people").json()["people"]  # the key's tenant: alpha has none
        assert listed == []
        admin = {"Authorization": f"Bearer {keys.admin}"}
        (person,) = client.get("/v1/people", params={"tenant": "other"}, headers=admin).json()["people"]
        renamed = client.patch(f"/v1/people/{person['id']}", json={"name": "Eileen C"}, params={"tenant": "other"},
                               headers=admin)  # fmt: skip
        assert renamed.status_code == 200 and renamed.json()["name"] == "Eileen C"
        digits = client.patch(f"/v1/people/{person['id']}", json={"name": " 12 "}, params={"tenant": "other"},
                              headers=admin)  # fmt: skip
        assert digits.status_code == 422 and "reads as a person's id" in digits.json()["detail"]
        for name, reason in (("AC/DC", "'/'"), ("\u202eevil", "right-to-left"), ("Ada\u200f", "right-to-left")):
            refused_name = client.patch(f"/v1/people/{person['id']}", json={"name": name}, params={"tenant": "other"},
                                        headers=admin)  # fmt: skip
            assert refused_name.status_code == 422 and reason in refused_name.json()["detail"], name
        invisible = client.patch(f"/v1/people/{person['id']}", json={"name": "\u200b\u2060"},
                                 params={"tenant": "other"}, headers=admin)  # fmt: skip
        assert invisible.status_code == 200 and invisible.json()["name"] is None, "no name shows: none"
        renamed = client.patch(f"/v1/people/{person['id']}", json={"name": "Eileen C"}, params={"tenant": "other"},
                               headers=admin)  # fmt: skip
        assert renamed.json()["name"] == "Eileen C"
        typo = client.patch(f"/v1/people/{person['id']}", json={"nmae": "X"}, params={"tenant": "other"}, headers=admin)
        assert typo.status_code == 422, "an unknown field is refused, not dropped"
        itself = client.post(f"/v1/people/{person['id']}/merge", json={"people": [person["id"]]},
                             params={"tenant": "other"}, headers=admin)  # fmt: skip
        assert itself.status_code == 409 and "into itself" in itself.json()["detail"], "an id as the listings give it"
        missing = client.get("/v1/people/999999", params={"tenant": "other"}, headers=admin)
        assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")
        shown = client.get("/v1/people/Eileen C", params={"tenant": "other"}, headers=admin).json()
        refused = client.post(f"/v1/people/{person['id']}/split", json={"face_ids": [a["face_id"] for a in
                              shown["appearances"]]}, params={"tenant": "other"}, headers=admin)  # fmt: skip
        assert refused.status_code == 409
        hits = client.get("/v1/search", params={"q": "face", "person": "Eileen C", "tenant": "other"}, headers=admin)
        assert hits.status_code == 200 and len(hits.json()["results"]) == 2
        read_only = client.patch(f"/v1/people/{person['id']}", json={"name": "x"}, headers=bearer(keys.read))
        assert read_only.status_code == 403


def _the_cli_names_splits_merges_and_finds(settings: Settings, person_id: int) -> None:
    """The people commands on the default tenant's one person (three faces in three pictures)."""
    cli = CliRunner(env={"MEDIASIFT_HOME": str(settings.home), "MEDIASIFT_DATABASE_URL": settings.database_url})

    def run(*args: str, code: int = 0) -> str:
        done = cli.invoke(app, list(args))
        assert done.exit_code == code, done.output
        return done.stdout

    (listed,) = json.loads(run("people", "list", "--json"))["people"]
    assert (listed["id"], listed["name"], listed["asset_count"]) == (person_id, "Eileen", 3)
    run("people", "name", str(person_id), "Eileen Collins")
    shown = json.loads(run("people", "show", "eileen collins", "--json"))
    assert shown["id"] == person_id and len(shown["appearances"]) == 3
    face = str(shown["appearances"][0]["face_id"])
    split = json.loads(run("people", "split", "Eileen Collins", face, "--name", "Copy", "--json"))
    parts = (split["person"]["face_count"], split["split_off"]["face_count"], split["split_off"]["name"])
    assert parts == (2, 1, "Copy")
    assert "Eileen Collins" in run("people", "list") and "Copy" in run("people", "list")
    found = run("search", "--person", "Copy", "--json")
    assert str(shown["appearances"][0]["asset_id"]) in found
    merged = run("people", "merge", "Eileen Collins", "Copy")  # a table of the person that remains
    assert "Eileen Collins" in merged and "Copy" not in merged
    (after,) = json.loads(run("people", "list", "--json"))["people"]
    assert (after["id"], after["face_count"], after["asset_count"]) == (person_id, 3, 3)
    assert "Copy" in cli.invoke(app, ["people", "show", "Copy"]).output  # refused, naming what was asked
    run("people", "show", "Copy", code=2)
    run("people", "name", str(person_id), "Eileen")
