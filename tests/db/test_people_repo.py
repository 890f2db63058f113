"""People in the database, with face vectors made to measure: the grouping threshold just either side
of its line, a deleted face taken off its person's mean, and what is kept of a person whose last face
goes (nothing but a name) against one whose picture is analysed again (found again)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import numpy as np
import pytest

from mediasift.config import Settings
from mediasift.db import erasure
from mediasift.db import people as people_repo
from mediasift.db import results as result_repo
from mediasift.db.connection import Database
from mediasift.models import ModelRef
from mediasift.pipeline.operator import params_hash
from mediasift.pipeline.people import PERSON_MIN_SIMILARITY, assign_new_faces
from mediasift.records import FaceOut, OperatorResult, SegmentOut

from support.registration import register

FACE_MODEL = ModelRef("test-faces", "1")
DIM = 16


@pytest.fixture
def db(settings: Settings) -> Database:
    return Database(settings)


def axis(i: int) -> np.ndarray:
    vector = np.zeros(DIM, dtype=np.float32)
    vector[i] = 1.0
    return vector


def at_cosine(centre: np.ndarray, cosine: float, away: int) -> np.ndarray:
    """A unit vector at ``cosine`` to the unit ``centre``, turned towards ``axis(away)`` (orthogonal to it)."""
    return (cosine * centre + np.sqrt(1.0 - cosine**2) * axis(away)).astype(np.float32)


def analyse(db: Database, asset_id: UUID, vectors: list[np.ndarray]) -> None:
    """Store ``vectors`` as the faces of the asset's picture and group them, as a faces job does: the
    previous faces go and the new ones come in one transaction."""
    now = datetime.now(UTC)
    run = result_repo.RunRecord(
        asset_id=asset_id, operator="faces", operator_version="1", params={}, params_hash=params_hash({}),
        model=FACE_MODEL.id, model_version=FACE_MODEL.version, started_at=now, finished_at=now, duration_ms=1.0,
    )  # fmt: skip
    result = OperatorResult(
        segments=[SegmentOut(kind="faces", key="picture")],
        faces=[FaceOut("picture", i, (0, 0, 10, 10), 0.9, FACE_MODEL, v) for i, v in enumerate(vectors)],
    )
    with db.transaction() as conn:
        result_repo.replace_results(conn, run, result, [])
        assign_new_faces(conn, asset_id)


def picture(db: Database, name: str, vectors: list[np.ndarray]) -> UUID:
    asset_id, _ = register(db, name.encode(), f"/{name}")
    analyse(db, asset_id, vectors)
    return UUID(str(asset_id))


def people(db: Database) -> list[dict[str, Any]]:
    with db.connect() as conn:
        return list(
            conn.execute(
                "SELECT id, name, face_count, centroid, vector_sum FROM people WHERE tenant = 'default' ORDER BY id"
            ).fetchall()
        )


def centroid(row: dict[str, Any]) -> np.ndarray:
    return np.asarray(row["centroid"].to_numpy(), dtype=np.float32)


def test_a_face_just_above_the_threshold_joins_and_one_just_below_starts_a_person(db: Database) -> None:
    picture(db, "first", [axis(0)])
    picture(db, "above", [at_cosine(axis(0), PERSON_MIN_SIMILARITY + 0.002, away=1)])
    (one,) = people(db)
    assert one["face_count"] == 2
    mean = centroid(one)
    picture(db, "below", [at_cosine(mean, PERSON_MIN_SIMILARITY - 0.002, away=2)])
    assert [p["face_count"] for p in people(db)] == [2, 1]


def test_a_deleted_face_is_taken_off_its_persons_mean(db: Database) -> None:
    faces = [axis(0), at_cosine(axis(0), 0.99, away=1), at_cosine(axis(0), 0.98, away=2)]
    assets = [picture(db, f"p{i}", [face]) for i, face in enumerate(faces)]
    with db.transaction() as conn:
        assert erasure.erase_asset(conn, assets[1], "default") is not None
    (person,) = people(db)
    left = faces[0] + faces[2]
    assert person["face_count"] == 2
    np.testing.assert_allclose(centroid(person), left / np.linalg.norm(left), atol=1e-5)


def test_a_named_person_whose_last_face_is_deleted_keeps_only_the_name(db: Database) -> None:
    asset_id = picture(db, "only", [axis(0)])
    (person,) = people(db)
    with db.transaction() as conn:
        people_repo.set_name(conn, person["id"], "Ada")
        erasure.erase_asset(conn, asset_id, "default")
    (kept,) = people(db)
    assert (kept["name"], kept["face_count"], kept["centroid"], kept["vector_sum"]) == ("Ada", 0, None, None)

    picture(db, "same face, new asset", [axis(0)])  # no mean face left to match: a person of its own
    assert [(p["name"], p["face_count"]) for p in people(db)] == [("Ada", 0), (None, 1)]


def test_an_unnamed_person_goes_with_its_last_face(db: Database) -> None:
    asset_id = picture(db, "only", [axis(0)])
    with db.transaction() as conn:
        erasure.erase_asset(conn, asset_id, "default")
    assert people(db) == []


def test_a_named_persons_only_picture_analysed_again_finds_them_with_the_new_face(db: Database) -> None:
    asset_id = picture(db, "only", [axis(0)])
    (person,) = people(db)
    with db.transaction() as conn:
        people_repo.set_name(conn, person["id"], "Ada")
    new_face = at_cosine(axis(0), 0.97, away=1)
    analyse(db, asset_id, [new_face])
    (again,) = people(db)
    assert (again["id"], again["name"], again["face_count"]) == (person["id"], "Ada", 1)
    np.testing.assert_allclose(centroid(again), new_face, atol=1e-5)  # the old face left nothing behind

    analyse(db, asset_id, [])  # analysed again, and no face found this time: nothing of a face is kept
    (empty,) = people(db)
    assert (empty["name"], empty["face_count"], empty["centroid"]) == ("Ada", 0, None)
