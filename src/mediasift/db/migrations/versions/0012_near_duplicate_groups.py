"""Near-duplicate texts share one node of the vector index.

At 1M segments, texts that differ by a word or a misread letter (the same caption read in many
frames, a sentence said in many videos) make groups of near-identical vectors that take over the
HNSW graph's links, as identical labels did before 0008: a unique item whose query lands between
groups is not reached (paraphrases of 100 items ingested after the load found 33 times of 100 at
ef_search 800; an exact scan finds all 100). A vector within ``mediasift.db.search.SAME_MEANING`` of
a vector already indexed (same model, version, tenant and media type) now names it as its
``representative_id`` and stays out of the index; a search walks the index over representatives and
ranks their groups' members by their own distance. A representative that goes (its last segment
deleted) leaves its members as representatives of their own.

The text indexes are made again under new names, over representatives only (here, for the models
that have vectors: a search would otherwise scan every vector until the next ingest made it; at 1M
vectors this takes a minute or two).

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

from mediasift.db.search import text_index_ddl

revision = "0012"
down_revision = "0011"

DROP_TEXT_INDEXES = r"""
DO $$
DECLARE name text;
BEGIN
    FOR name IN SELECT indexname FROM pg_indexes WHERE tablename = 'search_vectors' AND indexname ~ {pattern}
    LOOP
        EXECUTE format('DROP INDEX %I', name);
    END LOOP;
END $$;
"""


def upgrade() -> None:
    op.execute(
        "ALTER TABLE search_vectors ADD COLUMN representative_id bigint "
        "REFERENCES search_vectors (id) ON DELETE SET NULL"
    )
    op.execute(
        "CREATE INDEX search_vectors_group_idx ON search_vectors (representative_id) "
        "WHERE representative_id IS NOT NULL"
    )
    op.execute(DROP_TEXT_INDEXES.format(pattern="'^search_vectors_hnsw_'"))
    models = op.get_bind().execute(sa.text("SELECT DISTINCT model, dim FROM search_vectors")).fetchall()
    for model, dim in models:
        op.execute(text_index_ddl(model, dim).as_string(None))


def downgrade() -> None:
    op.execute(DROP_TEXT_INDEXES.format(pattern="'^search_vectors_reps_'"))
    op.execute("DROP INDEX search_vectors_group_idx")
    op.execute("ALTER TABLE search_vectors DROP COLUMN representative_id")
