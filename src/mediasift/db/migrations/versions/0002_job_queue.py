"""Job queue (the PostgreSQL broker), the asset pipeline's job states, and the worker registry.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"

SCHEMA = r"""
-- The PostgreSQL broker: a job is a row; a delivery is a lease on it; ack deletes it.
CREATE TABLE queue_jobs (
    namespace     text NOT NULL,
    id            text NOT NULL,
    kind          text NOT NULL,
    lane          text NOT NULL,
    grp           text NOT NULL DEFAULT '',
    payload       jsonb NOT NULL DEFAULT '{}'::jsonb,
    max_attempts  integer NOT NULL,
    timeout_s     double precision NOT NULL,
    attempts      integer NOT NULL DEFAULT 0,
    state         text NOT NULL CHECK (state IN ('ready', 'leased', 'dead')),
    run_after     timestamptz NOT NULL DEFAULT now(),
    lease_owner   text,
    lease_token   uuid,
    lease_until   timestamptz,
    error_class   text,
    error         text,
    traceback     text,
    failed_at     timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (namespace, id)
);
CREATE INDEX queue_jobs_ready_idx ON queue_jobs (namespace, lane, run_after) WHERE state = 'ready';
CREATE INDEX queue_jobs_leased_idx ON queue_jobs (namespace, lease_until) WHERE state = 'leased';
CREATE INDEX queue_jobs_dead_idx ON queue_jobs (namespace, failed_at) WHERE state = 'dead';

-- Where each operator of each asset stands, whatever broker carries the jobs.
CREATE TABLE asset_jobs (
    asset_id     uuid NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    operator     text NOT NULL,
    lane         text NOT NULL,
    state        text NOT NULL CHECK (state IN ('queued', 'running', 'retrying', 'done', 'failed', 'dead')),
    attempts     integer NOT NULL DEFAULT 0,
    error_class  text,
    error        text,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (asset_id, operator)
);
CREATE INDEX asset_jobs_state_idx ON asset_jobs (state, operator);

-- Workers announce themselves and heartbeat; "alive" is a recent heartbeat.
CREATE TABLE workers (
    id            text PRIMARY KEY,
    host          text NOT NULL,
    pid           integer NOT NULL,
    broker        text NOT NULL,
    lanes         text[] NOT NULL,
    concurrency   integer NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now(),
    in_flight     integer NOT NULL DEFAULT 0,
    processed     bigint NOT NULL DEFAULT 0,
    failed        bigint NOT NULL DEFAULT 0,
    stopped_at    timestamptz
);
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS workers, asset_jobs, queue_jobs")
