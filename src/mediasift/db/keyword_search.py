"""Keyword search SQL: segments whose text matches a web-search query, through the GIN index on
``segments.tsv``, ranked by ``ts_rank_cd`` over a bounded set of candidates."""

from __future__ import annotations

import re
import time
from typing import Any

from psycopg import sql

from mediasift.db.search import Conn, counted, database_of, leaves_few, type_and_tenant_condition
from mediasift.db.search_filters import NO_FILTERS, AssetFilters

# A tenant or media type that leaves at most this many segments has them read and matched by a
# keyword query (see :func:`matching_segments`).
KEYWORD_READ_BELOW = 20_000

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
    # Matched without accents (migration 0016); folding is the server's, and a query in ASCII has none.
    words_of = sql.SQL("%(q)s" if query.isascii() else "fold_accents(%(q)s)")
    row = conn.execute(
        sql.SQL(
            "SELECT websearch_to_tsquery('simple', {words})::text AS words, "
            "phraseto_tsquery('simple', {words})::text AS phrase, "
            "(SELECT greatest(reltuples, 1) FROM pg_class WHERE oid = 'assets'::regclass) AS assets"
        ).format(words=words_of),
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
    allowed: sql.Composable = sql.SQL("")  # the filters' assets, a CTE of the statement
    dense = [False] * (len(alternatives) + 1)
    if filters:
        of_filters = type_and_tenant_condition(filters, media_type, tenant)
        share = min(_assets_left(conn, of_filters) / float(row["assets"]), 1.0)
        planned = _planned_matches(conn, [*alternatives, phrase or ""], conditions)
        dense = [n * share >= MANY_MATCHES for n in planned]
        # The assets' ids are gathered once, in the statement, as one array whose bitmap the text
        # index's is ANDed with (13 ms for "python", 1% of rows, in 11% of the assets at 1M). As a
        # join (EXISTS) each asset's segments were read and matched one by one (111k rows, 80-130 ms);
        # as a subquery per scan, its thousand elements were estimated one by one (2-3 ms a scan).
        allowed = sql.SQL(
            "allowed AS MATERIALIZED (SELECT coalesce(array_agg(a.id), '{{}}') AS ids FROM assets a WHERE {}),"
        ).format(of_filters)
        conditions.append(sql.SQL("s.asset_id = ANY ((SELECT ids FROM allowed)::uuid[])"))
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
        WITH q AS (SELECT %(words)s::tsquery AS q),
        {allowed}
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
               CASE WHEN f.folded = s.text THEN h.part
                    WHEN length(f.folded) = length(s.text) AND strpos(f.folded, h.part) > 0
                         AND fold_accents(substr(s.text, strpos(f.folded, h.part), length(h.part))) = h.part
                    THEN substr(s.text, strpos(f.folded, h.part), length(h.part))
                    ELSE s.text END AS text,
               m.score,
               (SELECT src.source FROM asset_sources src WHERE src.asset_id = s.asset_id
                ORDER BY src.last_seen DESC LIMIT 1) AS source_path
        FROM matched m JOIN segments s ON s.id = m.id, q,
             -- the fragment is chosen on the folded text, where the folded query's words are, and shown
             -- as written: folding keeps a precomposed letter one character ("é" -> "e"), so where the
             -- lengths agree a fragment's place in the folded text is its place in the text, unless a
             -- letter spelled longer ("ß" -> "ss") and a mark written apart cancel out: then the part
             -- cut from the text does not fold to the fragment (checked only for a text folding
             -- changed: at 1M, checking every text cost 2 ms of PostgreSQL's CPU a query). Where it has
             -- no place in the text, the whole text goes back, and the answer cuts the part around the
             -- words, which it finds folding them (a headline of the text as written, which does not
             -- fold, showed its start with no word in it)
             LATERAL (SELECT fold_accents(s.text) AS folded) f,
             LATERAL (SELECT ts_headline('simple', f.folded, q.q, %(headline)s) AS part) h
        ORDER BY m.score DESC, m.chars, s.id
        """
    ).format(
        allowed=allowed,
        words=words,
        candidates=sql.SQL("SELECT * FROM words")
        if phrase is None
        else sql.SQL("{} UNION ALL SELECT * FROM words").format(
            candidates(phrase, dense[-1], KEYWORD_CANDIDATES, capped)
        ),
    )
    params = {"query": query, "words": row["words"], "limit": limit, "headline": HEADLINE_OPTIONS}
    return conn.execute(query_sql, params).fetchall()


def _assets_left(conn: Conn, of_filters: sql.Composable) -> int:
    """How many assets ``of_filters`` (a condition on ``a``) leaves, counted lately (:func:`counted`):
    the share of the library whose segments a keyword query reads."""
    return counted(conn, sql.SQL("SELECT 1 FROM assets a WHERE {}").format(of_filters), 10_000_000)


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
_common: dict[tuple[str, str, str], tuple[float, frozenset[str]]] = {}


def common_lexemes(conn: Conn) -> frozenset[str]:
    """The lexemes (as a tsquery writes them, quoted) in at least :data:`COMMON_SHARE` of the
    segments by the last ANALYZE, as read in this process in the last :data:`COMMON_TTL_S` seconds."""
    database = database_of(conn)
    known = _common.get(database)
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
    _common[database] = (now, found)
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


# A query of many "or" alternatives would be as many scans: past this many, the last ones share one
# scan (a 1,000-character query holds 200; those took 106 ms as separate scans on a small database).
MAX_ALTERNATIVES = 8


def split_alternatives(tsquery: str) -> list[str]:
    """The alternatives of a ``websearch_to_tsquery`` result: its parts joined by ``|`` (``&`` binds
    tighter; a negated phrase is parenthesised), at most :data:`MAX_ALTERNATIVES` of them (the last
    is the ``|`` of those left over)."""
    parts = _split_top(tsquery, "|")
    if len(parts) <= MAX_ALTERNATIVES:
        return parts
    rest = " | ".join(f"( {part} )" for part in parts[MAX_ALTERNATIVES - 1 :])
    return [*parts[: MAX_ALTERNATIVES - 1], rest]


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
