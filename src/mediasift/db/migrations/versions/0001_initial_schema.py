"""Initial schema: blobs, assets, sources, operator runs, segments, artifacts, embeddings, audit.

Revision ID: 0001
Revises:
"""

from alembic import op

revision = "0001"
down_revision = None

SCHEMA = r"""
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE blobs (
    sha256      text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size_bytes  bigint NOT NULL CHECK (size_bytes >= 0),
    mime        text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE assets (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sha256      text NOT NULL UNIQUE REFERENCES blobs (sha256),
    media_type  text NOT NULL CHECK (media_type IN ('video', 'audio', 'image', 'text')),
    mime        text NOT NULL,
    size_bytes  bigint NOT NULL,
    metadata    jsonb NOT NULL DEFAULT '{}'::jsonb,
    status      text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'processing', 'done', 'failed')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX assets_media_type_idx ON assets (media_type);
CREATE INDEX assets_status_idx ON assets (status);

-- Every place an asset's bytes were ingested from (one asset, many names).
CREATE TABLE asset_sources (
    asset_id    uuid NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    source      text NOT NULL,
    first_seen  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (asset_id, source)
);

-- Lineage of one operator on one asset: the planner diffs the declared pipeline against this.
CREATE TABLE operator_runs (
    asset_id          uuid NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    operator          text NOT NULL,
    operator_version  text NOT NULL,
    params_hash       text NOT NULL,
    params            jsonb NOT NULL DEFAULT '{}'::jsonb,
    model             text,
    model_version     text,
    status            text NOT NULL CHECK (status IN ('done', 'failed')),
    error             text,
    started_at        timestamptz NOT NULL,
    finished_at       timestamptz NOT NULL,
    duration_ms       double precision NOT NULL,
    cost              double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (asset_id, operator)
);

-- A time range and/or region of an asset, the unit of search.
CREATE TABLE segments (
    id          bigserial PRIMARY KEY,
    asset_id    uuid NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    operator    text NOT NULL,
    kind        text NOT NULL,
    key         text NOT NULL,
    start_s     double precision,
    end_s       double precision,
    region      jsonb,
    text        text,
    confidence  real,
    data        jsonb NOT NULL DEFAULT '{}'::jsonb,
    tsv         tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(text, ''))) STORED,
    CHECK (end_s IS NULL OR start_s IS NULL OR end_s >= start_s),
    UNIQUE (asset_id, operator, key)
);
CREATE INDEX segments_asset_idx ON segments (asset_id, kind);
CREATE INDEX segments_tsv_idx ON segments USING gin (tsv);

-- Derived results, each with the lineage that produced it.
CREATE TABLE artifacts (
    id                bigserial PRIMARY KEY,
    asset_id          uuid NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    operator          text NOT NULL,
    kind              text NOT NULL,
    key               text NOT NULL,
    segment_id        bigint REFERENCES segments (id) ON DELETE CASCADE,
    data              jsonb NOT NULL DEFAULT '{}'::jsonb,
    blob_sha256       text REFERENCES blobs (sha256),
    confidence        real,
    operator_version  text NOT NULL,
    model             text,
    model_version     text,
    params_hash       text NOT NULL,
    duration_ms       double precision NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (asset_id, operator, kind, key)
);

-- Vectors of any model and dimension; an HNSW index per model is created on first use.
CREATE TABLE embeddings (
    segment_id     bigint NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
    model          text NOT NULL,
    model_version  text NOT NULL,
    asset_id       uuid NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    dim            integer NOT NULL,
    embedding      vector NOT NULL CHECK (vector_dims(embedding) = dim),
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (segment_id, model)
);
CREATE INDEX embeddings_model_asset_idx ON embeddings (model, asset_id);

-- Append-only audit trail, written by triggers so that no code path can forget it.
CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor      text NOT NULL,
    action     text NOT NULL,
    entity     text NOT NULL,
    entity_id  text NOT NULL,
    detail     jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();

-- Records a change of a row; the actor comes from the transaction setting mediasift.actor.
CREATE FUNCTION audit_row_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    row_data jsonb;
    entity_key text;
BEGIN
    IF TG_OP = 'DELETE' THEN row_data := to_jsonb(OLD); ELSE row_data := to_jsonb(NEW); END IF;
    entity_key := CASE TG_TABLE_NAME
        WHEN 'assets' THEN row_data ->> 'id'
        WHEN 'blobs' THEN row_data ->> 'sha256'
        ELSE (row_data ->> 'asset_id') || ':' || coalesce(row_data ->> 'operator', row_data ->> 'source')
    END;
    row_data := row_data - 'metadata' - 'params';
    INSERT INTO audit_log (actor, action, entity, entity_id, detail)
    VALUES (coalesce(nullif(current_setting('mediasift.actor', true), ''), current_user),
            lower(TG_OP), TG_TABLE_NAME, entity_key, row_data);
    RETURN NULL;
END $$;
CREATE TRIGGER blobs_audit AFTER INSERT OR UPDATE OR DELETE ON blobs
    FOR EACH ROW EXECUTE FUNCTION audit_row_change();
CREATE TRIGGER assets_audit AFTER INSERT OR UPDATE OR DELETE ON assets
    FOR EACH ROW EXECUTE FUNCTION audit_row_change();
CREATE TRIGGER asset_sources_audit AFTER INSERT OR DELETE ON asset_sources
    FOR EACH ROW EXECUTE FUNCTION audit_row_change();
CREATE TRIGGER operator_runs_audit AFTER INSERT OR UPDATE OR DELETE ON operator_runs
    FOR EACH ROW EXECUTE FUNCTION audit_row_change();
"""

DROP = """
DROP TABLE IF EXISTS audit_log, embeddings, artifacts, segments, operator_runs, asset_sources, assets, blobs
    CASCADE;
DROP FUNCTION IF EXISTS audit_row_change, audit_log_is_append_only;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DROP)
