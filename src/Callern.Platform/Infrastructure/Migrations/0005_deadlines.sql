-- Durable deadlines: a row per pending timer (ring timeout, setup timeout, call tick, reconnect
-- grace, queue wait). Any node's sweeper claims due rows with FOR UPDATE SKIP LOCKED and deletes
-- each in the same transaction as its handler's effects, so a deadline fires once even when
-- several nodes sweep, and survives every node's death.
CREATE TABLE deadlines (
    kind        text NOT NULL,
    subject_id  uuid NOT NULL,
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    due_at      timestamptz NOT NULL,
    PRIMARY KEY (kind, subject_id)
);
CREATE INDEX deadlines_due ON deadlines (due_at);
