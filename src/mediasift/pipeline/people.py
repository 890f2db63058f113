"""Faces grouped into people, incrementally, across all assets of a tenant.

Each new face (in the order stored) joins the person whose centroid (the normalised sum of its faces'
unit vectors) is nearest, when the cosine similarity reaches ``PERSON_MIN_SIMILARITY``; otherwise it
starts a new person. A centroid rather than the nearest single face: one blurred or odd face cannot
chain two people together. A person left with no face has no centroid: its name stays, and faces
are merged into it by hand.

The threshold is measured on what can be had here (``eval/people.py``, dlib's model over YuNet's
landmarks): 18 pictures of the astronaut (crops, scales, mirror, exposure, JPEG at quality 15,
rotation, grey, pasted onto other photos) are at 0.973 or more to each other; no other face (the
cameraman, 90 LFW faces) comes above 0.923 to any of them. 0.95 sits between.
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
    for face in faces:
        nearest = people_repo.nearest_person(conn, face["tenant"], face["model"], face["embedding"])
        if nearest is not None and nearest[1] >= min_similarity:
            people_repo.add_face(conn, nearest[0], face["id"], face["embedding"])
        else:
            person = people_repo.create_person(conn, face["tenant"], face["model"], face["embedding"])
            people_repo.add_face(conn, person, face["id"], face["embedding"], first=True)
    return len(faces)
