"""Pairs of people a person said are not one: a split's two halves.

New faces join the nearest person and, since this revision, two people whose mean faces come within
the grouping line are joined as one (an early odd picture no longer leaves a person in two for good).
A split says the opposite of such a join, so its two halves are recorded here and never joined
again but by hand; a merge by hand carries the pairs of what it merged over to the person it keeps.

Revision ID: 0019
Revises: 0018
"""

from alembic import op

revision = "0019"
down_revision = "0018"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE people_apart (
            person_a bigint NOT NULL REFERENCES people (id) ON DELETE CASCADE,
            person_b bigint NOT NULL REFERENCES people (id) ON DELETE CASCADE,
            PRIMARY KEY (person_a, person_b),
            CHECK (person_a < person_b)
        );
        CREATE INDEX people_apart_b_idx ON people_apart (person_b);
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE people_apart")
