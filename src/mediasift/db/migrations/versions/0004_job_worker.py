"""Which worker ran each job: ``asset_jobs.worker``.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"

SCHEMA = r"""
-- The id of the worker (as in the workers table) that holds the job or last held it; NULL while it is
-- queued and before any worker took it.
ALTER TABLE asset_jobs ADD COLUMN worker text;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("ALTER TABLE asset_jobs DROP COLUMN IF EXISTS worker")
