/**
 * How long a tenant resolution is trusted (the isolate's cache and the location's shared tier): the bound on how
 * late a suspension, a plan change or a tenant directory change (dev/move-organization.ts) takes effect. Its own
 * module so that Node tooling can read it without the Worker's types.
 */
export const TENANT_CACHE_TTL_MS = 30_000;
