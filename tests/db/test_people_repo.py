"""People in the database, with face vectors made to measure: the grouping threshold just either side
of its line, for a face and for two people's means, a deleted face taken off its person's mean, what
is kept of a person whose last face goes (nothing but a name) against one whose picture is analysed
again (found again), and the names and splits that keep two people apart."""

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
from mediasift.service_people import People

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


def turned(degrees: float) -> np.ndarray:
    """The unit vector ``degrees`` from ``axis(0)`` towards ``axis(1)``."""
    angle = np.radians(degrees)
    return (np.cos(angle) * axis(0) + np.sin(angle) * axis(1)).astype(np.float32)


# One face at 0 degrees, another past the line from it (a person each); a third near the first joins it
# and pulls its mean halfway towards itself.
APART_DEGREES = float(np.degrees(np.arccos(PERSON_MIN_SIMILARITY - 0.01)))


def third_face_bringing_the_means_to(cosine: float) -> np.ndarray:
    """A face that joins the person at 0 degrees and moves its mean to ``cosine`` of the one at APART_DEGREES."""
    return turned(2 * (APART_DEGREES - float(np.degrees(np.arccos(cosine)))))


def two_people(db: Database) -> list[dict[str, Any]]:
    picture(db, "usual look", [axis(0)])
    picture(db, "odd look", [turned(APART_DEGREES)])
    found = people(db)
    assert [p["face_count"] for p in found] == [1, 1]
    return found


def test_two_people_whose_means_come_within_the_line_are_joined_and_just_outside_it_are_not(db: Database) -> None:
    first, second = two_people(db)
    outside = picture(db, "just outside", [third_face_bringing_the_means_to(PERSON_MIN_SIMILARITY - 0.002)])
    assert [(p["id"], p["face_count"]) for p in people(db)] == [(first["id"], 2), (second["id"], 1)]

    with db.transaction() as conn:  # the same mean moved just inside: one person, the older id
        erasure.erase_asset(conn, outside, "default")
    picture(db, "just inside", [third_face_bringing_the_means_to(PERSON_MIN_SIMILARITY + 0.002)])
    (one,) = people(db)
    assert (one["id"], one["face_count"]) == (first["id"], 3)
    expected = axis(0) + turned(APART_DEGREES) + third_face_bringing_the_means_to(PERSON_MIN_SIMILARITY + 0.002)
    np.testing.assert_allclose(centroid(one), expected / np.linalg.norm(expected), atol=1e-5)


def test_a_named_person_keeps_its_name_and_id_when_joined_and_two_named_are_never_joined(db: Database) -> None:
    first, second = two_people(db)
    with db.transaction() as conn:
        people_repo.set_name(conn, second["id"], "Bea")
    picture(db, "bridge", [third_face_bringing_the_means_to(PERSON_MIN_SIMILARITY + 0.01)])
    (one,) = people(db)
    assert (one["id"], one["name"], one["face_count"]) == (second["id"], "Bea", 3)

    with db.transaction() as conn:
        conn.execute("DELETE FROM faces")
        conn.execute("DELETE FROM people")
    first, second = two_people(db)
    with db.transaction() as conn:
        people_repo.set_name(conn, first["id"], "Ada")
        people_repo.set_name(conn, second["id"], "Bea")
    picture(db, "bridge again", [third_face_bringing_the_means_to(PERSON_MIN_SIMILARITY + 0.01)])
    assert [(p["name"], p["face_count"]) for p in people(db)] == [("Ada", 2), ("Bea", 1)]


def test_the_halves_of_a_split_are_not_joined_again_and_a_merge_carries_that_over(db: Database) -> None:
    picture(db, "one", [axis(0)])
    picture(db, "two", [turned(12)])  # cosine 0.978: the same person
    (person,) = people(db)
    with db.connect() as conn:
        second_face = conn.execute("SELECT max(id) AS id FROM faces").fetchone()["id"]
    split = People(db).split("default", person["id"], [second_face])
    picture(db, "three", [turned(1)])  # joins the first half, whose mean is 11.5 degrees from the other
    assert [p["face_count"] for p in people(db)] == [2, 1]

    third = picture(db, "someone else", [axis(3)])
    with db.connect() as conn:
        other_id = conn.execute("SELECT person_id FROM faces WHERE asset_id = %s", (third,)).fetchone()["person_id"]
    People(db).merge("default", other_id, [split.split_off.id])  # the split-off half, merged by hand
    with db.connect() as conn:  # whom the merged half was kept apart from, the person it joined is
        pairs = conn.execute("SELECT person_a, person_b FROM people_apart").fetchall()
    assert [(r["person_a"], r["person_b"]) for r in pairs] == [tuple(sorted((person["id"], other_id)))]
