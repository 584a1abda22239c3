-- Every node caches tenant settings (allowed origins among them) and listens on this channel
-- (Tenancy/SettingsChanges.cs): a change made by any writer reaches every node's cache when the
-- transaction commits, not after the cache's expiry. The payload is the tenant's id.
CREATE FUNCTION notify_tenant_settings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('callern_settings', NEW.id::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER tenant_settings_changed
    AFTER UPDATE OF settings ON tenants
    FOR EACH ROW WHEN (OLD.settings IS DISTINCT FROM NEW.settings)
    EXECUTE FUNCTION notify_tenant_settings();
