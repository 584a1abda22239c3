-- Events for integrators (Webhooks/): every change a school cares about is written here in the
-- same transaction as the change itself (a transactional outbox), so a rolled-back change has no
-- event and a committed one always has it. Each subject (a call, a student's wallet, a teacher)
-- numbers its events 1, 2, 3… without gaps: the counter row is taken in that transaction, so a
-- rollback gives its number back and two writers of one subject queue on the row.
CREATE TABLE event_subjects (
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    subject        text NOT NULL,
    last_sequence  bigint NOT NULL,
    PRIMARY KEY (tenant_id, subject)
);

-- The event log lists a tenant's events by (xid, position): the writing transaction, then the
-- order written. It lists only events of transactions older than every transaction still running
-- (pg_snapshot_xmin), so an event that commits later always sorts after the ones already listed
-- and a reader polling with a cursor never skips one (an id or a plain counter would let a slow
-- transaction commit an event behind the cursor).
CREATE TABLE events (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    type        text NOT NULL,
    subject     text NOT NULL,
    sequence    bigint NOT NULL,
    created_at  timestamptz NOT NULL,
    data        jsonb NOT NULL,
    xid         xid8 NOT NULL DEFAULT pg_current_xact_id(),
    position    bigint GENERATED ALWAYS AS IDENTITY,
    UNIQUE (tenant_id, subject, sequence)
);
CREATE INDEX events_log ON events (tenant_id, xid, position);
CREATE INDEX events_created ON events (created_at);

-- A school's receivers. The signing secrets are protected by Data Protection, like API keys
-- (docs/security.md); during a rotation the previous one signs too until previous_secret_until.
CREATE TABLE webhook_endpoints (
    id                     uuid PRIMARY KEY,
    tenant_id              uuid NOT NULL REFERENCES tenants (id),
    url                    text NOT NULL,
    description            text,
    event_types            text[],
    protected_secret       text NOT NULL,
    protected_previous     text,
    previous_secret_until  timestamptz,
    disabled_at            timestamptz,
    disabled_reason        text,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id, id);

-- One row per event and endpoint, written with the event (the endpoints listening then). A
-- delivery waits while an earlier event of its subject to the same endpoint is still pending, so
-- a receiver gets each subject's events in order. Dispatchers on any node claim due rows with
-- FOR UPDATE SKIP LOCKED and lease them while they send.
CREATE TABLE webhook_deliveries (
    endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    subject          text NOT NULL,
    sequence         bigint NOT NULL,
    state            text NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    due_at           timestamptz NOT NULL,
    leased_until     timestamptz,
    created_at       timestamptz NOT NULL,
    delivered_at     timestamptz,
    PRIMARY KEY (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (due_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_subject ON webhook_deliveries (endpoint_id, subject, sequence) WHERE state = 'pending';

-- The delivery log: every attempt, with what the receiver answered.
CREATE TABLE webhook_attempts (
    id                uuid PRIMARY KEY,
    endpoint_id       uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id          uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    tenant_id         uuid NOT NULL REFERENCES tenants (id),
    attempted_at      timestamptz NOT NULL,
    status_code       integer,
    error             text,
    duration_ms       integer NOT NULL,
    response_snippet  text
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id);

-- Dispatchers on every node hear of new deliveries, and of deliveries queued again (a replay),
-- when their transaction commits (one notice per transaction: PostgreSQL folds identical notices
-- of a transaction into one).
CREATE FUNCTION notify_webhook_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('callern_webhooks', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER webhook_deliveries_added
    AFTER INSERT OR UPDATE OF state, due_at ON webhook_deliveries
    FOR EACH ROW WHEN (NEW.state = 'pending') EXECUTE FUNCTION notify_webhook_deliveries();
