/**
 * How long a tenant resolution is trusted (the isolate's cache and the location's shared tier): the bound on how
 * late a suspension, a plan change or a tenant directory change (dev/move-organization.ts) takes effect. Its own
 * module so that Node tooling can read it without the Worker's types.
 */
export const TENANT_CACHE_TTL_MS = 30_000;

/**
 * How long a tenant resolution past TENANT_CACHE_TTL_MS may still serve a request whose own first round trip checks
 * it (src/services/tenants/check.ts): a host served in the last day, in this location, costs no lookup of its own.
 */
export const TENANT_HINT_TTL_MS = 24 * 60 * 60_000;
