"""Duplicates in a library: exact copies (the same bytes, or the same coded video stream in another
file), and videos that are copies of one another by their temporal fingerprints (re-encoded,
resized, trimmed, or one inside another; :mod:`mediasift.search.fingerprints`), grouped into clusters.

Exact copies come first and apart: a file ingested from several places is one asset with several
sources; a video remuxed or re-tagged is another asset with the same stream hash. Each group of
exact copies enters the fingerprint comparison once, by its first asset.

Which videos to compare: every two that share at least :data:`MIN_SHARED` keys, a key being two of
the four 16-bit quarters of an informative sample's 64-bit hash (six keys a sample, 32 bits each).
A re-encoded copy keeps most of its hashes' quarters, so its samples keep keys: the eval's copies,
re-encodes at 60 kbit/s among them, share 26 or more with their original (``eval/duplicates.py``).
Two unrelated videos share a 32-bit key by chance about once in 4 billion pairs of samples. Sharing
one 16-bit quarter, as this used to ask, made nearly every two videos candidates: 73% of the pairs of
a library of 1,000 one-minute videos (``bench/duplicates.py``), each pair aligned (0.15 ms). A key
that more than :data:`MAX_BUCKET` videos share says nothing and is skipped. Each candidate pair is
aligned; those the alignment calls duplicates join one cluster (connected components).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any
from uuid import UUID

import numpy as np
import numpy.typing as npt

from mediasift.db import duplicates as duplicate_repo
from mediasift.db.connection import Database
from mediasift.search.fingerprints import Alignment, Fingerprint, align

BANDS = 4  # quarters of a hash, 16 bits each
KEYS = tuple(combinations(range(BANDS), 2))  # a sample's keys: each two of its hash's quarters
MIN_SHARED = 3  # keys two videos share to be compared (the eval's copies share 26 or more)
MAX_BUCKET = 200  # videos sharing one key past which it picks no candidates
OWNER_BITS = 29  # of a packed (key, video): 35 bits for the key, 29 for the video's index


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


def sample_keys(print_: Fingerprint) -> npt.NDArray[np.uint64]:
    """The distinct keys of a video's informative samples: the key's number in :data:`KEYS` in the
    top bits, its two quarters below."""
    hashes = print_.hashes[print_.informative]
    quarters = [(hashes >> np.uint64(16 * band)) & np.uint64(0xFFFF) for band in range(BANDS)]
    keys = [
        (np.uint64(k) << np.uint64(32)) | (quarters[a] << np.uint64(16)) | quarters[b] for k, (a, b) in enumerate(KEYS)
    ]
    return np.unique(np.concatenate(keys))


def candidate_pairs(prints: list[Fingerprint]) -> set[tuple[int, int]]:
    """Index pairs (i < j) of videos that share at least :data:`MIN_SHARED` keys, counting only keys
    that at most :data:`MAX_BUCKET` videos have."""
    if not prints:
        return set()
    # One sorted array of (key, video) packed in 64 bits (a key is 35 bits: its number in KEYS, then
    # 32); 20 bytes a key while it is split (10,000 four-minute videos: about 23 million keys, 0.5 GB).
    packed = np.sort(np.concatenate([
        (sample_keys(print_) << np.uint64(OWNER_BITS)) | np.uint64(index) for index, print_ in enumerate(prints)
    ]))  # fmt: skip
    keys, owners = packed >> np.uint64(OWNER_BITS), (packed & np.uint64((1 << OWNER_BITS) - 1)).astype(np.int32)
    del packed
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    sizes = np.diff(np.r_[starts, len(keys)])
    telling = (sizes > 1) & (sizes <= MAX_BUCKET)
    shared: dict[tuple[int, int], int] = defaultdict(int)
    for start, size in zip(starts[telling].tolist(), sizes[telling].tolist(), strict=True):
        for pair in combinations(owners[start : start + size].tolist(), 2):
            shared[pair] += 1
    return {pair for pair, count in shared.items() if count >= MIN_SHARED}


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
        # An exact copy of a compared video is like what it is like, at the same times: each pair of
        # the video is its copies' too, so every member is named by a pair.
        cluster.pairs = [
            SimilarPair(copy_a, copy_b, pair.alignment)
            for pair in pairs
            if pair.a in inside
            for copy_a in represented[pair.a]
            for copy_b in represented[pair.b]
        ]
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
