"""Keyword search folds the letters that carry no separable accent, and compatibility forms:
"lodz" finds "Łódź", "strasse" finds "Straße", "oeuvre" finds "Œuvre", and full-width "ｃａｆｅ"
or the ligature in "ﬁre" are found by "cafe" and "fire".

``fold_accents`` (migration 0016) kept a letter that is not a base letter plus a mark as it was.
Now the text is decomposed by compatibility (NFKD: full-width and half-width forms, ligatures,
superscripts become their plain letters and digits), the combining marks are dropped as before,
the letters with a stroke or a slash become their base letter (ł l, ø o, đ and ð d, ħ h, ŧ t, and
the dotless ı i), and ß, æ, œ and þ are spelled out (ss, ae, oe, th), as PostgreSQL's ``unaccent``
rules do; then it is composed again (NFC).
A text in ASCII is still its own folding. The Python side that marks the words in a snippet folds
alike (``mediasift.search.answers.folded``). The upgrade recomputes every segment's ``tsv`` and
rebuilds its text index, as 0016's did.

Revision ID: 0017
Revises: 0016
"""

from alembic import op

revision = "0017"
down_revision = "0016"

# 0016's folding, which the downgrade restores
MARKS_ONLY = r"""
    SELECT CASE WHEN $1 ~ '^[\x01-\x7f]*$' THEN $1
                ELSE normalize(regexp_replace(normalize($1, NFD), '[\u0300-\u036f]', '', 'g'), NFC) END
"""
LETTERS = r"""
    SELECT CASE WHEN $1 ~ '^[\x01-\x7f]*$' THEN $1
                ELSE normalize(
                    replace(replace(replace(replace(replace(replace(replace(replace(
                        translate(regexp_replace(normalize($1, NFKD), '[\u0300-\u036f]', '', 'g'),
                                  'łŁøØđĐðÐħĦŧŦı', 'lLoOdDdDhHtTi'),
                        'ß', 'ss'), 'ẞ', 'SS'), 'æ', 'ae'), 'Æ', 'AE'), 'œ', 'oe'), 'Œ', 'OE'),
                        'þ', 'th'), 'Þ', 'TH'),
                    NFC) END
"""


def upgrade() -> None:
    _fold_with(LETTERS)


def downgrade() -> None:
    _fold_with(MARKS_ONLY)


def _fold_with(body: str) -> None:
    """``fold_accents`` with ``body``, and every segment's ``tsv`` made again by it (a generated
    column keeps what the function gave when the row was written)."""
    op.execute("ALTER TABLE segments DROP COLUMN tsv")  # and its index
    op.execute(
        f"CREATE OR REPLACE FUNCTION fold_accents(text) RETURNS text "
        f"LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ {body} $$"
    )
    op.execute(
        "ALTER TABLE segments ADD COLUMN tsv tsvector "
        "GENERATED ALWAYS AS (to_tsvector('simple', fold_accents(coalesce(text, '')))) STORED"
    )
    op.execute("CREATE INDEX segments_tsv_idx ON segments USING gin (tsv)")
    op.execute("ANALYZE segments (tsv)")  # the common words keyword search reads from pg_stats
