"""People of a tenant: faces grouped as one person each (``pipeline/people.py`` groups new faces as
they are found), and what a person can do to them: list, look at, name, merge, split."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

from mediasift import cursors
from mediasift.db import people as people_repo
from mediasift.db.connection import Database
from mediasift.db.people import Conn
from mediasift.service_errors import BadPersonName, PersonConflict, PersonNotFound
from mediasift.service_models import (
    Appearance,
    PeopleMerged,
    PeopleSplit,
    Person,
    PersonDetail,
    PersonList,
)

MAX_NAME = 200


# Characters that turn the text around them right to left or back: a name holding them shows as
# another name (U+202E before "evil" shows "live").
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _clean_name(name: str | None) -> str | None:
    """``name`` with its spaces made single, or None for a blank one (spaces, or format characters
    alone: a zero-width space is no name); :class:`BadPersonName` for one no person can have."""
    if name is None:
        return None
    cleaned = " ".join(name.split())
    if any(ord(c) < 32 or ord(c) == 127 for c in cleaned):
        raise BadPersonName("a name holds no control characters")
    if any(c in BIDI_CONTROLS for c in cleaned):
        raise BadPersonName("a name holds no right-to-left or left-to-right marks: they make it show as another")
    if "/" in cleaned:  # a person is reached by name in a URL's path (/v1/people/{name})
        raise BadPersonName("a name holds no '/': the person could not be reached by name")
    if len(cleaned) > MAX_NAME:
        raise BadPersonName(f"a name has at most {MAX_NAME} characters")
    if cleaned.isdigit():  # a person is found by id or name: "2" would name two people
        raise BadPersonName(f"a name cannot be only digits: {cleaned!r} reads as a person's id")
    if all(unicodedata.category(c) == "Cf" for c in cleaned):
        return None
    return cleaned


class People:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _find(self, conn: Conn, tenant: str, ref: str | int) -> dict[str, object]:
        """A person of ``tenant`` by id (a number) or name (any case)."""
        text = str(ref).strip()
        is_id = text.isascii() and text.isdigit() and len(text) <= 18  # a bigint, not a name of digits
        row = people_repo.get_person(conn, tenant, int(text)) if is_id else None
        if row is None:
            row = people_repo.find_by_name(conn, tenant, text)
        if row is None:
            raise PersonNotFound(f"no person {text!r}")
        return row

    def page(self, tenant: str, *, cursor: str | None = None, limit: int = 100) -> PersonList:
        """The tenant's people, oldest first, after ``cursor``; BadCursor for one not given here."""
        after = None
        if cursor is not None:
            (after,) = cursors.decode(cursor, 1)
            if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after < 2**63:
                raise cursors.BadCursor("not a cursor this API gave (use next_cursor as it came)")
        with self.db.transaction() as conn:
            rows = people_repo.list_people(conn, tenant, limit=limit + 1, after_id=after)
        more = len(rows) > limit
        people = [Person.of(row) for row in rows[:limit]]
        return PersonList(people=people, next_cursor=cursors.encode([people[-1].id]) if more else None)

    def get(self, tenant: str, ref: str | int, *, limit: int = 100) -> PersonDetail:
        """A person (by id or name) and where they appear; PersonNotFound when the tenant has none."""
        with self.db.transaction() as conn:
            row = self._find(conn, tenant, ref)
            faces = people_repo.faces_of(conn, tenant, int(str(row["id"])), limit=limit)
        return PersonDetail(**Person.of(row).model_dump(), appearances=[_appearance(f) for f in faces])

    def first_appearances(self, tenant: str, person_ids: Sequence[int]) -> dict[int, Appearance]:
        """Where each of the tenant's ``person_ids`` appears first (as :meth:`get` lists them), in one
        query; people of other tenants, or with no face, are missing."""
        with self.db.transaction() as conn:
            faces = people_repo.first_faces(conn, tenant, list(person_ids))
        return {person_id: _appearance(face) for person_id, face in faces.items()}

    def name(self, tenant: str, ref: str | int, name: str | None) -> Person:
        """Name (or, with None or blank, unname) a person. PersonConflict when another person of the
        tenant has that name already: merge them instead."""
        cleaned = _clean_name(name)
        with self.db.transaction() as conn:
            people_repo.lock_tenant(conn, tenant)
            row = self._find(conn, tenant, ref)
            if cleaned is not None:
                other = people_repo.find_by_name(conn, tenant, cleaned)
                if other is not None and other["id"] != row["id"]:
                    raise PersonConflict(f"person {other['id']} is already named {other['name']!r}: merge them instead")
            people_repo.set_name(conn, int(str(row["id"])), cleaned)
            return Person.of(self._find(conn, tenant, int(str(row["id"]))))

    def merge(self, tenant: str, into: str | int, others: Sequence[str | int]) -> PeopleMerged:
        """Move every face of ``others`` into ``into``, which keeps its name (or takes the first name
        among ``others`` when it has none); the others are gone."""
        with self.db.transaction() as conn:
            people_repo.lock_tenant(conn, tenant)
            target = self._find(conn, tenant, into)
            target_id = int(str(target["id"]))
            sources = [self._find(conn, tenant, ref) for ref in others]
            ids = sorted({int(str(s["id"])) for s in sources})
            if target_id in ids:
                raise PersonConflict(f"person {target_id} cannot be merged into itself: name the others to merge")
            if not ids:
                raise PersonConflict(f"name at least one other person to merge into person {target_id}")
            name = target["name"] or next((s["name"] for s in sources if s["name"]), None)
            people_repo.merge_into(conn, target_id, ids)
            if name != target["name"]:
                people_repo.set_name(conn, target_id, str(name))
            return PeopleMerged(person=Person.of(self._find(conn, tenant, target_id)), merged=ids)

    def split(self, tenant: str, ref: str | int, face_ids: Sequence[int], name: str | None = None) -> PeopleSplit:
        """Move ``face_ids`` (faces of the person) out into a new person, named ``name`` if given; the two
        are never joined again but by hand."""
        cleaned = _clean_name(name)
        with self.db.transaction() as conn:
            people_repo.lock_tenant(conn, tenant)
            row = self._find(conn, tenant, ref)
            person_id = int(str(row["id"]))
            faces = people_repo.faces_in(conn, tenant, sorted(set(face_ids)))
            if not faces or len(faces) != len(set(face_ids)) or any(f["person_id"] != person_id for f in faces):
                raise PersonConflict(f"split takes faces of person {person_id}, and only those")
            if int(str(row["face_count"])) <= len(faces):
                raise PersonConflict("a split leaves at least one face with the person: rename it instead")
            if cleaned is not None and people_repo.find_by_name(conn, tenant, cleaned) is not None:
                raise PersonConflict(f"a person is already named {cleaned!r}")
            new_id = people_repo.create_person(conn, tenant, faces[0]["model"], faces[0]["embedding"], cleaned)
            people_repo.attach_faces(conn, new_id, [f["id"] for f in faces])
            people_repo.keep_apart(conn, person_id, new_id)
            return PeopleSplit(
                person=Person.of(self._find(conn, tenant, person_id)),
                split_off=Person.of(self._find(conn, tenant, new_id)),
            )


def _appearance(face: dict[str, Any]) -> Appearance:
    return Appearance(face_id=face["id"], asset_id=face["asset_id"], media_type=face["media_type"],
                      start=face["start_s"], end=face["end_s"], box=list(face["box"]),
                      confidence=face["confidence"], frame=face["key"])  # fmt: skip
