"""Indexes for the drift scrape: vectors and assets by the time they were made.

Each metrics scrape samples the latest embeddings of each model in two time windows and reads the
assets made in the last 30 days. Without these, both walked the whole table: at a million segments
every scrape read every embedding row.

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    op.execute("CREATE INDEX embeddings_model_created_idx ON embeddings (model, created_at)")
    op.execute("CREATE INDEX assets_created_idx ON assets (created_at)")


def downgrade() -> None:
    op.execute("DROP INDEX embeddings_model_created_idx")
    op.execute("DROP INDEX assets_created_idx")
