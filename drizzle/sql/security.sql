-- Row-level security and the application role. Applied by drizzle/migrate.ts after the drizzle-kit migrations, when
-- this file changed or a migration ran (tests/node/migrate.test.ts): every statement here is idempotent.
--
-- The Worker connects as eventra_app, which owns nothing and cannot bypass RLS. Every tenant query runs in a batch
-- (one transaction) that first calls set_config('app.organization_id', <tenant>, true), so a query that forgets its
-- tenant predicate still sees only the current tenant's rows. Other settings, each set only by the code path that
-- needs it and only for its own transaction:
--   app.resolve_slug / app.resolve_host  tenant resolution: exactly the organization on this host is visible
--   app.lookup_email                     registration: exactly the user row with this email is visible
--   app.platform = 'on'                  platform administration on the platform host

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'eventra_app') THEN
    CREATE ROLE eventra_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
  END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO eventra_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON
  organizations, organization_domains, users, roles, memberships, refresh_tokens, user_tokens, tenant_directory,
  events, ticket_types, capacity_pools, capacity_pool_ticket_types, bookings, booking_items, attendees, payments,
  refunds, payment_events, payment_settings, idempotency_keys, outbox, webhook_endpoints, webhook_deliveries,
  webhook_attempts, usage_daily, api_keys, mfa_totp, mfa_recovery_codes, passkeys, event_series, waitlist_entries,
  event_questions, discount_codes, files, feature_flags, organization_exports, impersonations, organization_billing,
  billing_events, import_keys, sso_connections, user_identities, sso_domains
  TO eventra_app;
-- Invoices (issue #18 part 4): the settings and counter are updated; issued invoices and credit notes never change.
GRANT SELECT, INSERT, UPDATE, DELETE ON invoice_settings TO eventra_app;
GRANT SELECT, INSERT ON invoices TO eventra_app;
GRANT SELECT, INSERT ON audit_logs TO eventra_app;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_logs FROM eventra_app;
-- Only the erasure of a person's client details (ip, user_agent set to null); the trigger below refuses the rest.
GRANT UPDATE (ip, user_agent) ON audit_logs TO eventra_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO eventra_app;

CREATE OR REPLACE FUNCTION eventra_setting(name text) RETURNS text
  LANGUAGE sql STABLE AS $$ SELECT nullif(current_setting(name, true), '') $$;

CREATE OR REPLACE FUNCTION eventra_current_organization() RETURNS uuid
  LANGUAGE sql STABLE AS $$ SELECT eventra_setting('app.organization_id')::uuid $$;

CREATE OR REPLACE FUNCTION eventra_platform_mode() RETURNS boolean
  LANGUAGE sql STABLE AS $$ SELECT coalesce(eventra_setting('app.platform') = 'on', false) $$;

-- The audit log is append-only for everyone, owner included. Two changes are allowed:
-- - a person's erasure of their client details (src/services/privacy/erase.ts): `ip` and `user_agent` set to null,
--   every other column unchanged (compared as JSON, so a column added later is covered). What happened, who did it
--   and when stay.
-- - an organization's log goes with the organization (the purge of a scheduled deletion,
--   src/services/organizations/deletion.ts): a DELETE only as the cascade of the organization's own deletion (nested
--   in its foreign-key trigger, the organization row already gone). eventra_app holds no DELETE on the table, so that
--   cascade is the only way; the platform's rows (no organization) never go. The purge leaves a tombstone in the
--   platform log.
CREATE OR REPLACE FUNCTION eventra_audit_logs_append_only() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.ip IS NULL AND NEW.user_agent IS NULL
     AND to_jsonb(NEW) - 'ip' - 'user_agent' = to_jsonb(OLD) - 'ip' - 'user_agent' THEN
    RETURN NEW;
  END IF;
  -- Moving an organization to another database (dev/move-organization.ts, run with the owner's credentials): its
  -- rows are deleted from the database it left, after they were copied and verified on the new one. eventra_app
  -- holds no DELETE privilege on this table, so this setting opens nothing to the Worker.
  IF TG_OP = 'DELETE' AND OLD.organization_id IS NOT NULL
     AND eventra_setting('app.move_organization') = OLD.organization_id::text THEN
    RETURN OLD;
  END IF;
  IF TG_OP = 'DELETE' AND OLD.organization_id IS NOT NULL AND pg_trigger_depth() > 1
     AND NOT EXISTS (SELECT 1 FROM organizations WHERE id = OLD.organization_id) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit_logs is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;
DROP TRIGGER IF EXISTS audit_logs_append_only ON audit_logs;
CREATE TRIGGER audit_logs_append_only BEFORE UPDATE OR DELETE ON audit_logs
  FOR EACH ROW EXECUTE FUNCTION eventra_audit_logs_append_only();

-- organizations: the tenant itself, the one being resolved, or all of them in platform mode.
ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS organizations_tenant ON organizations;
CREATE POLICY organizations_tenant ON organizations
  USING (
    id = eventra_current_organization()
    OR eventra_platform_mode()
    OR slug = eventra_setting('app.resolve_slug')
    OR id IN (SELECT organization_id FROM organization_domains WHERE hostname = eventra_setting('app.resolve_host'))
  )
  WITH CHECK (id = eventra_current_organization() OR eventra_platform_mode());

-- users: global identities, visible through a membership of the current tenant.
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS users_select ON users;
CREATE POLICY users_select ON users FOR SELECT
  USING (
    eventra_platform_mode()
    OR email = eventra_setting('app.lookup_email')
    OR EXISTS (
      SELECT 1 FROM memberships m WHERE m.user_id = users.id AND m.organization_id = eventra_current_organization()
    )
  );
DROP POLICY IF EXISTS users_insert ON users;
CREATE POLICY users_insert ON users FOR INSERT
  WITH CHECK (eventra_current_organization() IS NOT NULL OR eventra_platform_mode());
DROP POLICY IF EXISTS users_update ON users;
CREATE POLICY users_update ON users FOR UPDATE
  USING (
    eventra_platform_mode()
    OR email = eventra_setting('app.lookup_email')
    OR EXISTS (
      SELECT 1 FROM memberships m WHERE m.user_id = users.id AND m.organization_id = eventra_current_organization()
    )
  );
DROP POLICY IF EXISTS users_delete ON users;
CREATE POLICY users_delete ON users FOR DELETE USING (eventra_platform_mode());

-- Tenant tables: the current tenant's rows only (or all of them in platform mode).
DO $$
DECLARE
  tenant_table text;
BEGIN
  FOREACH tenant_table IN ARRAY ARRAY[
    'organization_domains', 'roles', 'memberships', 'refresh_tokens', 'user_tokens', 'audit_logs', 'tenant_directory',
    'events', 'ticket_types', 'capacity_pools', 'capacity_pool_ticket_types', 'bookings', 'booking_items',
    'discount_codes',
    'attendees', 'payments', 'refunds', 'payment_events', 'payment_settings', 'idempotency_keys', 'outbox',
    'webhook_endpoints', 'webhook_deliveries', 'webhook_attempts', 'usage_daily', 'api_keys', 'mfa_totp',
    'mfa_recovery_codes', 'passkeys', 'event_series', 'waitlist_entries', 'invoice_settings', 'invoices',
    'event_questions', 'files', 'organization_exports', 'impersonations', 'organization_billing', 'billing_events',
    'import_keys', 'sso_connections', 'user_identities', 'sso_domains'
  ] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', tenant_table);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', tenant_table);
    EXECUTE format('DROP POLICY IF EXISTS %I ON %I', tenant_table || '_tenant', tenant_table);
    EXECUTE format(
      'CREATE POLICY %I ON %I USING (organization_id = eventra_current_organization() OR eventra_platform_mode()) '
      'WITH CHECK (organization_id = eventra_current_organization() OR eventra_platform_mode())',
      tenant_table || '_tenant', tenant_table
    );
  END LOOP;
END
$$;

-- feature_flags: platform-wide definitions (no organization). Every scope reads them (the tenant lookup folds them
-- into its statement); only platform administration writes them.
ALTER TABLE feature_flags ENABLE ROW LEVEL SECURITY;
ALTER TABLE feature_flags FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS feature_flags_select ON feature_flags;
CREATE POLICY feature_flags_select ON feature_flags FOR SELECT USING (true);
DROP POLICY IF EXISTS feature_flags_write ON feature_flags;
CREATE POLICY feature_flags_write ON feature_flags
  USING (eventra_platform_mode()) WITH CHECK (eventra_platform_mode());

-- Tenant resolution joins the directory: its row is visible exactly when its organization is (the one being
-- resolved by slug or custom domain, the current tenant, or every one in platform mode: organizations' policy).
DROP POLICY IF EXISTS tenant_directory_resolve ON tenant_directory;
CREATE POLICY tenant_directory_resolve ON tenant_directory FOR SELECT
  USING (organization_id IN (SELECT id FROM organizations));


-- Platform tables (no organization, issue #16 part 1: the dashboard's daily metrics): only the platform scope
-- (app.platform, set by the scheduled rollup and by platform administrators' reads on the platform host) sees or
-- writes them; under a tenant scope they are empty and refuse writes.
GRANT SELECT, INSERT, UPDATE, DELETE ON platform_daily_metrics TO eventra_app;
ALTER TABLE platform_daily_metrics ENABLE ROW LEVEL SECURITY;
ALTER TABLE platform_daily_metrics FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS platform_daily_metrics_platform ON platform_daily_metrics;
CREATE POLICY platform_daily_metrics_platform ON platform_daily_metrics
  USING (eventra_platform_mode()) WITH CHECK (eventra_platform_mode());
-- The dead letters (issue #16 part 1): written by the dead-letter queue's consumer and read and resolved by platform
-- administrators, both under the platform scope; a tenant never sees them, even its own organization's.
GRANT SELECT, INSERT, UPDATE ON dead_letters TO eventra_app;
ALTER TABLE dead_letters ENABLE ROW LEVEL SECURITY;
ALTER TABLE dead_letters FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS dead_letters_platform ON dead_letters;
CREATE POLICY dead_letters_platform ON dead_letters
  USING (eventra_platform_mode()) WITH CHECK (eventra_platform_mode());

-- Custom-domain resolution sees exactly the domain row being resolved.
DROP POLICY IF EXISTS organization_domains_resolve ON organization_domains;
CREATE POLICY organization_domains_resolve ON organization_domains FOR SELECT
  USING (hostname = eventra_setting('app.resolve_host'));
