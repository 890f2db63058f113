"""A person keeps no mean face once its last face is gone, and a deleted face costs one subtraction.

Before, a named person whose faces were all deleted kept the centroid built from them: biometric
data of deleted assets outlived them. Now a person that has no face when its transaction commits has
no ``vector_sum`` or ``centroid`` (NULL; the name stays, so faces can be merged into it again). Within
the transaction the centroid stays: an asset analysed again deletes its faces and stores the new ones
in one transaction, and the new faces of a named person's only picture still find that person.

A deleted face is taken off its person's sum instead of the sum being made again from every face the
person still has: deleting an asset with k faces of a person with n faces cost k scans of n.

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"

RELEASE = r"""
CREATE OR REPLACE FUNCTION person_release() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE people SET face_count = face_count - 1, updated_at = now(), vector_sum = vector_sum - OLD.embedding,
            centroid = CASE WHEN face_count > 1 THEN l2_normalize(vector_sum - OLD.embedding) ELSE centroid END
        WHERE id = OLD.person_id;
    END IF;
    DELETE FROM people p WHERE p.id = OLD.person_id AND p.name IS NULL
        AND NOT EXISTS (SELECT 1 FROM faces f WHERE f.person_id = OLD.person_id);
    RETURN NULL;
END $$;
"""

# Checked at commit: the row's face count then, not when the event was queued.
FORGET = r"""
CREATE FUNCTION person_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE people SET vector_sum = NULL, centroid = NULL WHERE id = NEW.id AND face_count = 0;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER people_forget_empty AFTER INSERT OR UPDATE ON people
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.face_count = 0 AND NEW.centroid IS NOT NULL)
    EXECUTE FUNCTION person_forget();
"""

OLD_RELEASE = r"""
CREATE OR REPLACE FUNCTION person_release() RETURNS trigger LANGUAGE plpgsql AS $$
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
"""


def upgrade() -> None:
    op.execute("ALTER TABLE people ALTER COLUMN vector_sum DROP NOT NULL, ALTER COLUMN centroid DROP NOT NULL")
    op.execute("UPDATE people SET vector_sum = NULL, centroid = NULL WHERE face_count = 0")
    op.execute(RELEASE)
    op.execute(FORGET)


def downgrade() -> None:
    op.execute("DROP TRIGGER people_forget_empty ON people")
    op.execute("DROP FUNCTION person_forget")
    op.execute(OLD_RELEASE)
    op.execute("DELETE FROM people WHERE centroid IS NULL")
    op.execute("ALTER TABLE people ALTER COLUMN vector_sum SET NOT NULL, ALTER COLUMN centroid SET NOT NULL")
