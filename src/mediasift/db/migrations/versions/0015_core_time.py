"""An operator run's core time beside its wall time.

A worker may compute more jobs at once than it has cores (they fill each other's waits for the GIL,
the database and the inference layer's batches); a run's wall time is then more than the core time
it used. ``core_ms`` is its share of the cores while it computed (``mediasift.jobs.permits``): what
the cost of an item is priced from. Runs stored before, and runs made without a worker, have none:
their wall time stands for it.

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"


def upgrade() -> None:
    op.execute("ALTER TABLE operator_runs ADD COLUMN core_ms double precision")


def downgrade() -> None:
    op.execute("ALTER TABLE operator_runs DROP COLUMN core_ms")
