-- A call from request to end. Every transition is a conditional UPDATE on state, so two nodes
-- or two clicks never both win. Metering: metered_seconds holds the billable seconds of closed
-- stretches; metering_since is the start of the open stretch (null while paused or not started).
CREATE TABLE calls (
    id                  uuid PRIMARY KEY,
    -- Arrival order: requests in the same instant still queue first come, first served.
    seq                 bigint GENERATED ALWAYS AS IDENTITY,
    tenant_id           uuid NOT NULL REFERENCES tenants (id),
    student_id          text COLLATE "C" NOT NULL,
    teacher_id          text COLLATE "C",
    state               text NOT NULL CHECK (state IN ('queued', 'ringing', 'accepted', 'connected', 'ended')),
    end_reason          text,
    ended_by            text,
    language            text NOT NULL,
    level               text NOT NULL,
    accent              text,
    specialization      text,
    preferred_teachers  text[] NOT NULL DEFAULT '{}',
    requested_at        timestamptz NOT NULL,
    accepted_at         timestamptz,
    connected_at        timestamptz,
    ended_at            timestamptz,
    student_media_at    timestamptz,
    teacher_media_at    timestamptz,
    metered_seconds     bigint NOT NULL DEFAULT 0 CHECK (metered_seconds >= 0),
    metering_since      timestamptz,
    warned_minutes      int,
    billed_seconds      bigint CHECK (billed_seconds >= 0),
    CHECK ((state = 'ended') = (ended_at IS NOT NULL))
);
-- One live call per student.
CREATE UNIQUE INDEX calls_live_student ON calls (tenant_id, student_id) WHERE state <> 'ended';
-- One live call per teacher.
CREATE UNIQUE INDEX calls_live_teacher ON calls (tenant_id, teacher_id) WHERE state IN ('accepted', 'connected');
CREATE INDEX calls_student_history ON calls (tenant_id, student_id, requested_at DESC);
CREATE INDEX calls_teacher_history ON calls (tenant_id, teacher_id, requested_at DESC);
CREATE INDEX calls_queued ON calls (tenant_id, seq) WHERE state = 'queued';

CREATE TABLE call_offers (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    call_id     uuid NOT NULL REFERENCES calls (id),
    teacher_id  text COLLATE "C" NOT NULL,
    offered_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    outcome     text CHECK (outcome IN ('accepted', 'declined', 'timed_out', 'revoked')),
    decided_at  timestamptz,
    score       double precision NOT NULL
);
-- A teacher is offered one call at a time.
CREATE UNIQUE INDEX call_offers_open_teacher ON call_offers (tenant_id, teacher_id) WHERE outcome IS NULL;
CREATE INDEX call_offers_call ON call_offers (call_id);
CREATE INDEX call_offers_teacher ON call_offers (tenant_id, teacher_id, offered_at DESC);

CREATE TABLE call_ratings (
    call_id     uuid PRIMARY KEY REFERENCES calls (id),
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    student_id  text COLLATE "C" NOT NULL,
    teacher_id  text COLLATE "C" NOT NULL,
    stars       int NOT NULL CHECK (stars BETWEEN 1 AND 5),
    comment     text,
    created_at  timestamptz NOT NULL
);
CREATE INDEX call_ratings_teacher ON call_ratings (tenant_id, teacher_id);
