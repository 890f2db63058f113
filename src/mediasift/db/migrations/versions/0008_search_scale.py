"""Search at scale: each distinct text's vector stored and indexed once, segments pointing at it;
media type and tenant on the indexed rows and on segments, so filters are answered in the index.

At 1M segments, labels that mediasift writes once per segment ("person", "speech", "face") made
dense groups of identical vectors that took over the HNSW graph's links: unique items became
unreachable (found 1 time of 20 by their own text). A text model's vectors now live in
``search_vectors``, one row per (model, tenant, media type, text), and the segment's ``embeddings``
row points at it instead of holding a copy. A vector goes when the last segment pointing at it does.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"

SCHEMA = r"""
CREATE TABLE search_vectors (
    id             bigserial PRIMARY KEY,
    model          text NOT NULL,
    model_version  text NOT NULL,
    tenant         text NOT NULL REFERENCES tenants (name),
    media_type     text NOT NULL,
    text_sha256    bytea NOT NULL,
    dim            integer NOT NULL,
    embedding      vector NOT NULL CHECK (vector_dims(embedding) = dim),
    -- its prefix also answers "how many vectors does this filter leave" (model, tenant, media type)
    UNIQUE (model, tenant, media_type, text_sha256, model_version)
);

ALTER TABLE embeddings ALTER COLUMN embedding DROP NOT NULL;
ALTER TABLE embeddings ADD COLUMN search_vector_id bigint REFERENCES search_vectors (id);
ALTER TABLE embeddings ADD CONSTRAINT embeddings_own_or_shared_vector
    CHECK ((embedding IS NULL) <> (search_vector_id IS NULL));
CREATE INDEX embeddings_search_vector_idx ON embeddings (search_vector_id, segment_id)
    WHERE search_vector_id IS NOT NULL;

-- A vector no segment points at any more goes with the last one.
CREATE FUNCTION search_vector_release() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM search_vectors v WHERE v.id = OLD.search_vector_id
        AND NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.search_vector_id = OLD.search_vector_id);
    RETURN NULL;
END $$;
CREATE TRIGGER embeddings_release_vector AFTER DELETE OR UPDATE OF search_vector_id ON embeddings
    FOR EACH ROW WHEN (OLD.search_vector_id IS NOT NULL) EXECUTE FUNCTION search_vector_release();

-- The asset's media type and tenant on each segment: keyword filters combine their index with the
-- text index instead of walking matches through a join to assets.
ALTER TABLE segments ADD COLUMN media_type text, ADD COLUMN tenant text;
UPDATE segments s SET media_type = a.media_type, tenant = a.tenant FROM assets a WHERE a.id = s.asset_id;
ALTER TABLE segments ALTER COLUMN media_type SET NOT NULL, ALTER COLUMN tenant SET NOT NULL;
CREATE INDEX segments_filter_idx ON segments (media_type, tenant);
CREATE FUNCTION segment_asset_fields() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT a.media_type, a.tenant INTO NEW.media_type, NEW.tenant FROM assets a WHERE a.id = NEW.asset_id;
    RETURN NEW;
END $$;
CREATE TRIGGER segments_asset_fields BEFORE INSERT ON segments
    FOR EACH ROW EXECUTE FUNCTION segment_asset_fields();

-- Existing text-model vectors (the models embed_text ran with) become shared ones.
CREATE TEMPORARY TABLE text_models AS
    SELECT DISTINCT model FROM operator_runs WHERE operator = 'embed_text' AND model IS NOT NULL;
INSERT INTO search_vectors (model, model_version, tenant, media_type, text_sha256, dim, embedding)
SELECT DISTINCT ON (e.model, s.tenant, s.media_type, sha256(convert_to(s.text, 'UTF8')), e.model_version)
       e.model, e.model_version, s.tenant, s.media_type, sha256(convert_to(s.text, 'UTF8')), e.dim, e.embedding
FROM embeddings e JOIN segments s ON s.id = e.segment_id
WHERE e.model IN (SELECT model FROM text_models) AND s.text IS NOT NULL;
UPDATE embeddings e SET search_vector_id = v.id, embedding = NULL
FROM segments s, search_vectors v
WHERE s.id = e.segment_id AND e.model IN (SELECT model FROM text_models) AND s.text IS NOT NULL
  AND v.model = e.model AND v.model_version = e.model_version AND v.tenant = s.tenant
  AND v.media_type = s.media_type AND v.text_sha256 = sha256(convert_to(s.text, 'UTF8'));
DROP TABLE text_models;
"""

DOWNGRADE = r"""
UPDATE embeddings e SET embedding = v.embedding, search_vector_id = NULL
FROM search_vectors v WHERE v.id = e.search_vector_id;
DROP TRIGGER IF EXISTS embeddings_release_vector ON embeddings;
DROP FUNCTION IF EXISTS search_vector_release;
ALTER TABLE embeddings DROP CONSTRAINT IF EXISTS embeddings_own_or_shared_vector;
ALTER TABLE embeddings DROP COLUMN IF EXISTS search_vector_id;
ALTER TABLE embeddings ALTER COLUMN embedding SET NOT NULL;
DROP TABLE IF EXISTS search_vectors;
DROP TRIGGER IF EXISTS segments_asset_fields ON segments;
DROP FUNCTION IF EXISTS segment_asset_fields;
DROP INDEX IF EXISTS segments_filter_idx;
ALTER TABLE segments DROP COLUMN IF EXISTS media_type, DROP COLUMN IF EXISTS tenant;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DOWNGRADE)
