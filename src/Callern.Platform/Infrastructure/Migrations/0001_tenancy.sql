CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    settings    jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL
);

-- The secret is stored protected by ASP.NET Core Data Protection whose key ring lives outside
-- the database (docs/security.md): a dump of this table alone cannot sign tokens.
CREATE TABLE api_keys (
    key_id            text PRIMARY KEY,
    tenant_id         uuid NOT NULL REFERENCES tenants (id),
    protected_secret  text NOT NULL,
    created_at        timestamptz NOT NULL,
    revoked_at        timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at);
