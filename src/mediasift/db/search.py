"""Search SQL: nearest segments by cosine distance over one model's embeddings (a text model's: over
each distinct text's vector, ``search_vectors``), and what a result shows. Keyword search:
:mod:`mediasift.db.keyword_search`."""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np
from psycopg import Connection, sql

from mediasift.db.search_filters import NO_FILTERS, AssetFilters, asset_condition

Conn = Connection[dict[str, Any]]

_ensured: set[tuple[tuple[str, str, str], str, int]] = set()
INDEX_LOCK_KEY = 0x6D656478


def database_of(conn: Conn) -> tuple[str, str, str]:
    """Which database ``conn`` talks to, as a key for what this process remembers of it (``info.dsn``
    rebuilds the whole connection string on each call: over 1 ms a search)."""
    return (conn.info.host, str(conn.info.port), conn.info.dbname)


def _index_name(model: str) -> str:
    return "embeddings_hnsw_" + re.sub(r"[^a-z0-9]+", "_", model.lower())[:40]


def ensure_vector_index(conn: Conn, model: str, dim: int) -> None:
    """An HNSW index over one model's vectors (a partial index: dimensions differ between models)."""
    key = (database_of(conn), model, dim)
    if key in _ensured:
        return
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (INDEX_LOCK_KEY,))
    conn.execute(
        sql.SQL(
            "CREATE INDEX IF NOT EXISTS {name} ON embeddings "
            "USING hnsw ((embedding::vector({dim})) vector_cosine_ops) WHERE model = {model}"
        ).format(name=sql.Identifier(_index_name(model)), dim=sql.Literal(dim), model=sql.Literal(model))
    )
    _ensured.add(key)


def nearest_segments(
    conn: Conn,
    model: str,
    query: np.ndarray,
    *,
    limit: int,
    media_type: str | None,
    tenant: str | None,
    model_version: str | None = None,
    filters: AssetFilters = NO_FILTERS,
) -> list[dict[str, Any]]:
    """Segments nearest to ``query``, best first, with their asset and its latest source path: of
    ``tenant``'s assets only (every tenant's when None), and those ``filters`` leave. With
    ``model_version``, only vectors that version made (another version's may not share its space).

    Iterative index scans keep a media-type filter from starving the result (pgvector >= 0.8).
    """
    dim = len(query)
    conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
    conn.execute("SET LOCAL hnsw.ef_search = 100")
    query_sql = sql.SQL(
        """
        WITH nearest AS (
            SELECT e.segment_id, e.embedding::vector({dim}) <=> %(q)s AS distance
            FROM embeddings e JOIN assets a ON a.id = e.asset_id
            WHERE e.model = %(model)s AND (%(media_type)s::text IS NULL OR a.media_type = %(media_type)s)
              AND (%(version)s::text IS NULL OR e.model_version = %(version)s)
              AND (%(tenant)s::text IS NULL OR a.tenant = %(tenant)s) AND {filters}
            ORDER BY e.embedding::vector({dim}) <=> %(q)s
            LIMIT %(limit)s
        )
        SELECT s.id AS segment_id, s.asset_id, a.media_type, s.kind, s.operator, s.start_s, s.end_s,
               s.text, 1 - n.distance AS score,
               (SELECT src.source FROM asset_sources src WHERE src.asset_id = s.asset_id
                ORDER BY src.last_seen DESC LIMIT 1) AS source_path
        FROM nearest n JOIN segments s ON s.id = n.segment_id JOIN assets a ON a.id = s.asset_id
        ORDER BY n.distance
        """
    ).format(dim=sql.Literal(dim), filters=asset_condition(filters))
    return conn.execute(
        query_sql,
        {
            "q": query,
            "model": model,
            "media_type": media_type,
            "limit": limit,
            "version": model_version,
            "tenant": tenant,
        },
    ).fetchall()


# -- text vectors: one per distinct text --------------------------------------------------------------

# HNSW parameters measured by bench/search.py at 1M segments (docs/search.md): real sentence vectors
# in groups of ~28 near-duplicates. With every distinct text in the graph the index alone gave
# recall@10 0.735 / 0.811 / 0.892 / 0.966 at ef_search 100 / 200 / 400 / 800. With one node per group
# of near-duplicates (118k nodes for 900k texts, members ranked by their own vectors), the semantic
# query's SQL: ef_construction 64 gave 0.958 / 0.978 / 0.987 / 0.987, but at ef_search 200 only 95 and
# at 400 98 of 100 fresh items were found by a paraphrase; ef_construction 128 (build 57 s, 36-44 s at
# 64) gave 0.979 at 100-400 and 0.987 at 800, in 6.3 / 7.8 / 11.1 / 20.3 ms, and 100 of 100 paraphrases
# at 400. Then on that 1M database with 100 items ingested after the load (in-process search, one
# client, paraphrases found of 100 / p50): m 32, ef_construction 128 (build 134 s) 100 at 200 but in
# as long as m 16 at 400 (17.8 / 18.2 ms); m 16, ef_construction 256 (build 148 s with the machine
# busy) 100 at 400, 250 and 200, 99 at 150, in 18.3 / 14.8 / 13.7-15.9 / 14.1 ms. ef_search 250
# leaves a margin: builds of the same data differ (parallel workers).
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 256
EF_SEARCH = 250
EF_SEARCH_MAX = 1000  # pgvector's largest; a deeper search (a page of 1000 moments) walks on iteratively
# A filter that leaves at most this many vectors is answered by an exact scan of them (recall 1);
# above it, by the index with an iterative scan, which a common filter does not starve. At 1M
# (100 queries, the SQL alone, a loaded machine): 9,020 image vectors 19-20 ms exact, 22-25 ms by
# the index; a 2% tenant's 18,060 vectors 48-64 ms exact, 12-28 ms by the index at recall@10 0.995.
EXACT_BELOW = 10_000


# A text whose vector is at least this similar to an indexed one of the same model, version, tenant
# and media type joins that one's group instead of the index (migration 0012). MiniLM cosines measured
# here: the same sentence with one word changed or inflected ("opens"/"opened", "Monday"/"Tuesday",
# "videos"/"video", letter case) 0.93-0.99; sentences that differ in meaning ("rose"/"fell",
# "dog"/"cat", "stop"/"start") 0.73-0.84. A group's members are ranked by their own vectors, so
# grouping costs no precision, only reach: a member further than this from its representative could
# be missed when its representative is not among the nearest.
SAME_MEANING = 0.92


def _text_index_name(model: str) -> str:
    return "search_vectors_reps_" + re.sub(r"[^a-z0-9]+", "_", model.lower())[:40]


def ensure_text_index(conn: Conn, model: str, dim: int) -> None:
    """The HNSW index over one text model's representatives (partial: dimensions differ between
    models; a near-duplicate's vector is reached through its group's). Built with the server's
    ``maintenance_work_mem`` and parallel workers, which :mod:`mediasift.db.server` sizes to the machine."""
    key = (database_of(conn), "text:" + model, dim)
    if key in _ensured:
        return
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (INDEX_LOCK_KEY,))
    conn.execute(text_index_ddl(model, dim))
    _ensured.add(key)


def text_index_ddl(model: str, dim: int) -> sql.Composed:
    """The statement that makes :func:`ensure_text_index`'s index (when it is not there)."""
    return sql.SQL(
        "CREATE INDEX IF NOT EXISTS {name} ON search_vectors USING hnsw "
        "((embedding::vector({dim})) vector_cosine_ops) WITH (m = {m}, ef_construction = {ef}) "
        "WHERE model = {model} AND representative_id IS NULL"
    ).format(
        name=sql.Identifier(_text_index_name(model)),
        dim=sql.Literal(dim),
        m=sql.Literal(HNSW_M),
        ef=sql.Literal(HNSW_EF_CONSTRUCTION),
        model=sql.Literal(model),
    )


def link_text_vectors(
    conn: Conn, asset_id: Any, model: str, model_version: str, vectors: list[tuple[int, np.ndarray]]
) -> None:
    """Point each segment (id, vector of its text) of ``asset_id`` at its text's shared vector,
    storing the vector only when no segment of the same tenant and media type has the same text."""
    if not vectors:
        return
    new: list[int] = []
    with conn.cursor() as cur:
        cur.executemany(
            """
            INSERT INTO search_vectors (model, model_version, tenant, media_type, text_sha256, dim, embedding)
            SELECT %(model)s, %(version)s, s.tenant, s.media_type, sha256(convert_to(s.text, 'UTF8')), %(dim)s, %(v)s
            FROM segments s WHERE s.id = %(segment)s
            ON CONFLICT DO NOTHING
            RETURNING id
            """,
            [{"model": model, "version": model_version, "dim": len(v), "v": v, "segment": sid} for sid, v in vectors],
            returning=True,
        )
        while True:
            new.extend(row["id"] for row in cur.fetchall())
            if not cur.nextset():
                break
    _join_groups(conn, model, len(vectors[0][1]), new)
    conn.execute(
        """
        INSERT INTO embeddings (segment_id, model, model_version, asset_id, dim, search_vector_id)
        SELECT s.id, v.model, v.model_version, s.asset_id, v.dim, v.id
        FROM segments s JOIN search_vectors v ON v.model = %(model)s AND v.tenant = s.tenant
            AND v.media_type = s.media_type AND v.text_sha256 = sha256(convert_to(s.text, 'UTF8'))
            AND v.model_version = %(version)s
        WHERE s.id = ANY(%(segments)s) AND s.asset_id = %(asset)s
        ON CONFLICT (segment_id, model) DO UPDATE SET
            model_version = EXCLUDED.model_version, dim = EXCLUDED.dim, embedding = NULL,
            search_vector_id = EXCLUDED.search_vector_id, created_at = now()
        """,
        {"model": model, "version": model_version, "segments": [sid for sid, _ in vectors], "asset": asset_id},
    )


def _join_groups(conn: Conn, model: str, dim: int, new: list[int]) -> None:
    """Each of the ``new`` vectors that has an indexed one of its model, version, tenant and media
    type within ``SAME_MEANING`` joins the nearest such one's group (one index walk per vector, in
    one statement). Only representatives from before this call are joined: two new near-duplicates
    of each other stay representatives both, so a group never chains."""
    if not new:
        return
    conn.execute("SET LOCAL hnsw.iterative_scan = strict_order")
    conn.execute(
        sql.SQL(
            """
            UPDATE search_vectors v SET representative_id = near.id
            FROM search_vectors n CROSS JOIN LATERAL (
                SELECT r.id, r.embedding::vector({dim}) <=> n.embedding::vector({dim}) AS distance
                FROM search_vectors r
                WHERE r.model = {model} AND r.representative_id IS NULL AND r.model_version = n.model_version
                  AND r.tenant = n.tenant AND r.media_type = n.media_type AND r.id <> ALL (%(new)s)
                ORDER BY r.embedding::vector({dim}) <=> n.embedding::vector({dim})
                LIMIT 1
            ) near
            WHERE n.id = ANY (%(new)s) AND v.id = n.id AND near.distance <= %(within)s
            """
        ).format(dim=sql.Literal(dim), model=sql.Literal(model)),
        {"new": new, "within": 1 - SAME_MEANING},
    )


def _vector_filters(model: str, media_type: str | None, tenant: str | None, version: str | None) -> sql.Composed:
    parts = [sql.SQL("v.model = {}").format(sql.Literal(model))]
    for column, value in (("tenant", tenant), ("media_type", media_type), ("model_version", version)):
        if value is not None:
            parts.append(sql.SQL("v.{} = {}").format(sql.Identifier(column), sql.Literal(value)))
    return sql.SQL(" AND ").join(parts)


# How long a count of the rows a filter leaves is trusted. Every API search names its tenant, and
# counting a large one's first 20,001 vectors cost a few ms a query at 1M (a source prefix's
# segments: ~10 ms); a stale count only picks the other of two correct plans for a while.
FEW_ROWS_TTL_S = 60.0
_counts: dict[tuple[tuple[str, str, str], str], tuple[float, int]] = {}


def leaves_few(conn: Conn, table: str, where: sql.Composable, below: int | None = None) -> bool:
    """Whether ``where`` (over ``table`` as ``v``) leaves at most ``below`` (``EXACT_BELOW``) rows
    (see :func:`few`)."""
    return few(conn, sql.SQL("SELECT 1 FROM {} v WHERE {}").format(sql.Identifier(table), where), below)


def few(conn: Conn, rows: sql.Composable, below: int | None = None) -> bool:
    """Whether the query ``rows`` gives at most ``below`` (``EXACT_BELOW``) rows (:func:`counted`)."""
    below = EXACT_BELOW if below is None else below
    return counted(conn, rows, below + 1) <= below


def counted(conn: Conn, rows: sql.Composable, up_to: int) -> int:
    """How many rows the query ``rows`` gives, counted up to ``up_to``, as counted in this process in
    the last ``FEW_ROWS_TTL_S`` seconds: for choosing a plan, never for deciding that nothing matches."""
    query = sql.SQL("SELECT count(*) AS n FROM ({} LIMIT {}) c").format(rows, sql.Literal(up_to))
    key = (database_of(conn), query.as_string(conn))
    now = time.monotonic()
    known = _counts.get(key)
    if known is not None and now - known[0] < FEW_ROWS_TTL_S:
        return known[1]
    row = conn.execute(query).fetchone()
    assert row is not None
    if len(_counts) > 10_000:  # tenants x media types x models x filters: a bound, not a working size
        _counts.clear()
    _counts[key] = (now, int(row["n"]))
    return int(row["n"])


def nearest_text_segments(
    conn: Conn,
    model: str,
    query: np.ndarray,
    *,
    limit: int,
    media_type: str | None,
    tenant: str | None,
    model_version: str | None = None,
    filters: AssetFilters = NO_FILTERS,
) -> list[dict[str, Any]]:
    """Segments whose text is nearest to ``query`` by a text model, best first (the fields of
    :func:`nearest_segments`): the ``limit`` nearest distinct texts of the filter, each standing for
    its newest segments (a label shared by thousands of segments gives up to ``limit`` of them).

    A filter that leaves few vectors (a rare media type, a small tenant, few assets of ``filters``)
    is answered by an exact scan of them; otherwise the HNSW index over representatives is walked,
    iteratively, until ``limit`` groups pass the filter, and their members are ranked by their own
    distance (migration 0012). A vector passes ``filters`` when a segment of an asset they leave has
    its text, and only such segments stand for it; a group passes when one of its vectors does.
    """
    dim = len(query)
    where = _vector_filters(model, media_type, tenant, model_version)
    exact = False
    if filters:
        # the segments of the filter's assets: an upper bound of the distinct vectors an exact scan reads
        exact = few(conn, _vectors_of_assets(model, filters, media_type, tenant))
    elif media_type is not None or tenant is not None:
        exact = leaves_few(conn, "search_vectors", where)
    if exact:
        nearest = _exact_nearest(model, dim, where, filters, media_type, tenant)
    else:
        # both settings for this transaction in one round trip
        conn.execute(
            "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), set_config('hnsw.ef_search', %s, true)",
            (str(min(EF_SEARCH_MAX, max(EF_SEARCH, limit))),),
        )
        nearest = _nearest_groups(dim, where, filters)
    query_sql = sql.SQL(
        """
        WITH nearest AS MATERIALIZED ({nearest}),
        shown AS (
            SELECT n.distance, e.segment_id FROM nearest n
            CROSS JOIN LATERAL (SELECT e.segment_id FROM embeddings e JOIN assets a ON a.id = e.asset_id
                                WHERE e.search_vector_id = n.id AND {filters}
                                ORDER BY e.segment_id DESC LIMIT %(limit)s) e
            ORDER BY n.distance, e.segment_id DESC
            LIMIT %(limit)s
        )
        SELECT s.id AS segment_id, s.asset_id, s.media_type, s.kind, s.operator, s.start_s, s.end_s,
               s.text, 1 - n.distance AS score,
               (SELECT src.source FROM asset_sources src WHERE src.asset_id = s.asset_id
                ORDER BY src.last_seen DESC LIMIT 1) AS source_path
        FROM shown n JOIN segments s ON s.id = n.segment_id
        ORDER BY n.distance, s.id DESC
        """
    ).format(nearest=nearest, filters=asset_condition(filters))
    return conn.execute(query_sql, {"q": query, "limit": limit}).fetchall()


def _exact_nearest(
    model: str, dim: int, where: sql.Composable, filters: AssetFilters, media_type: str | None, tenant: str | None
) -> sql.Composed:
    """The ``limit`` nearest vectors that ``where`` (and the few assets of ``filters``) leave, every
    one measured: no index ("+ 0" is not the index's ordering, so the planner scans the rows)."""
    if filters:  # the few assets' own vectors, looked up by id (an array: never a hash join of every vector)
        where = sql.SQL("{} AND v.id = ANY (ARRAY({}))").format(
            where, _vectors_of_assets(model, filters, media_type, tenant)
        )
    return sql.SQL(
        "SELECT v.id, v.embedding::vector({dim}) <=> %(q)s AS distance FROM search_vectors v WHERE {where} "
        "ORDER BY (v.embedding::vector({dim}) <=> %(q)s) + 0 LIMIT %(limit)s"
    ).format(dim=sql.Literal(dim), where=where)


def _nearest_groups(dim: int, where: sql.Composable, filters: AssetFilters) -> sql.Composed:
    """The ``limit`` nearest vectors among the members of the ``limit`` nearest groups the index
    yields. With ``filters``, a subplan per representative the index yields keeps groups with a
    vector of their assets (an EXISTS would be planned as a join of every row), and one per member
    keeps those vectors. The member's subplan names the member's id as the group lists it, not as its
    row has it, so it runs before the row (and its vector) is read: at 1M under a source prefix that
    left 14% of the members, 1.3-2.9 ms less a query, the same results (200 queries)."""
    group = sql.SQL("SELECT {id} UNION ALL SELECT x.id FROM search_vectors x WHERE x.representative_id = {id}")
    groups: sql.Composable = where
    members: sql.Composable = sql.SQL("true")
    if filters:
        has_assets = sql.SQL(
            "(SELECT true FROM embeddings e JOIN assets a ON a.id = e.asset_id "
            "WHERE e.search_vector_id IN ({ids}) AND {condition} LIMIT 1)"
        )
        condition = asset_condition(filters)
        groups = sql.SQL("{} AND {}").format(
            where, has_assets.format(ids=group.format(id=sql.SQL("v.id")), condition=condition)
        )
        members = has_assets.format(ids=sql.SQL("k.id"), condition=condition)
    return sql.SQL(
        """
        SELECT m.id, m.embedding::vector({dim}) <=> %(q)s AS distance
        FROM (SELECT v.id FROM search_vectors v WHERE {groups} AND v.representative_id IS NULL
              ORDER BY v.embedding::vector({dim}) <=> %(q)s LIMIT %(limit)s) g
        CROSS JOIN LATERAL ({group}) k (id)
        JOIN search_vectors m ON m.id = k.id
        WHERE {members}
        ORDER BY distance LIMIT %(limit)s
        """
    ).format(dim=sql.Literal(dim), groups=groups, group=group.format(id=sql.SQL("g.id")), members=members)


def _vectors_of_assets(model: str, filters: AssetFilters, media_type: str | None, tenant: str | None) -> sql.Composed:
    """The shared text vectors some segment of an asset that ``filters`` leave points at (one row per
    segment)."""
    return sql.SQL(
        "SELECT e.search_vector_id FROM embeddings e JOIN assets a ON a.id = e.asset_id "
        "WHERE e.model = {model} AND e.search_vector_id IS NOT NULL AND {filters}"
    ).format(model=sql.Literal(model), filters=type_and_tenant_condition(filters, media_type, tenant))


def type_and_tenant_condition(filters: AssetFilters, media_type: str | None, tenant: str | None) -> sql.Composable:
    parts = [asset_condition(filters)]
    for column, value in (("media_type", media_type), ("tenant", tenant)):
        if value is not None:
            parts.append(sql.SQL("a.{} = {}").format(sql.Identifier(column), sql.Literal(value)))
    return sql.SQL(" AND ").join(parts)


# -- what a result shows ------------------------------------------------------------------------------


def pictures_of(conn: Conn, moments: list[tuple[Any, float | None, float | None]]) -> list[str | None]:
    """For each (asset id, start, end): the sha256 of the picture that shows it, or None. A timed
    moment of a video: the keyframe of the shot on screen for most of it (of two alike, the one whose
    keyframe is nearest its middle); otherwise
    (an image, an untimed moment, a video moment no keyframe covers): the asset's thumbnail."""
    if not moments:
        return []
    rows = conn.execute(
        """
        SELECT m.n,
            coalesce(
                (SELECT k.data ->> 'blob' FROM segments k
                 WHERE k.asset_id = m.asset_id AND k.kind = 'keyframe' AND m.start_s IS NOT NULL
                   AND k.start_s <= coalesce(m.end_s, m.start_s) AND k.end_s >= m.start_s
                 ORDER BY least(k.end_s, coalesce(m.end_s, m.start_s)) - greatest(k.start_s, m.start_s) DESC,
                          abs((k.data ->> 'time')::float8 - (m.start_s + coalesce(m.end_s, m.start_s)) / 2)
                 LIMIT 1),
                (SELECT t.blob_sha256 FROM artifacts t
                 WHERE t.asset_id = m.asset_id AND t.kind = 'thumbnail' AND t.blob_sha256 IS NOT NULL
                 ORDER BY t.id DESC LIMIT 1)
            ) AS picture
        FROM unnest(%(assets)s::uuid[], %(starts)s::float8[], %(ends)s::float8[]) WITH ORDINALITY
            AS m(asset_id, start_s, end_s, n)
        ORDER BY m.n
        """,
        {"assets": [m[0] for m in moments], "starts": [m[1] for m in moments], "ends": [m[2] for m in moments]},
    ).fetchall()
    return [row["picture"] for row in rows]


def has_text_vectors(conn: Conn, model: str, tenant: str | None) -> bool:
    """Whether any text of ``tenant`` (any tenant's when None) has a vector of ``model`` (the
    unique key's prefix answers it)."""
    where = sql.SQL("model = {}").format(sql.Literal(model))
    if tenant is not None:
        where = sql.SQL("{} AND tenant = {}").format(where, sql.Literal(tenant))
    row = conn.execute(
        sql.SQL("SELECT EXISTS (SELECT 1 FROM search_vectors WHERE {}) AS found").format(where)
    ).fetchone()
    return bool(row and row["found"])
