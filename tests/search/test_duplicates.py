"""Video duplicates end to end, on real photos made into videos: a re-encode (another codec and
bitrate), a resized copy, a trim and a video that holds the original between other shots are found
as one cluster; a different video that opens with the same 3 s black-and-title intro is not in it;
the same file ingested twice and the same stream in another container are exact copies, listed
apart. Through the service, the CLI and the HTTP API (tenant-scoped)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mediasift.api.app import create_app
from mediasift.cli import app
from mediasift.config import Settings
from mediasift.operators.fingerprint import VideoFingerprint
from mediasift.operators.keyframes import Keyframes
from mediasift.pipeline.graph import Pipeline
from mediasift.service import Mediasift

from support import dupgen
from support.apikeys import Keys, bearer, make_keys

pytestmark = pytest.mark.slow

TITLE = "HOLIDAY FILMS\npresents"


def _with_intro(seed: int, shots: int = 4) -> Iterator[Any]:
    yield from dupgen.intro(TITLE)
    yield from dupgen.frames(dupgen.edit(seed, shots))


@pytest.fixture(scope="module")
def library(
    pg_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, Keys, dict[str, UUID]]]:
    from support.databases import create_database

    tmp = tmp_path_factory.mktemp("duplicates")
    (tmp / "home").mkdir()
    folder = tmp / "media"
    folder.mkdir()
    original = dupgen.write(folder / "original.mp4", _with_intro(3))  # 3 s intro + 4 shots of 2-4 s
    duration = 3.0 + sum(shot.frames for shot in dupgen.edit(3, 4).shots) / dupgen.FPS
    dupgen.copy_of(original, folder / "reencoded.avi", dupgen.Copy("mpeg4", 250_000))
    dupgen.copy_of(original, folder / "resized.mp4", dupgen.Copy(size=(480, 270)))
    dupgen.copy_of(original, folder / "trimmed.mp4", dupgen.Copy(start_s=4.0, end_s=duration - 1.5))
    dupgen.embedded(original, dupgen.edit(11, 2), dupgen.edit(12, 1), folder / "embedded.mp4")
    dupgen.write(folder / "other.mp4", _with_intro(4))  # another film behind the same intro
    shutil.copy(original, folder / "original copy.mp4")
    dupgen.remuxed(original, folder / "original.mkv")
    settings = Settings(home=tmp / "home", database_url=create_database(pg_server))
    keys = make_keys(settings)
    with closing(Mediasift(settings)) as system:
        system.pipeline = Pipeline([Keyframes(), VideoFingerprint()])
        system.jobs.pipeline = system.pipeline
        report = system.ingest([folder], wait=True, tenant="alpha")
        assert all(state.status == "done" for state in report.status.values()), report.status
        ids = {Path(a.path).name: a.asset_id for a in report.accepted}
    yield settings, keys, ids


def test_copies_cluster_together_and_exact_copies_are_apart(library: tuple[Settings, Keys, dict[str, UUID]]) -> None:
    settings, _, ids = library
    with closing(Mediasift(settings)) as system:
        found = system.duplicates(tenant="alpha")
    assert ids["original copy.mp4"] == ids["original.mp4"], "the same bytes are one asset"
    exact = {(c.basis, frozenset(m.asset_id for m in c.members)) for c in found.exact}
    assert exact == {
        ("file", frozenset({ids["original.mp4"]})),
        ("stream", frozenset({ids["original.mp4"], ids["original.mkv"]})),
    }
    (by_file,) = [c for c in found.exact if c.basis == "file"]
    assert sorted(Path(s).name for s in by_file.members[0].sources) == ["original copy.mp4", "original.mp4"]
    (cluster,) = found.similar
    copies = {"original.mp4", "original.mkv", "reencoded.avi", "resized.mp4", "trimmed.mp4", "embedded.mp4"}
    assert {m.asset_id for m in cluster.members} == {ids[name] for name in copies}
    assert ids["other.mp4"] not in {m.asset_id for c in found.similar for m in c.members}, "only the intro is shared"
    pairs = {frozenset((p.a, p.b)): p for p in cluster.pairs}
    assert {asset for pair in pairs for asset in pair} == {m.asset_id for m in cluster.members}, "each is in a pair"
    for pair in [p for p in cluster.pairs if ids["original.mp4"] in (p.a, p.b)]:  # the copy's are the original's
        other = pair.b if pair.a == ids["original.mp4"] else pair.a
        twin = pairs[frozenset((ids["original.mkv"], other))]
        assert (twin.relation, twin.offset_s) == (pair.relation, pair.offset_s), other
    inside = pairs[frozenset((ids["original.mp4"], ids["embedded.mp4"]))]
    assert inside.relation == ("a_in_b" if inside.a == ids["original.mp4"] else "b_in_a")
    assert abs(inside.offset_s) == pytest.approx(sum(s.frames for s in dupgen.edit(11, 2).shots) / dupgen.FPS, abs=0.1)
    trim = pairs[frozenset((ids["original.mp4"], ids["trimmed.mp4"]))]
    assert abs(trim.offset_s) == pytest.approx(4.0, abs=0.1)
    assert found.videos_compared == 6 and not found.more_exact and not found.more_similar, (
        "an exact copy is compared once"
    )


def test_the_cli_and_the_api_list_the_same_clusters(library: tuple[Settings, Keys, dict[str, UUID]]) -> None:
    settings, keys, ids = library
    env = {"MEDIASIFT_HOME": str(settings.home), "MEDIASIFT_DATABASE_URL": settings.database_url}
    printed = CliRunner(env=env).invoke(app, ["duplicates", "--json"])
    assert printed.exit_code == 0, printed.output
    cli = json.loads(printed.output)
    assert len(cli["exact"]) == 2 and len(cli["similar"]) == 1
    table = CliRunner(env=env).invoke(app, ["duplicates", "--limit", "1"])
    assert table.exit_code == 0 and "Similar videos 1" in table.output and "trimmed.mp4" in table.output
    assert "More exact clusters than --limit 1." in table.output
    with TestClient(create_app(settings)) as client:
        answer = client.get("/v1/duplicates", headers=bearer(keys.read))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert [c["basis"] for c in body["exact"]] == [c["basis"] for c in cli["exact"]]
        assert {m["asset_id"] for m in body["similar"][0]["members"]} == {
            m["asset_id"] for m in cli["similar"][0]["members"]
        }
        sources = {s for c in body["similar"] for m in c["members"] for s in m["sources"]}
        assert "file:trimmed.mp4" in sources and not any("/" in s for s in sources), "names, never server paths"
        other_tenant = client.get("/v1/duplicates", headers=bearer(keys.other)).json()
        assert other_tenant["exact"] == [] and other_tenant["similar"] == [] and other_tenant["videos_compared"] == 0
        refused = client.get("/v1/duplicates?limit=0", headers=bearer(keys.read))
        assert refused.status_code == 422 and refused.headers["content-type"].startswith("application/problem+json")
        schema = client.get("/openapi.json", headers=bearer(keys.admin)).json()
        assert "DuplicateReport" in schema["components"]["schemas"]
    assert str(ids["other.mp4"]) not in {m["asset_id"] for c in body["similar"] for m in c["members"]}
