CREATE TABLE students (
    tenant_id                 uuid NOT NULL REFERENCES tenants (id),
    id                        text COLLATE "C" NOT NULL,
    display_name              text NOT NULL,
    target_language           text,
    level                     text,
    time_zone                 text NOT NULL,
    preferred_accent          text,
    preferred_specialization  text,
    goal                      text,
    created_at                timestamptz NOT NULL,
    updated_at                timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE teachers (
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    id               text COLLATE "C" NOT NULL,
    display_name     text NOT NULL,
    languages        jsonb NOT NULL,
    specializations  text[] NOT NULL,
    time_zone        text NOT NULL,
    bio              text,
    avatar_url       text,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX teachers_languages ON teachers USING gin (languages jsonb_path_ops);
