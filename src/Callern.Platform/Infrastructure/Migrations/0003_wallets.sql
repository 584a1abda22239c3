-- Wallets: minute packages, purchases, lots with expiry, an append-only ledger, holds for calls,
-- teacher earnings. Amounts are whole seconds (bigint). docs/wallets.md explains the model.

CREATE TABLE packages (
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    id             uuid NOT NULL,
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    minutes        integer NOT NULL CHECK (minutes BETWEEN 1 AND 100000),
    price          numeric(19, 4) NOT NULL CHECK (price >= 0),
    currency       text COLLATE "C" NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    validity_days  integer CHECK (validity_days BETWEEN 1 AND 3660),
    archived_at    timestamptz,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- One row per student who ever had seconds: the running totals the ledger sums to. The CHECKs are
-- the last line of defence: no code path can leave a wallet negative, whatever it computes.
CREATE TABLE wallets (
    tenant_id          uuid NOT NULL,
    student_id         text COLLATE "C" NOT NULL,
    available_seconds  bigint NOT NULL DEFAULT 0 CHECK (available_seconds >= 0),
    held_seconds       bigint NOT NULL DEFAULT 0 CHECK (held_seconds >= 0),
    created_at         timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, student_id),
    FOREIGN KEY (tenant_id, student_id) REFERENCES students (tenant_id, id)
);

-- A lot is one credit (a purchase or a grant) with its own expiry. remaining_seconds is what is
-- still spendable; held_seconds is reserved by live calls. Both only ever shrink to zero.
CREATE TABLE wallet_lots (
    tenant_id          uuid NOT NULL,
    id                 uuid NOT NULL,
    student_id         text COLLATE "C" NOT NULL,
    source             text NOT NULL CHECK (source IN ('purchase', 'adjustment')),
    granted_seconds    bigint NOT NULL CHECK (granted_seconds > 0),
    remaining_seconds  bigint NOT NULL CHECK (remaining_seconds >= 0),
    held_seconds       bigint NOT NULL DEFAULT 0 CHECK (held_seconds >= 0),
    expires_at         timestamptz,
    expired_at         timestamptz,
    created_at         timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, student_id) REFERENCES wallets (tenant_id, student_id),
    CHECK (remaining_seconds + held_seconds <= granted_seconds),
    -- An expired lot keeps nothing spendable; seconds still held by a live call leave when it ends.
    CHECK (expired_at IS NULL OR remaining_seconds = 0)
);
-- Consumption order: earliest expiry first, lots without expiry last.
CREATE INDEX wallet_lots_spendable ON wallet_lots (tenant_id, student_id, expires_at NULLS LAST, id)
    WHERE expired_at IS NULL;
-- The expiry sweeper's queue.
CREATE INDEX wallet_lots_due ON wallet_lots (expires_at) WHERE expired_at IS NULL AND expires_at IS NOT NULL;

CREATE TABLE wallet_purchases (
    tenant_id          uuid NOT NULL,
    id                 uuid NOT NULL,
    student_id         text COLLATE "C" NOT NULL,
    package_id         uuid NOT NULL,
    package_name       text NOT NULL,
    seconds            bigint NOT NULL CHECK (seconds > 0),
    price              numeric(19, 4) NOT NULL,
    currency           text COLLATE "C" NOT NULL,
    payment_reference  text NOT NULL,
    lot_id             uuid NOT NULL,
    expires_at         timestamptz,
    purchased_at       timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, package_id) REFERENCES packages (tenant_id, id),
    FOREIGN KEY (tenant_id, lot_id) REFERENCES wallet_lots (tenant_id, id)
);
CREATE INDEX wallet_purchases_period ON wallet_purchases (tenant_id, purchased_at);

CREATE TABLE wallet_adjustments (
    tenant_id   uuid NOT NULL,
    id          uuid NOT NULL,
    student_id  text COLLATE "C" NOT NULL,
    seconds     bigint NOT NULL CHECK (seconds <> 0),
    reason      text NOT NULL,
    actor       text NOT NULL,
    lot_id      uuid,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, student_id) REFERENCES wallets (tenant_id, student_id)
);

-- Money-moving POSTs: the key is claimed inside the transaction that moves the money, so a
-- concurrent retry waits on the unique key and then replays the stored response.
CREATE TABLE idempotency_keys (
    tenant_id     uuid NOT NULL,
    key           text COLLATE "C" NOT NULL,
    request_hash  bytea NOT NULL,
    response      jsonb NOT NULL,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

-- A hold reserves seconds of one student's wallet for one call; wallet_hold_lots says which lots
-- they came from, so that settlement returns unused seconds to the lots they were taken from.
CREATE TABLE wallet_holds (
    tenant_id         uuid NOT NULL,
    call_id           uuid NOT NULL,
    student_id        text COLLATE "C" NOT NULL,
    state             text NOT NULL CHECK (state IN ('active', 'settled', 'released')),
    held_seconds      bigint NOT NULL DEFAULT 0 CHECK (held_seconds >= 0),
    charged_seconds   bigint NOT NULL DEFAULT 0 CHECK (charged_seconds >= 0),
    released_seconds  bigint NOT NULL DEFAULT 0 CHECK (released_seconds >= 0),
    teacher_id        text COLLATE "C",
    created_at        timestamptz NOT NULL,
    ended_at          timestamptz,
    PRIMARY KEY (tenant_id, call_id),
    FOREIGN KEY (tenant_id, student_id) REFERENCES wallets (tenant_id, student_id),
    CHECK (state = 'active' OR held_seconds = 0)
);

CREATE TABLE wallet_hold_lots (
    tenant_id  uuid NOT NULL,
    call_id    uuid NOT NULL,
    lot_id     uuid NOT NULL,
    seconds    bigint NOT NULL CHECK (seconds >= 0),
    PRIMARY KEY (tenant_id, call_id, lot_id),
    FOREIGN KEY (tenant_id, call_id) REFERENCES wallet_holds (tenant_id, call_id),
    FOREIGN KEY (tenant_id, lot_id) REFERENCES wallet_lots (tenant_id, id)
);

-- The ledger. Every change of a wallet's totals is one row here, in the same transaction:
-- sum(available_delta) = wallets.available_seconds and sum(held_delta) = wallets.held_seconds.
-- The id is an identity so entries are listed in posting order; one statement may post several.
CREATE TABLE wallet_entries (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id        uuid NOT NULL,
    student_id       text COLLATE "C" NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('purchase', 'adjustment', 'hold', 'release', 'charge', 'expiry')),
    available_delta  bigint NOT NULL,
    held_delta       bigint NOT NULL,
    lot_id           uuid,
    call_id          uuid,
    source_id        uuid,
    created_at       timestamptz NOT NULL,
    FOREIGN KEY (tenant_id, student_id) REFERENCES wallets (tenant_id, student_id),
    CHECK (CASE kind
        WHEN 'purchase' THEN available_delta > 0 AND held_delta = 0
        WHEN 'adjustment' THEN available_delta <> 0 AND held_delta = 0
        WHEN 'hold' THEN held_delta > 0 AND available_delta = -held_delta
        WHEN 'release' THEN available_delta > 0 AND held_delta = -available_delta
        WHEN 'charge' THEN available_delta = 0 AND held_delta <= 0
        WHEN 'expiry' THEN available_delta <= 0 AND held_delta <= 0 AND available_delta + held_delta < 0
    END)
);
CREATE INDEX wallet_entries_student ON wallet_entries (tenant_id, student_id, id);
-- Exactly one charge per call, whatever the callers do.
CREATE UNIQUE INDEX wallet_entries_one_charge_per_call ON wallet_entries (tenant_id, call_id) WHERE kind = 'charge';

CREATE FUNCTION wallet_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'wallet_entries is append-only';
END $$;
CREATE TRIGGER wallet_entries_no_update BEFORE UPDATE OR DELETE ON wallet_entries
    FOR EACH ROW EXECUTE FUNCTION wallet_entries_append_only();
CREATE TRIGGER wallet_entries_no_truncate BEFORE TRUNCATE ON wallet_entries
    FOR EACH STATEMENT EXECUTE FUNCTION wallet_entries_append_only();

-- Seconds taught, one row per settled call: what payouts are computed from.
CREATE TABLE teacher_earnings (
    tenant_id   uuid NOT NULL,
    call_id     uuid NOT NULL,
    teacher_id  text COLLATE "C" NOT NULL,
    student_id  text COLLATE "C" NOT NULL,
    seconds     bigint NOT NULL CHECK (seconds >= 0),
    earned_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, call_id),
    FOREIGN KEY (tenant_id, teacher_id) REFERENCES teachers (tenant_id, id)
);
CREATE INDEX teacher_earnings_teacher ON teacher_earnings (tenant_id, teacher_id, earned_at);
CREATE INDEX teacher_earnings_period ON teacher_earnings (tenant_id, earned_at);
