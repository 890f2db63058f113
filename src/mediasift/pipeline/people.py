"""Faces grouped into people, incrementally, across all assets of a tenant.

Each new face (in the order stored) joins the person whose centroid (the normalised sum of its faces'
unit vectors) is nearest, when the cosine similarity reaches ``PERSON_MIN_SIMILARITY``; otherwise it
starts a new person. A centroid rather than the nearest single face: one blurred or odd face cannot
chain two people together. A person left with no face has no centroid: its name stays, and faces
are merged into it by hand.

Then each person that took faces is joined with any other whose centroid has come within the same
line of its own. Without it the order of arrival decides: a first picture far from a person's usual
look starts a second person, and the later pictures, each nearer one mean or the other, feed both.
On real photos no threshold here was chosen on (``eval/people.py``'s held-apart set: one man's five
faces in three press photos, two of them also cropped), he ended as more than one person in 20% of
200 arrival orders, and as one in all of them with the join; no other face (a second man, 22 women of six
group photos) joined anyone either way. Two named people are never joined, nor the two halves of a
split (:func:`mediasift.db.people.keep_apart`).

The threshold is measured on what can be had here (``eval/people.py``, dlib's model over YuNet's
landmarks): 18 pictures of the astronaut (crops, scales, mirror, exposure, JPEG at quality 15,
rotation, grey, pasted onto other photos) are at 0.973 or more to each other; no other face (the
cameraman, 90 LFW faces) comes above 0.923 to any of them. 0.95 sits between. On the real photos held
apart the margin is thin: the man's faces are 0.939 or more to each other, and two women of one group
photo up to 0.935, so a single pair of real pictures of one person can fall below the line.
"""

from __future__ import annotations

from uuid import UUID

from mediasift.db import people as people_repo
from mediasift.db.people import Conn

PERSON_MIN_SIMILARITY = 0.95


def assign_new_faces(conn: Conn, asset_id: UUID, min_similarity: float = PERSON_MIN_SIMILARITY) -> int:
    """Put the asset's faces that are in no person yet into people; how many were placed. Runs in the
    caller's transaction, under the tenant's people lock."""
    faces = people_repo.unassigned_faces(conn, asset_id)
    if not faces:
        return 0
    people_repo.lock_tenant(conn, faces[0]["tenant"])
    placed: set[int] = set()
    for face in faces:
        nearest = people_repo.nearest_person(conn, face["tenant"], face["model"], face["embedding"])
        if nearest is not None and nearest[1] >= min_similarity:
            person = nearest[0]
            people_repo.add_face(conn, person, face["id"], face["embedding"])
        else:
            person = people_repo.create_person(conn, face["tenant"], face["model"], face["embedding"])
            people_repo.add_face(conn, person, face["id"], face["embedding"], first=True)
        placed.add(person)
    for person in sorted(placed):
        join_those_that_meet(conn, person, min_similarity)
    return len(faces)


def join_those_that_meet(conn: Conn, person_id: int, min_similarity: float = PERSON_MIN_SIMILARITY) -> int:
    """Join ``person_id`` with each other person whose centroid is within ``min_similarity`` of its own,
    nearest first, the joined centroid asked again after each; the id the person ends with (a person
    joined into an older or named one takes its id)."""
    while (nearest := people_repo.nearest_other_person(conn, person_id)) is not None and nearest[1] >= min_similarity:
        person_id = people_repo.join(conn, person_id, nearest[0])
    return person_id
