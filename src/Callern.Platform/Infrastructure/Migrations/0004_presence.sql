-- Live hub connections, one row per SignalR connection on any node. The owning node refreshes
-- last_seen_at in one batch every heartbeat; a row whose node stopped refreshing it (the node
-- died) is swept. Billing reads last_seen_at as the last moment a participant was known there.
CREATE TABLE hub_connections (
    id            text PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    user_id       text COLLATE "C" NOT NULL,
    role          text NOT NULL,
    node_id       uuid NOT NULL,
    connected_at  timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL
);
CREATE INDEX hub_connections_user ON hub_connections (tenant_id, user_id);
CREATE INDEX hub_connections_last_seen ON hub_connections (last_seen_at);

-- A teacher's status as every node sees it. offline_due_at is the persisted deadline of the
-- disconnect grace: set when the teacher's last connection goes, cleared when one comes back,
-- fired by whichever node's sweeper claims it first.
CREATE TABLE teacher_presence (
    tenant_id       uuid NOT NULL REFERENCES tenants (id),
    teacher_id      text COLLATE "C" NOT NULL,
    status          text NOT NULL CHECK (status IN ('available', 'away', 'offline')),
    changed_at      timestamptz NOT NULL,
    offline_due_at  timestamptz,
    PRIMARY KEY (tenant_id, teacher_id)
);
CREATE INDEX teacher_presence_status ON teacher_presence (tenant_id, status, teacher_id);
CREATE INDEX teacher_presence_due ON teacher_presence (offline_due_at) WHERE offline_due_at IS NOT NULL;
