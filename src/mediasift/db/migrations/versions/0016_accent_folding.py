"""Keyword search without accents: "cafe" finds "Café", "uber" and "über" find each other.

The embedded server has no ``unaccent`` extension, so the text is folded by functions of the core
server: ``fold_accents`` decomposes it (NFD), drops the combining marks (U+0300-U+036F: the accents
of Latin, Greek and Cyrillic letters) and composes the rest again (NFC: Hangul stays syllables).
Letters that are not a base letter plus a mark stay as they are (ł, ø, ß, æ). A text in ASCII is its
own folding, told by a pattern: 2-3 us for a text of 400 characters, against 35 us normalized twice
(a keyword query folds the hundred texts it shows a fragment of). ``segments.tsv`` is computed from
the folded text, and the keyword query is folded the same way (``mediasift.db.keyword_search``). The
upgrade recomputes every segment's ``tsv`` (a rewrite of the table) and rebuilds its text index.

Revision ID: 0016
Revises: 0015
"""

from alembic import op

revision = "0016"
down_revision = "0015"

FOLDED = "to_tsvector('simple', fold_accents(coalesce(text, '')))"
UNFOLDED = "to_tsvector('simple', coalesce(text, ''))"


def upgrade() -> None:
    op.execute(
        r"""
        CREATE FUNCTION fold_accents(text) RETURNS text
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
        AS $$ SELECT CASE WHEN $1 ~ '^[\x01-\x7f]*$' THEN $1
                          ELSE normalize(regexp_replace(normalize($1, NFD), '[\u0300-\u036f]', '', 'g'), NFC) END $$
        """
    )
    _text_column(FOLDED)


def downgrade() -> None:
    _text_column(UNFOLDED)
    op.execute("DROP FUNCTION fold_accents(text)")


def _text_column(expression: str) -> None:
    op.execute("ALTER TABLE segments DROP COLUMN tsv")  # and its index
    op.execute(f"ALTER TABLE segments ADD COLUMN tsv tsvector GENERATED ALWAYS AS ({expression}) STORED")
    op.execute("CREATE INDEX segments_tsv_idx ON segments USING gin (tsv)")
    op.execute("ANALYZE segments (tsv)")  # the common words keyword search reads from pg_stats
