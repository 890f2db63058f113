"""Duplicates in a library: exact copies (the same bytes, or the same coded video stream in another
file), and videos that are copies of one another by their temporal fingerprints (re-encoded,
resized, trimmed, or one inside another; :mod:`mediasift.search.fingerprints`), grouped into clusters.

Exact copies come first and apart: a file ingested from several places is one asset with several
sources; a video remuxed or re-tagged is another asset with the same stream hash. Each group of
exact copies enters the fingerprint comparison once, by its first asset.

Which videos to compare: every two that share one of a 64-bit hash's four 16-bit quarters in an
informative sample (a copy shares thousands; a quarter that more than :data:`MAX_BUCKET` videos
share says nothing and is skipped). Each such pair is aligned; those the alignment calls duplicates
join one cluster (connected components).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any
from uuid import UUID

import numpy as np

from mediasift.db import duplicates as duplicate_repo
from mediasift.db.connection import Database
from mediasift.search.fingerprints import Alignment, Fingerprint, align

BANDS = 4  # quarters of a hash, 16 bits each
MAX_BUCKET = 200  # videos sharing one quarter value past which it picks no candidates


@dataclass(frozen=True)
class Member:
    asset_id: UUID
    media_type: str
    sources: list[str]
    duration: float | None


@dataclass(frozen=True)
class ExactCluster:
    """Copies with the same bytes ("file": one asset ingested from several sources, or assets of
    several tenants) or the same coded video stream ("stream")."""

    basis: str
    members: list[Member]


@dataclass(frozen=True)
class SimilarPair:
    a: UUID
    b: UUID
    alignment: Alignment


@dataclass
class SimilarCluster:
    members: list[Member]
    pairs: list[SimilarPair] = field(default_factory=list)


@dataclass(frozen=True)
class Duplicates:
    exact: list[ExactCluster]
    similar: list[SimilarCluster]
    videos_compared: int
    more_exact: bool
    more_similar: bool


def candidate_pairs(prints: list[Fingerprint]) -> set[tuple[int, int]]:
    """Index pairs (i < j) of videos that share a quarter of an informative sample's hash."""
    buckets: dict[tuple[int, int], set[int]] = defaultdict(set)
    for index, print_ in enumerate(prints):
        hashes = print_.hashes[print_.informative]
        for band in range(BANDS):
            for value in np.unique((hashes >> np.uint64(16 * band)) & np.uint64(0xFFFF)):
                buckets[(band, int(value))].add(index)
    pairs: set[tuple[int, int]] = set()
    for members in buckets.values():
        if 1 < len(members) <= MAX_BUCKET:
            pairs.update(combinations(sorted(members), 2))
    return pairs


def similar_pairs(prints: list[Fingerprint]) -> list[SimilarPair]:
    """Every pair of ``prints`` whose alignment calls them duplicates."""
    found = []
    for i, j in sorted(candidate_pairs(prints)):
        alignment = align(prints[i], prints[j])
        if alignment is not None and alignment.duplicate:
            found.append(SimilarPair(prints[i].asset_id, prints[j].asset_id, alignment))
    return found


def clusters(pairs: list[SimilarPair]) -> list[list[UUID]]:
    """The connected components of ``pairs``, each in first-seen order, largest first."""
    parent: dict[UUID, UUID] = {}

    def root(node: UUID) -> UUID:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for pair in pairs:
        parent[root(pair.a)] = root(pair.b)
    groups: dict[UUID, list[UUID]] = defaultdict(list)
    for node in parent:
        groups[root(node)].append(node)
    return sorted(groups.values(), key=len, reverse=True)


def duplicates(db: Database, *, tenant: str | None = None, limit: int = 100) -> Duplicates:
    """Exact copies and clusters of similar videos among ``tenant``'s assets (every tenant's when
    None), at most ``limit`` clusters of each, the largest first."""
    members: dict[UUID, Member] = {}
    by_stream: dict[str, list[UUID]] = defaultdict(list)
    prints: list[Fingerprint] = []
    with db.transaction() as conn:
        # Each stored fingerprint is made a compact one as it is read (its parsed JSON is 6x the size),
        # and only the oldest video of each coded stream is compared: the others are its exact copies.
        for row in duplicate_repo.fingerprints(conn, tenant):
            members[row["asset_id"]] = _member(row)
            copies = by_stream[row["data"]["stream_sha256"]]
            if not copies:
                prints.append(Fingerprint.of(row["asset_id"], row["data"]))
            copies.append(row["asset_id"])
        file_copies = duplicate_repo.file_copies(conn, tenant)
        for group in file_copies:
            for row in group:
                members.setdefault(row["asset_id"], _member(row))
    exact = [ExactCluster("file", [members[row["asset_id"]] for row in group]) for group in file_copies]
    same_file = {row["asset_id"] for group in file_copies for row in group}
    exact += [
        ExactCluster("stream", [members[asset] for asset in group])
        for group in by_stream.values()
        if len(group) > 1 and not set(group) <= same_file
    ]
    exact.sort(key=lambda cluster: len(cluster.members), reverse=True)
    represented = {group[0]: group for group in by_stream.values()}
    pairs = similar_pairs(prints)
    similar = []
    for component in clusters(pairs):
        inside = set(component)
        cluster = SimilarCluster([members[asset] for head in component for asset in represented[head]])
        cluster.pairs = [pair for pair in pairs if pair.a in inside]
        similar.append(cluster)
    return Duplicates(
        exact=exact[:limit],
        similar=similar[:limit],
        videos_compared=len(prints),
        more_exact=len(exact) > limit,
        more_similar=len(similar) > limit,
    )


def _member(row: dict[str, Any]) -> Member:
    duration = row["duration"]
    return Member(
        row["asset_id"], str(row["media_type"]), list(row["sources"]), None if duration is None else float(duration)
    )
