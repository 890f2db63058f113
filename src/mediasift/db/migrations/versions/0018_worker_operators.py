"""The operators a worker runs, beside its lanes.

A worker started with ``--operators ocr,labels`` takes only those jobs. An ingest that waits and saw
it alive left the work to it, and waited for the others without end; with what each worker runs on
record, it works through the rest itself. NULL: every operator (every worker registered before).

Revision ID: 0018
Revises: 0017
"""

from alembic import op

revision = "0018"
down_revision = "0017"


def upgrade() -> None:
    op.execute("ALTER TABLE workers ADD COLUMN operators text[]")


def downgrade() -> None:
    op.execute("ALTER TABLE workers DROP COLUMN operators")
