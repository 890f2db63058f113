"""Repository for faces and the people they are grouped into (tables of migration 0009).

A person's ``centroid`` is its ``vector_sum`` normalised; both move together whenever faces join or
leave it here, and both are NULL once a transaction ends with the person holding no face (a named
person whose faces were all deleted keeps its name, not a mean face of deleted pictures; migration
0011). Every change of a tenant's people happens under that tenant's advisory lock
(:func:`lock_tenant`), so two workers grouping faces at once cannot both start the same person.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import numpy as np
from psycopg import Connection

Conn = Connection[dict[str, Any]]

PERSON_FIELDS = """p.id, p.model, p.tenant, p.name, p.face_count, p.created_at, p.updated_at,
    (SELECT count(DISTINCT f.asset_id) FROM faces f WHERE f.person_id = p.id) AS asset_count"""


def _array(vector: Any) -> np.ndarray:
    """A vector as numpy: ``embedding`` columns without a dimension come back as pgvector's ``Vector``."""
    return np.asarray(vector.to_numpy() if hasattr(vector, "to_numpy") else vector, dtype=np.float32)


def lock_tenant(conn: Conn, tenant: str) -> None:
    """Hold the tenant's people lock until the transaction ends."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('people:' || %s, 0))", (tenant,))


def insert_faces(
    conn: Conn, asset_id: UUID, rows: Sequence[tuple[int, int, Sequence[int], float, str, str, Any]]
) -> None:
    """Faces of the asset's segments: (segment id, index in it, box, confidence, model, version, vector)."""
    for segment_id, index, box, confidence, model, version, vector in rows:
        conn.execute(
            """
            INSERT INTO faces (asset_id, segment_id, tenant, face_index, box, confidence, model, model_version,
                               embedding)
            SELECT %s, %s, a.tenant, %s, %s, %s, %s, %s, %s FROM assets a WHERE a.id = %s
            """,
            (asset_id, segment_id, index, list(box), confidence, model, version, _array(vector), asset_id),
        )  # fmt: skip


def unassigned_faces(conn: Conn, asset_id: UUID) -> list[dict[str, Any]]:
    """The asset's faces in no person yet, oldest first, with their tenant and vector."""
    return list(
        conn.execute(
            "SELECT id, tenant, model, embedding FROM faces WHERE asset_id = %s AND person_id IS NULL ORDER BY id",
            (asset_id,),
        ).fetchall()
    )


def nearest_person(conn: Conn, tenant: str, model: str, vector: Any) -> tuple[int, float] | None:
    """The tenant's person (of ``model``'s vectors) whose centroid is nearest to ``vector``, and the
    cosine similarity. An exact scan: a tenant has thousands of people, not millions."""
    row = conn.execute(
        """
        SELECT id, 1 - (centroid <=> %(v)s) AS similarity FROM people
        WHERE tenant = %(t)s AND model = %(m)s AND centroid IS NOT NULL ORDER BY centroid <=> %(v)s, id LIMIT 1
        """,
        {"v": _array(vector), "t": tenant, "m": model},
    ).fetchone()
    return None if row is None else (int(row["id"]), float(row["similarity"]))


def nearest_other_person(conn: Conn, person_id: int) -> tuple[int, float] | None:
    """The person of the same tenant and model whose centroid is nearest to ``person_id``'s, and the
    cosine similarity, among those it could be joined with: not one it is kept apart from
    (:func:`keep_apart`), and not a named one when it is named too (two names are two people)."""
    row = conn.execute(
        """
        SELECT o.id, 1 - (o.centroid <=> p.centroid) AS similarity
        FROM people p JOIN people o ON o.tenant = p.tenant AND o.model = p.model AND o.id <> p.id
        WHERE p.id = %(p)s AND p.centroid IS NOT NULL AND o.centroid IS NOT NULL
          AND (p.name IS NULL OR o.name IS NULL)
          AND NOT EXISTS (SELECT 1 FROM people_apart a
                          WHERE a.person_a = least(p.id, o.id) AND a.person_b = greatest(p.id, o.id))
        ORDER BY o.centroid <=> p.centroid, o.id LIMIT 1
        """,
        {"p": person_id},
    ).fetchone()
    return None if row is None else (int(row["id"]), float(row["similarity"]))


def join(conn: Conn, person_id: int, other_id: int) -> int:
    """The two as one person, which keeps the name of either (or the older id); that person's id."""
    rows = conn.execute(
        "SELECT id FROM people WHERE id IN (%s, %s) ORDER BY name IS NULL, id", (person_id, other_id)
    ).fetchall()
    kept = int(rows[0]["id"])
    merge_into(conn, kept, [other_id if kept == person_id else person_id])
    return kept


def keep_apart(conn: Conn, person_id: int, other_id: int) -> None:
    """Record that the two are not one person: they are never joined but by hand."""
    conn.execute(
        "INSERT INTO people_apart (person_a, person_b) VALUES (least(%(a)s, %(b)s), greatest(%(a)s, %(b)s)) "
        "ON CONFLICT DO NOTHING",
        {"a": person_id, "b": other_id},
    )


def create_person(conn: Conn, tenant: str, model: str, vector: Any, name: str | None = None) -> int:
    """A person seeded with ``vector`` (no face in it yet: join it with :func:`add_face` or
    :func:`attach_faces`, which count it)."""
    row = conn.execute(
        """
        INSERT INTO people (tenant, name, model, vector_sum, centroid)
        VALUES (%(t)s, %(n)s, %(m)s, %(v)s, l2_normalize(%(v)s)) RETURNING id
        """,
        {"t": tenant, "n": name, "m": model, "v": _array(vector)},
    ).fetchone()
    assert row is not None
    return int(row["id"])


def attach_faces(conn: Conn, person_id: int, face_ids: Sequence[int]) -> None:
    """Move faces into ``person_id`` (from no person or another) and bring the centroids of every
    person they touch up to date."""
    if not face_ids:
        return
    before = conn.execute(
        "SELECT DISTINCT person_id FROM faces WHERE id = ANY(%s) AND person_id IS NOT NULL AND person_id <> %s",
        (list(face_ids), person_id),
    ).fetchall()
    conn.execute("UPDATE faces SET person_id = %s WHERE id = ANY(%s)", (person_id, list(face_ids)))
    refresh(conn, [person_id, *(int(r["person_id"]) for r in before)])


def add_face(conn: Conn, person_id: int, face_id: int, vector: Any, *, first: bool = False) -> None:
    """One new face joins ``person_id``: its vector added to the sum (no rescan of the person's faces);
    ``first``: the person was just seeded with this vector."""
    conn.execute("UPDATE faces SET person_id = %s WHERE id = %s", (person_id, face_id))
    conn.execute(
        """
        UPDATE people SET vector_sum = vector_sum + %(v)s, face_count = face_count + 1, updated_at = now(),
            centroid = l2_normalize(vector_sum + %(v)s)
        WHERE id = %(p)s
        """,
        {"v": np.zeros_like(_array(vector)) if first else _array(vector), "p": person_id},
    )


def refresh(conn: Conn, person_ids: Sequence[int]) -> None:
    """Centroids of ``person_ids`` made again from the faces they hold now (none, at commit, for a
    person whose faces all left)."""
    conn.execute(
        """
        UPDATE people p SET vector_sum = s.total, centroid = l2_normalize(s.total), face_count = s.n,
            updated_at = now()
        FROM (SELECT person_id, sum(embedding) AS total, count(*) AS n FROM faces
              WHERE person_id = ANY(%s) GROUP BY person_id) s
        WHERE p.id = s.person_id
        """,
        (list(person_ids),),
    )
    conn.execute(
        """
        UPDATE people p SET face_count = 0, updated_at = now()
        WHERE p.id = ANY(%s) AND NOT EXISTS (SELECT 1 FROM faces f WHERE f.person_id = p.id)
        """,
        (list(person_ids),),
    )


def list_people(conn: Conn, tenant: str, *, limit: int, after_id: int | None = None) -> list[dict[str, Any]]:
    """The tenant's people, most faces first would need a sort key that moves; by id instead (stable
    pages): named ones and unnamed alike."""
    return list(
        conn.execute(
            f"SELECT {PERSON_FIELDS} FROM people p WHERE p.tenant = %s AND p.id > %s ORDER BY p.id LIMIT %s",
            (tenant, after_id or 0, limit),
        ).fetchall()
    )


def get_person(conn: Conn, tenant: str, person_id: int) -> dict[str, Any] | None:
    return conn.execute(
        f"SELECT {PERSON_FIELDS} FROM people p WHERE p.tenant = %s AND p.id = %s", (tenant, person_id)
    ).fetchone()


def known(conn: Conn, ref: str, tenant: str | None) -> bool:
    """Whether a person of ``tenant`` (of any tenant when None) has the name (any case) or the id
    ``ref``, as a search's person filter matches them."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM people p WHERE (%(tenant)s::text IS NULL OR p.tenant = %(tenant)s)"
        " AND (lower(p.name) = lower(%(ref)s) OR p.id::text = %(ref)s)) AS known",
        {"tenant": tenant, "ref": ref},
    ).fetchone()
    return bool(row and row["known"])


def find_by_name(conn: Conn, tenant: str, name: str) -> dict[str, Any] | None:
    return conn.execute(
        f"SELECT {PERSON_FIELDS} FROM people p WHERE p.tenant = %s AND lower(p.name) = lower(%s)", (tenant, name)
    ).fetchone()


def set_name(conn: Conn, person_id: int, name: str | None) -> None:
    conn.execute("UPDATE people SET name = %s, updated_at = now() WHERE id = %s", (name, person_id))


def delete_person(conn: Conn, person_id: int) -> None:
    conn.execute("DELETE FROM people WHERE id = %s", (person_id,))


def first_faces(conn: Conn, tenant: str, person_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Each person's first face in :func:`faces_of`'s order (newest asset first), in one query:
    what a page of people shows per person. A person with no face is missing."""
    rows = conn.execute(
        """
        SELECT p.id AS person_id, f.*
        FROM unnest(%s::bigint[]) AS p (id) CROSS JOIN LATERAL (
            SELECT f.id, f.asset_id, f.box, f.confidence, s.start_s, s.end_s, s.key, a.media_type
            FROM faces f JOIN segments s ON s.id = f.segment_id JOIN assets a ON a.id = f.asset_id
            WHERE f.person_id = p.id AND f.tenant = %s
            ORDER BY a.created_at DESC, f.asset_id, s.start_s NULLS FIRST, f.id
            LIMIT 1
        ) f
        """,
        (person_ids, tenant),
    ).fetchall()
    return {int(row["person_id"]): row for row in rows}


def faces_of(conn: Conn, tenant: str, person_id: int, *, limit: int) -> list[dict[str, Any]]:
    """Where a person appears: each face with its asset, time range and box, newest asset first."""
    return list(
        conn.execute(
            """
            SELECT f.id, f.asset_id, f.box, f.confidence, s.start_s, s.end_s, s.key, a.media_type
            FROM faces f JOIN segments s ON s.id = f.segment_id JOIN assets a ON a.id = f.asset_id
            WHERE f.person_id = %s AND f.tenant = %s
            ORDER BY a.created_at DESC, f.asset_id, s.start_s NULLS FIRST, f.id
            LIMIT %s
            """,
            (person_id, tenant, limit),
        ).fetchall()
    )


def faces_in(conn: Conn, tenant: str, face_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The faces of ``face_ids`` that are the tenant's, with the person each is in."""
    return list(
        conn.execute(
            "SELECT id, person_id, model, embedding FROM faces WHERE tenant = %s AND id = ANY(%s) ORDER BY id",
            (tenant, list(face_ids)),
        ).fetchall()
    )


def faces_of_asset(conn: Conn, asset_id: UUID) -> list[dict[str, Any]]:
    return list(
        conn.execute(
            "SELECT f.id, f.person_id, p.name, f.box, f.confidence, f.segment_id FROM faces f "
            "LEFT JOIN people p ON p.id = f.person_id WHERE f.asset_id = %s ORDER BY f.segment_id, f.face_index",
            (asset_id,),
        ).fetchall()
    )


def merge_into(conn: Conn, target_id: int, source_ids: Sequence[int]) -> None:
    """Every face of ``source_ids`` into ``target_id``, whose centroid is made again; the sources go,
    and whom they were kept apart from, the target is kept apart from (but not from itself)."""
    conn.execute(  # first: a source left without faces goes at once (its trigger), and its pairs with it
        """
        INSERT INTO people_apart (person_a, person_b)
        SELECT DISTINCT least(%(t)s, other), greatest(%(t)s, other) FROM (
            SELECT CASE WHEN person_a = ANY(%(s)s) THEN person_b ELSE person_a END AS other
            FROM people_apart WHERE person_a = ANY(%(s)s) OR person_b = ANY(%(s)s)
        ) pairs
        WHERE other <> %(t)s AND NOT other = ANY(%(s)s)
        ON CONFLICT DO NOTHING
        """,
        {"t": target_id, "s": list(source_ids)},
    )
    conn.execute("UPDATE faces SET person_id = %s WHERE person_id = ANY(%s)", (target_id, list(source_ids)))
    conn.execute("DELETE FROM people WHERE id = ANY(%s)", (list(source_ids),))
    refresh(conn, [target_id])
