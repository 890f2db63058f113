"""Search SQL: nearest segments by cosine distance over one model's embeddings (a text model's: over
each distinct text's vector, ``search_vectors``), and segments whose text matches a keyword query."""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np
from psycopg import Connection, sql

from mediasift.db.search_filters import NO_FILTERS, AssetFilters, asset_condition

Conn = Connection[dict[str, Any]]

_ensured: set[tuple[str, str, int]] = set()
INDEX_LOCK_KEY = 0x6D656478


def _index_name(model: str) -> str:
    return "embeddings_hnsw_" + re.sub(r"[^a-z0-9]+", "_", model.lower())[:40]


def ensure_vector_index(conn: Conn, model: str, dim: int) -> None:
    """An HNSW index over one model's vectors (a partial index: dimensions differ between models)."""
    key = (conn.info.dsn, model, dim)
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
# at 400. m was not varied.
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 128
EF_SEARCH = 400
# A filter that leaves at most this many vectors is answered by an exact scan of them (recall 1);
# above it, by the index with an iterative scan, which a common filter does not starve. At 1M
# (100 queries, the SQL alone, a loaded machine): 9,020 image vectors 19-20 ms exact, 22-25 ms by
# the index; a 2% tenant's 18,060 vectors 48-64 ms exact, 12-28 ms by the index at recall@10 0.995.
EXACT_BELOW = 10_000
# A tenant or media type that leaves at most this many segments has them read and matched by a
# keyword query (see :func:`matching_segments`).
KEYWORD_READ_BELOW = 20_000


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
    key = (conn.info.dsn, "text:" + model, dim)
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
_few_rows: dict[tuple[str, str], tuple[float, bool]] = {}


def leaves_few(conn: Conn, table: str, where: sql.Composable, below: int | None = None) -> bool:
    """Whether ``where`` (over ``table`` as ``v``) leaves at most ``below`` (``EXACT_BELOW``) rows
    (see :func:`few`)."""
    return few(conn, sql.SQL("SELECT 1 FROM {} v WHERE {}").format(sql.Identifier(table), where), below)


def few(conn: Conn, rows: sql.Composable, below: int | None = None) -> bool:
    """Whether the query ``rows`` gives at most ``below`` (``EXACT_BELOW``) rows, counted up to one
    past it, as counted in this process in the last ``FEW_ROWS_TTL_S`` seconds."""
    below = EXACT_BELOW if below is None else below
    query = sql.SQL("SELECT count(*) AS n FROM ({} LIMIT {}) c").format(rows, sql.Literal(below + 1))
    key = (conn.info.dsn, query.as_string(conn))
    now = time.monotonic()
    known = _few_rows.get(key)
    if known is not None and now - known[0] < FEW_ROWS_TTL_S:
        return known[1]
    row = conn.execute(query).fetchone()
    assert row is not None
    found = int(row["n"]) <= below
    if len(_few_rows) > 10_000:  # tenants x media types x models x filters: a bound, not a working size
        _few_rows.clear()
    _few_rows[key] = (now, found)
    return found


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
        conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        conn.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(max(EF_SEARCH, limit))))
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
    keeps those vectors."""
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
        members = has_assets.format(ids=sql.SQL("m.id"), condition=condition)
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
    ).format(model=sql.Literal(model), filters=_with_type_and_tenant(filters, media_type, tenant))


def _with_type_and_tenant(filters: AssetFilters, media_type: str | None, tenant: str | None) -> sql.Composable:
    parts = [asset_condition(filters)]
    for column, value in (("media_type", media_type), ("tenant", tenant)):
        if value is not None:
            parts.append(sql.SQL("a.{} = {}").format(sql.Identifier(column), sql.Literal(value)))
    return sql.SQL(" AND ").join(parts)


# -- keyword search -----------------------------------------------------------------------------------

# The part of a long segment shown for a keyword match: the best fragment around the matched words.
HEADLINE_OPTIONS = 'MaxFragments=1, MaxWords=35, MinWords=15, ShortWord=0, StartSel="", StopSel=""'
# Matches ranked per query at most: ranking reads each candidate's tsvector, so a word in most rows
# ("the": 740k of 1M) cost 1.2 s when every match was ranked. The phrase's matches are candidates
# first (the words next to each other, in order: what a person typing them most likely means), then
# matches of all the words; past the cap, matches are not ranked.
KEYWORD_CANDIDATES = 2000
ALWAYS = sql.SQL("true")


def matching_segments(
    conn: Conn,
    query: str,
    *,
    limit: int,
    media_type: str | None,
    tenant: str | None,
    filters: AssetFilters = NO_FILTERS,
) -> list[dict[str, Any]]:
    """Segments whose text matches ``query`` in web-search syntax (all the words; "a phrase";
    ``or``; ``-excluded``), best ``ts_rank_cd`` first, shorter texts first among equals. Words are
    matched as written, lowercased (the ``simple`` configuration: no stemming, no stop words, any
    language), through the GIN index on ``segments.tsv``. ``text`` is the fragment that matched.
    At most :data:`KEYWORD_CANDIDATES` matches of the words (shared among the alternatives of an
    ``or``) are ranked, and as many of the phrase when they have more, of the assets ``filters`` leave."""
    row = conn.execute(
        "SELECT websearch_to_tsquery('simple', %(q)s)::text AS words, "
        "phraseto_tsquery('simple', %(q)s)::text AS phrase, "
        "(SELECT greatest(reltuples, 1) FROM pg_class WHERE oid = 'assets'::regclass) AS assets",
        {"q": query},
    ).fetchone()
    assert row is not None
    alternatives = split_alternatives(str(row["words"]))
    if not alternatives:
        return []
    # One word is its own phrase: the same candidates twice would be ranked twice ("the": 4,000 rows)
    phrase = str(row["phrase"]) if len(query.split()) > 1 and row["phrase"] else None

    def type_and_tenant(alias: str) -> list[sql.Composable]:
        return [
            sql.SQL("{}.{} = {}").format(sql.Identifier(alias), sql.Identifier(column), sql.Literal(value))
            for column, value in (("media_type", media_type), ("tenant", tenant))
            if value is not None
        ]

    conditions = type_and_tenant("s")
    assets: list[Any] = []
    dense = [False] * (len(alternatives) + 1)
    if filters:
        assets = _assets_of(conn, filters, media_type, tenant)
        if not assets:
            return []
        filtered_share = min(len(assets) / float(row["assets"]), 1.0)
        planned = _planned_matches(conn, [*alternatives, phrase or ""], conditions)
        dense = [n * filtered_share >= MANY_MATCHES for n in planned]
        # a sub-select: planned as one array (its thousand elements estimated one by one took 2-3 ms a scan)
        conditions.append(sql.SQL("s.asset_id = ANY ((SELECT %(assets)s::uuid[])::uuid[])"))
    elif conditions and leaves_few(conn, "segments", sql.SQL(" AND ").join(type_and_tenant("v")), KEYWORD_READ_BELOW):
        # The type's or tenant's few rows are read and matched: the planner would AND the filter's
        # index with the text index's bitmap of every match ("of the" at 1M: 198k rows, 80 ms per
        # candidate set), where the filter left 10-20k rows (images, a 2% tenant: 142 -> 27 ms).
        conn.execute("SET LOCAL enable_bitmapscan = off")

    common = common_lexemes(conn)

    def candidates(tsquery: str, dense: bool, cap: int, gate: sql.Composable = ALWAYS) -> sql.Composed:
        # The tsquery written out: planned with its real selectivity, a word in most rows is read by a
        # scan that stops at the cap, not a bitmap of every match (50 ms for "the"). Matched as an
        # expression the text index cannot answer where the filter's segments are read in order, and
        # besides its rarer words where the index is given those alone.
        rarer = None if dense else rarer_words(tsquery, common)
        match = sql.SQL("(s.tsv @@ {}::tsquery) IS TRUE" if dense or rarer else "s.tsv @@ {}::tsquery").format(
            sql.Literal(tsquery)
        )
        if rarer:
            match = sql.SQL("s.tsv @@ {}::tsquery AND {}").format(sql.Literal(rarer), match)
        return sql.SQL("(SELECT s.id, s.tsv, length(s.text) AS chars FROM segments s WHERE {} LIMIT {})").format(
            sql.SQL(" AND ").join([gate, match, *conditions]), sql.Literal(cap)
        )

    # Each alternative of an "or" is its own scan, of its share of the cap: the text index answers an
    # AND of words by skipping through the rarest one's matches, but an OR by reading every word's
    # matches ("a variant of ... (module, function, or class)": 55-60 ms -> 12 ms).
    each = KEYWORD_CANDIDATES // len(alternatives)
    words = sql.SQL(" UNION ALL ").join(candidates(a, d, each) for a, d in zip(alternatives, dense, strict=False))
    # Every match of the phrase matches the words, so the phrase is read only when the words reached
    # the cap (a sentence that matches nowhere read both from the index: 10-17 ms each).
    capped = sql.SQL("(SELECT count(*) FROM words) >= {}").format(sql.Literal(each))
    query_sql = sql.SQL(
        """
        WITH q AS (SELECT websearch_to_tsquery('simple', %(query)s) AS q),
        words AS MATERIALIZED ({words}),
        candidates AS ({candidates}),
        matched AS (  -- ranked from the candidates' own columns: a join back to segments on the
                      -- tsquery was planned as a scan of every match ("the": 590k rows, 450 ms)
            SELECT DISTINCT ON (score, c.chars, c.id) c.id, ts_rank_cd(c.tsv, q.q) AS score, c.chars
            FROM candidates c, q
            WHERE c.tsv @@ q.q
            ORDER BY score DESC, c.chars, c.id
            LIMIT %(limit)s
        )
        SELECT s.id AS segment_id, s.asset_id, s.media_type, s.kind, s.operator, s.start_s, s.end_s,
               ts_headline('simple', s.text, q.q, %(headline)s) AS text, m.score,
               (SELECT src.source FROM asset_sources src WHERE src.asset_id = s.asset_id
                ORDER BY src.last_seen DESC LIMIT 1) AS source_path
        FROM matched m JOIN segments s ON s.id = m.id, q
        ORDER BY m.score DESC, m.chars, s.id
        """
    ).format(
        words=words,
        candidates=sql.SQL("SELECT * FROM words")
        if phrase is None
        else sql.SQL("{} UNION ALL SELECT * FROM words").format(
            candidates(phrase, dense[-1], KEYWORD_CANDIDATES, capped)
        ),
    )
    params = {"query": query, "limit": limit, "headline": HEADLINE_OPTIONS, "assets": assets}
    return conn.execute(query_sql, params).fetchall()


def _assets_of(conn: Conn, filters: AssetFilters, media_type: str | None, tenant: str | None) -> list[Any]:
    """The ids of the assets ``filters`` leave (of ``media_type`` and ``tenant`` where given). A
    keyword query ANDs the text index's bitmap with theirs (13 ms for "python", 1% of rows, in 11%
    of the assets at 1M); as a join (EXISTS) it read and matched each asset's segments one by one
    (111k rows, 80-130 ms)."""
    row = conn.execute(
        sql.SQL("SELECT coalesce(array_agg(a.id), '{{}}') AS ids FROM assets a WHERE {}").format(
            _with_type_and_tenant(filters, media_type, tenant)
        )
    ).fetchone()
    assert row is not None
    return list(row["ids"])


# Matches of one tsquery among a filter's segments from which those segments are read in order
# until the cap, not found by ANDing the text index's bitmap with the assets': the planner costs a
# bitmap of a common word's matches far below what it takes. 11% of the assets at 1M: "of the",
# ~22k matches there, 100-160 ms as a bitmap, 30 ms read in order; "and", ~21k, 36 / 11 ms; "file",
# ~4.7k, 24 / 31 ms; "python", ~1.3k, 18 / 55-80 ms.
MANY_MATCHES = 5 * KEYWORD_CANDIDATES


def _planned_matches(conn: Conn, tsqueries: list[str], conditions: list[sql.Composable]) -> list[float]:
    """How many segments of ``conditions`` the planner expects to match each tsquery (0 for an
    empty one): one round trip, the statements sent together."""
    statements = [
        sql.SQL("EXPLAIN (FORMAT JSON) SELECT 1 FROM segments s WHERE {}").format(
            sql.SQL(" AND ").join([sql.SQL("s.tsv @@ {}::tsquery").format(sql.Literal(t)), *conditions])
        )
        for t in tsqueries
    ]
    planned = []
    with conn.cursor() as cur:
        cur.execute(sql.SQL("; ").join(statements))  # no parameters: one simple-protocol message
        while True:
            row = cur.fetchone()
            assert row is not None
            planned.append(float(row["QUERY PLAN"][0]["Plan"]["Plan Rows"]))
            if not cur.nextset():
                break
    return [n if t else 0.0 for n, t in zip(planned, tsqueries, strict=True)]


# A word in at least this share of the segments is left to the recheck of an AND's matches when the
# AND has a rarer word: the text index skips through the rarest word's matches, but each very common
# word it is given still costs it ("variant & the & of & a & at & for": 15.7 ms, "variant": 0.4 ms,
# at 1M; 26 words were this common there, the most "the" at 59%). Read from the column's statistics.
COMMON_SHARE = 0.05
COMMON_TTL_S = 600.0
_common: dict[str, tuple[float, frozenset[str]]] = {}


def common_lexemes(conn: Conn) -> frozenset[str]:
    """The lexemes (as a tsquery writes them, quoted) in at least :data:`COMMON_SHARE` of the
    segments by the last ANALYZE, as read in this process in the last :data:`COMMON_TTL_S` seconds."""
    known = _common.get(conn.info.dsn)
    now = time.monotonic()
    if known is not None and now - known[0] < COMMON_TTL_S:
        return known[1]
    row = conn.execute(
        "SELECT most_common_elems::text::text[] AS lexemes, most_common_elem_freqs AS shares FROM pg_stats "
        "WHERE tablename = 'segments' AND attname = 'tsv' AND schemaname = current_schema()"
    ).fetchone()
    lexemes, shares = (row["lexemes"], row["shares"]) if row and row["lexemes"] else ([], [])
    found = frozenset(
        "'" + lexeme.replace("'", "''") + "'"
        for lexeme, share in zip(lexemes, shares, strict=False)
        if share >= COMMON_SHARE
    )
    _common[conn.info.dsn] = (now, found)
    return found


def rarer_words(tsquery: str, common: frozenset[str]) -> str | None:
    """The AND of the words of ``tsquery`` (one alternative) outside :data:`common_lexemes`, when it
    has both kinds (a match of the tsquery has every one of them); else None."""
    required: list[str] = []
    for part in _split_top(tsquery, "&"):
        if not part.startswith("!"):
            required.extend(lexeme for lexeme in re.findall(r"'(?:[^']|'')*'", part) if lexeme not in required)
    rarer = [lexeme for lexeme in required if lexeme not in common]
    return " & ".join(rarer) if rarer and len(rarer) < len(required) else None


def split_alternatives(tsquery: str) -> list[str]:
    """The alternatives of a ``websearch_to_tsquery`` result: its parts joined by ``|`` (``&`` binds
    tighter; a negated phrase is parenthesised)."""
    return _split_top(tsquery, "|")


def _split_top(tsquery: str, operator: str) -> list[str]:
    """The parts of ``tsquery`` joined by ``operator`` outside parentheses and quoted lexemes."""
    parts: list[str] = []
    depth, quoted, start = 0, False, 0
    for i, char in enumerate(tsquery):
        if char == "'":
            quoted = not quoted  # an escaped quote ('') toggles twice
        elif not quoted and char in "()":
            depth += 1 if char == "(" else -1
        elif not quoted and depth == 0 and char == operator:
            parts.append(tsquery[start:i])
            start = i + 1
    parts.append(tsquery[start:])
    return [part.strip() for part in parts if part.strip()]


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
