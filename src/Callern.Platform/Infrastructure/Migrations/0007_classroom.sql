-- The in-call classroom (docs/classroom.md). call_rooms holds one row per call that used the
-- classroom: the per-call sequence counters and flood windows. A message or operation takes its seq by updating the counter in
-- the same transaction that inserts it, so seqs are gap-free and two senders never share one.
CREATE TABLE call_rooms (
    call_id              uuid PRIMARY KEY REFERENCES calls (id),
    tenant_id            uuid NOT NULL REFERENCES tenants (id),
    chat_seq             bigint NOT NULL DEFAULT 0,
    whiteboard_seq       bigint NOT NULL DEFAULT 0,
    -- Fixed windows per call: when the window started and how many sends it has seen.
    chat_window_at       timestamptz,
    chat_window_count    int NOT NULL DEFAULT 0,
    board_window_at      timestamptz,
    board_window_count   int NOT NULL DEFAULT 0
);

-- Each participant's latest media state and latest stats sample (one row, overwritten: cheap).
CREATE TABLE call_participant_media (
    call_id      uuid NOT NULL REFERENCES calls (id),
    user_id      text COLLATE "C" NOT NULL,
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    media        jsonb,
    media_at     timestamptz,
    stats        jsonb,
    stats_at     timestamptz,
    stats_count  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (call_id, user_id)
);

CREATE TABLE call_messages (
    call_id    uuid NOT NULL REFERENCES calls (id),
    seq        bigint NOT NULL,
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    sender_id  text COLLATE "C" NOT NULL,
    text       text NOT NULL,
    sent_at    timestamptz NOT NULL,
    PRIMARY KEY (call_id, seq)
);

CREATE TABLE call_whiteboard_ops (
    call_id     uuid NOT NULL REFERENCES calls (id),
    seq         bigint NOT NULL,
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    author_id   text COLLATE "C" NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('stroke', 'shape', 'text', 'erase', 'clear', 'undo')),
    data        jsonb NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (call_id, seq)
);

-- The bytes live in the file storage under storage_key (a generated id, never the user's name).
CREATE TABLE call_files (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    call_id       uuid NOT NULL REFERENCES calls (id),
    uploader_id   text COLLATE "C" NOT NULL,
    file_name     text NOT NULL,
    content_type  text NOT NULL,
    size_bytes    bigint NOT NULL CHECK (size_bytes >= 0),
    storage_key   text NOT NULL UNIQUE,
    uploaded_at   timestamptz NOT NULL
);
CREATE INDEX call_files_call ON call_files (call_id, uploaded_at);
