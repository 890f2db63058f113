"""Events out: the outbox of asset events, their pending deliveries per sink, and webhooks.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"

SCHEMA = r"""
-- What happened to an asset, written in the transaction that made it happen (a transactional
-- outbox). No foreign key to assets: a deleted asset keeps its events. ``id`` is what consumers
-- deduplicate on; ``seq`` orders events roughly (transactions commit out of sequence order, so
-- nothing may rely on it to find what is new: the pending deliveries below do that).
CREATE TABLE events (
    id          uuid PRIMARY KEY,
    seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    type        text NOT NULL CHECK (type IN ('asset.analysed', 'asset.failed', 'asset.deleted')),
    tenant      text NOT NULL,
    asset_id    uuid NOT NULL,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_tenant_idx ON events (tenant, seq);
CREATE INDEX events_asset_idx ON events (asset_id);

-- Where an event is sent: signed HTTP POSTs to a URL, for some event types of one tenant. The secret
-- is kept as it is (the HMAC needs it); it is shown once, when the webhook is made.
CREATE TABLE webhooks (
    id           uuid PRIMARY KEY,
    tenant       text NOT NULL REFERENCES tenants (name),
    url          text NOT NULL,
    event_types  text[] NOT NULL CHECK (cardinality(event_types) > 0
                 AND event_types <@ ARRAY['asset.analysed', 'asset.failed', 'asset.deleted']),
    secret       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    removed_at   timestamptz,
    last_attempt_at  timestamptz,
    last_status      text  -- "200", "HTTP 503", "ConnectError: ...": the latest delivery's outcome
);
CREATE INDEX webhooks_tenant_idx ON webhooks (tenant) WHERE removed_at IS NULL;

-- One row per (event, sink) not yet handed over: 'topic' (the broker's), 'kafka', or 'webhook' (one
-- per webhook that wanted the event when it was written). Relays claim rows with FOR UPDATE SKIP
-- LOCKED and delete them once published, in one transaction: a relay that dies before committing
-- leaves them for the next (at-least-once), and an event committing late is found all the same.
CREATE TABLE event_deliveries (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id    uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    sink        text NOT NULL CHECK (sink IN ('topic', 'kafka', 'webhook')),
    webhook_id  uuid REFERENCES webhooks (id) ON DELETE CASCADE,
    attempts    integer NOT NULL DEFAULT 0,
    not_before  timestamptz NOT NULL DEFAULT now(),
    last_error  text,
    CHECK ((sink = 'webhook') = (webhook_id IS NOT NULL)),
    UNIQUE NULLS NOT DISTINCT (event_id, sink, webhook_id)
);
CREATE INDEX event_deliveries_due_idx ON event_deliveries (sink, not_before, id);
"""

DOWNGRADE = r"""
DROP TABLE IF EXISTS event_deliveries, webhooks, events;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DOWNGRADE)
