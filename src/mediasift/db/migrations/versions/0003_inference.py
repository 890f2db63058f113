"""The inference layer's shared state: model usage counters and the result cache.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"

SCHEMA = r"""
-- What the models did, summed over every process: calls, items, seconds, cost, cache hits and
-- misses, routing and fallback decisions. Processes add their deltas after each job.
CREATE TABLE inference_counters (
    model_id       text NOT NULL,
    model_version  text NOT NULL,
    counter        text NOT NULL,
    value          double precision NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model_id, model_version, counter)
);

-- Model results by (model, version, input hash): identical inputs cost one inference. ``value`` is
-- the encoded result (see mediasift/inference/cache.py); ``hits`` and ``used_at`` let old entries go.
CREATE TABLE inference_cache (
    model_id       text NOT NULL,
    model_version  text NOT NULL,
    input_hash     bytea NOT NULL,
    value          bytea NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    used_at        timestamptz NOT NULL DEFAULT now(),
    hits           bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (model_id, model_version, input_hash)
);
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS inference_cache, inference_counters")
