"""Near-duplicate texts share one node of the vector index (migration 0012): a vector within
``SAME_MEANING`` of an indexed one of the same tenant and media type joins its group, and search
still ranks every member by its own vector, through whichever member the index reaches."""

from __future__ import annotations

from contextlib import closing
from typing import Any
from uuid import UUID

import numpy as np
import psycopg
import pytest
from psycopg import sql

from mediasift.config import Settings
from mediasift.db import search as search_repo
from mediasift.db.keys import ensure_tenant
from mediasift.db.search_filters import AssetFilters
from mediasift.search.hybrid import SearchMode
from mediasift.service import Mediasift

from support import stored


def _text_indexes(conn: Any) -> list[tuple[str, str]]:
    """The HNSW indexes on search_vectors: (name, definition)."""
    rows = conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'search_vectors' AND indexdef LIKE '%hnsw%'"
    ).fetchall()
    return [(row[0], row[1]) for row in rows]


pytestmark = pytest.mark.slow

# Just inside and just outside the threshold: the negative is 0.01 past it.
JOINS = search_repo.SAME_MEANING + 0.005
STAYS_APART = search_repo.SAME_MEANING - 0.005


def _groups(conn: Any) -> dict[str, str | None]:
    """Each stored text's representative's text (None: it is one), by the segments pointing at them."""
    rows = conn.execute(
        """
        SELECT DISTINCT s.text, (
            SELECT rs.text FROM embeddings re JOIN segments rs ON rs.id = re.segment_id
            WHERE re.search_vector_id = r.id LIMIT 1) AS representative
        FROM search_vectors v JOIN embeddings e ON e.search_vector_id = v.id JOIN segments s ON s.id = e.segment_id
        LEFT JOIN search_vectors r ON r.id = v.representative_id
        """
    ).fetchall()
    return {row["text"]: row["representative"] for row in rows}


def _add(conn: Any, system: Mediasift, name: str, text: str, vector: np.ndarray, **where: str) -> UUID:
    media_type = where.get("media_type", "text")
    asset_id = stored.add_asset(conn, name, media_type, tenant=where.get("tenant", "default"))
    stored.add_text_chunks(conn, asset_id, system.inference.text_ref, [(text, vector)])
    return asset_id


def test_a_near_duplicate_joins_the_group_and_a_vector_just_past_the_threshold_does_not(settings: Settings) -> None:
    with closing(Mediasift(settings)) as system:
        base = system.inference.embed_texts(["The mayor opens the new bridge on Monday"])[0]
        with system.db.transaction() as conn:
            ensure_tenant(conn, "acme")
            _add(conn, system, "first.txt", "first", base)
        with system.db.transaction() as conn:  # each in its own ingest, as files are
            _add(conn, system, "near.txt", "near", stored.at_cosine(base, JOINS, seed=1))
        with system.db.transaction() as conn:
            _add(conn, system, "apart.txt", "apart", stored.at_cosine(base, STAYS_APART, seed=2))
            _add(conn, system, "image.png", "as an image", stored.at_cosine(base, 0.99, seed=3), media_type="image")
            _add(conn, system, "acme.txt", "of another tenant", stored.at_cosine(base, 0.99, seed=4), tenant="acme")
        with system.db.transaction() as conn:
            groups = _groups(conn)
    assert groups == {
        "first": None,
        "near": "first",
        "apart": None,
        "as an image": None,  # groups never cross media types or tenants: filters are answered on them
        "of another tenant": None,
    }


def test_every_member_is_ranked_by_its_own_vector(settings: Settings) -> None:
    """Five variants of one text in one group: a query nearest to the fourth finds it first, and
    every other variant after it in the order of their own similarity."""
    with closing(Mediasift(settings)) as system:
        base = system.inference.embed_texts(["Breaking news: floods hit the northern valley"])[0]
        variants = [base] + [stored.at_cosine(base, c, seed=i) for i, c in enumerate((0.99, 0.97, 0.95, 0.93))]
        ids = []
        for n, vector in enumerate(variants):
            with system.db.transaction() as conn:
                ids.append(_add(conn, system, f"v{n}.txt", f"variant {n}", vector))
        with system.db.transaction() as conn:
            grouped = sum(rep == "variant 0" for rep in _groups(conn).values())
            query = variants[3]
            rows = search_repo.nearest_text_segments(
                conn, system.inference.text_ref.id, query, limit=10, media_type=None, tenant="default"
            )
    expected = sorted(range(5), key=lambda n: -float(np.dot(variants[n], query)))
    assert grouped == 4
    assert [row["asset_id"] for row in rows] == [ids[n] for n in expected]


def test_members_stay_found_when_their_representative_goes(settings: Settings) -> None:
    with closing(Mediasift(settings)) as system:
        base = system.inference.embed_texts(["Subscribe to our channel for more videos"])[0]
        member = stored.at_cosine(base, 0.97, seed=5)
        with system.db.transaction() as conn:
            first = _add(conn, system, "first.txt", "first", base)
        with system.db.transaction() as conn:
            second = _add(conn, system, "second.txt", "second", member)
        system.delete_asset(first, tenant="default", actor="test")
        with system.db.transaction() as conn:
            groups = _groups(conn)
            rows = search_repo.nearest_text_segments(
                conn, system.inference.text_ref.id, member, limit=10, media_type=None, tenant=None
            )
    assert groups == {"second": None}
    assert [row["asset_id"] for row in rows] == [second]


def test_a_filter_walked_on_the_index_reaches_members_through_a_filtered_out_representative(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The representative's asset is left out by the source filter; its member, in an asset the
    filter keeps, is found through it (the index path: no filter is answered by an exact scan here)."""
    monkeypatch.setattr(search_repo, "EXACT_BELOW", 0)
    with closing(Mediasift(settings)) as system:
        texts = ["a beekeeper repairs a broken compass", "the night nurse paints a salt marsh"]
        base, other = system.inference.embed_texts(texts)
        with system.db.transaction() as conn:
            _add(conn, system, "/archive/first.txt", "first", base)
            _add(conn, system, "/archive/other.txt", "other", other)
        with system.db.transaction() as conn:
            kept = _add(conn, system, "/library/member.txt", "member", stored.at_cosine(base, 0.96, seed=6))
        hits = system.search(
            texts[0], mode=SearchMode.SEMANTIC, filters=AssetFilters(source_prefix="/library/"), limit=5
        )
    assert [hit.asset_id for hit in hits] == [kept]


def test_the_upgrade_indexes_the_representatives_of_the_vectors_already_there(settings: Settings) -> None:
    """A library at revision 0011 (every distinct text in the index) upgraded to 0012: the old index
    is gone and one over representatives is there at once, before anything is ingested again."""
    from alembic import command

    from mediasift.db.migrate import alembic_config, upgrade

    with closing(Mediasift(settings)) as system:
        base = system.inference.embed_texts(["Harbour authority extends the night ferry schedule"])[0]
        with system.db.transaction() as conn:
            asset_id = _add(conn, system, "ferry.txt", "ferry", base)
        url, model = system.db.url, system.inference.text_ref.id
    command.downgrade(alembic_config(url), "0011")
    with psycopg.connect(url) as conn:  # the index as revision 0011's code made it
        conn.execute(
            sql.SQL(
                "CREATE INDEX search_vectors_hnsw_old ON search_vectors USING hnsw "
                "((embedding::vector(384)) vector_cosine_ops) WHERE model = {}"
            ).format(sql.Literal(model))
        )
        before = _text_indexes(conn)
    upgrade(url)
    with psycopg.connect(url) as conn:
        after = _text_indexes(conn)
    with closing(Mediasift(settings)) as system:
        hits = system.search("night ferry", mode=SearchMode.SEMANTIC)
    assert [name.split("_")[2] for name, _ in before] == ["hnsw"]
    assert (
        len(after) == 1
        and "representative_id IS NULL" in after[0][1]
        and after[0][0].startswith("search_vectors_reps_")
    )
    assert [hit.asset_id for hit in hits] == [asset_id]
