"""The text vector indexes built again with ef_construction 256 (it was 128).

A better-linked graph reaches the same items with a shorter search: at 1M segments, every one of 100
items ingested after the load is found by a paraphrase at ``hnsw.ef_search`` 250 instead of 400,
~3-4 ms less of the server's CPU per semantic query (``mediasift.db.search.HNSW_EF_CONSTRUCTION``).
An index built at 128 and searched at 250 missed one paraphrase of 100. The build takes about twice
as long (1M segments: ~100 s with two parallel workers and the embedded server's memory settings).

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

from mediasift.db.search import text_index_ddl

revision = "0014"
down_revision = "0013"

DROP_TEXT_INDEXES = r"""
DO $$
DECLARE name text;
BEGIN
    FOR name IN SELECT indexname FROM pg_indexes
                WHERE tablename = 'search_vectors' AND indexname ~ '^search_vectors_reps_'
    LOOP
        EXECUTE format('DROP INDEX %I', name);
    END LOOP;
END $$;
"""


def upgrade() -> None:
    op.execute(DROP_TEXT_INDEXES)
    models = op.get_bind().execute(sa.text("SELECT DISTINCT model, dim FROM search_vectors")).fetchall()
    for model, dim in models:
        op.execute(text_index_ddl(model, dim).as_string(None))


def downgrade() -> None:
    """The indexes stay as they are: a build at 128 would only be worse."""
