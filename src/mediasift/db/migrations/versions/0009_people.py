"""People: every face the faces operator embeds, and the people of a tenant they are grouped into.

A face row belongs to the faces segment of its picture (it goes when that segment is re-made or its
asset deleted). A person keeps the sum of its faces' unit vectors and their count; its centroid (the
sum, normalised) is what new faces are matched against, made again from the remaining faces when
one is deleted, and kept by a named person whose faces are all gone, so that a named person whose
only asset is processed again is found again. A person without a name goes with its
last face; a named one stays until it is merged into another.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"

SCHEMA = r"""
CREATE TABLE people (
    id          bigserial PRIMARY KEY,
    tenant      text NOT NULL REFERENCES tenants (name),
    name        text CHECK (name IS NULL OR length(btrim(name)) > 0),
    model       text NOT NULL,  -- the face model its vectors are of: faces of another are not compared
    vector_sum  vector NOT NULL,
    centroid    vector NOT NULL,
    face_count  integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX people_tenant_idx ON people (tenant, model, id);
CREATE UNIQUE INDEX people_tenant_name_idx ON people (tenant, lower(name)) WHERE name IS NOT NULL;

CREATE TABLE faces (
    id             bigserial PRIMARY KEY,
    asset_id       uuid NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    segment_id     bigint NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
    tenant         text NOT NULL,
    face_index     integer NOT NULL,
    box            integer[] NOT NULL CHECK (cardinality(box) = 4),
    confidence     real NOT NULL,
    model          text NOT NULL,
    model_version  text NOT NULL,
    embedding      vector NOT NULL,
    person_id      bigint REFERENCES people (id) ON DELETE SET NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (segment_id, face_index)
);
CREATE INDEX faces_asset_idx ON faces (asset_id);
CREATE INDEX faces_person_idx ON faces (person_id, asset_id) WHERE person_id IS NOT NULL;
CREATE INDEX faces_unassigned_idx ON faces (asset_id, id) WHERE person_id IS NULL;

-- A person without a name goes with its last face. When a face is deleted (its asset deleted or
-- analysed again), the person's centroid is made again from the faces it still has, so a deleted
-- picture stops counting; a named person left without faces keeps its centroid.
CREATE FUNCTION person_release() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM people p WHERE p.id = OLD.person_id AND p.name IS NULL
        AND NOT EXISTS (SELECT 1 FROM faces f WHERE f.person_id = OLD.person_id);
    IF TG_OP = 'DELETE' THEN
        UPDATE people p SET vector_sum = s.total, centroid = l2_normalize(s.total), face_count = s.n,
            updated_at = now()
        FROM (SELECT sum(embedding) AS total, count(*) AS n FROM faces WHERE person_id = OLD.person_id) s
        WHERE p.id = OLD.person_id AND s.n > 0;
        UPDATE people p SET face_count = 0 WHERE p.id = OLD.person_id
            AND NOT EXISTS (SELECT 1 FROM faces f WHERE f.person_id = OLD.person_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER faces_release_person AFTER DELETE OR UPDATE OF person_id ON faces
    FOR EACH ROW WHEN (OLD.person_id IS NOT NULL) EXECUTE FUNCTION person_release();
"""

DOWNGRADE = r"""
DROP TRIGGER IF EXISTS faces_release_person ON faces;
DROP FUNCTION IF EXISTS person_release;
DROP TABLE IF EXISTS faces;
DROP TABLE IF EXISTS people;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DOWNGRADE)
