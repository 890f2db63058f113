"""Tenants, API keys, the audit of API actions, and where cached model results came from.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"

SCHEMA = r"""
-- A team or product sharing this installation; every asset belongs to one. The CLI acts on 'default'.
CREATE TABLE tenants (
    name        text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    created_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO tenants (name) VALUES ('default');

-- The same bytes uploaded by two tenants are two assets over one blob.
ALTER TABLE assets ADD COLUMN tenant text NOT NULL DEFAULT 'default' REFERENCES tenants (name);
ALTER TABLE assets ALTER COLUMN tenant DROP DEFAULT;
ALTER TABLE assets DROP CONSTRAINT assets_sha256_key;
ALTER TABLE assets ADD CONSTRAINT assets_tenant_sha256_key UNIQUE (tenant, sha256);
CREATE INDEX assets_sha256_idx ON assets (sha256);
CREATE INDEX assets_tenant_order_idx ON assets (tenant, created_at, id);
CREATE INDEX artifacts_blob_idx ON artifacts (blob_sha256) WHERE blob_sha256 IS NOT NULL;

-- API keys: the secret is kept only as its SHA-256 (it is 32 random bytes: no slow hash needed).
CREATE TABLE api_keys (
    id             text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{16}$'),
    tenant         text NOT NULL REFERENCES tenants (name),
    scope          text NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    secret_sha256  bytea NOT NULL,
    name           text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz,
    revoked_at     timestamptz
);

-- What was done over the API, by which key, from where, and how it ended (append-only).
CREATE TABLE api_audit (
    id       bigserial PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    key_id   text,
    tenant   text,
    client   text NOT NULL,
    action   text NOT NULL,
    target   text NOT NULL DEFAULT '',
    status   integer NOT NULL,
    detail   jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX api_audit_tenant_idx ON api_audit (tenant, id);
CREATE TRIGGER api_audit_no_update BEFORE UPDATE OR DELETE ON api_audit
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER api_audit_no_truncate BEFORE TRUNCATE ON api_audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();

-- The asset whose analysis first stored a cached model result, so deleting it can remove them too.
ALTER TABLE inference_cache ADD COLUMN asset_id uuid;
CREATE INDEX inference_cache_asset_idx ON inference_cache (asset_id) WHERE asset_id IS NOT NULL;
"""

DOWNGRADE = r"""
ALTER TABLE inference_cache DROP COLUMN IF EXISTS asset_id;
DROP TABLE IF EXISTS api_audit, api_keys;
DROP INDEX IF EXISTS artifacts_blob_idx, assets_sha256_idx, assets_tenant_order_idx;
ALTER TABLE assets DROP CONSTRAINT IF EXISTS assets_tenant_sha256_key;
ALTER TABLE assets ADD CONSTRAINT assets_sha256_key UNIQUE (sha256);
ALTER TABLE assets DROP COLUMN IF EXISTS tenant;
DROP TABLE IF EXISTS tenants;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DOWNGRADE)
