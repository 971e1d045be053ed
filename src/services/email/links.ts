import type { ServiceContext } from '../../lib/context.ts';
import { originOnHost } from '../../lib/origin.ts';
import type { Tenant } from '../tenants/types.ts';

/**
 * The origin of an organization's host for links and `Location` headers. On the organization's own host (the
 * request resolved this tenant) it is the request's origin: the host the tenant was resolved from, a custom domain
 * included, with the request's scheme and port locally (`http://acme.localhost:8787`). Elsewhere (the sign-up on
 * the platform host) it is `{slug}.{ROOT_DOMAIN}` with the request's scheme and port.
 */
export function tenantOrigin(
  ctx: Pick<ServiceContext, 'bindings' | 'origin' | 'tenant'>,
  tenant: Pick<Tenant, 'id' | 'slug'>,
): string {
  if (ctx.origin !== null && ctx.tenant?.id === tenant.id) return ctx.origin;
  return originOnHost(ctx.origin, `${tenant.slug}.${ctx.bindings.ROOT_DOMAIN}`, ctx.bindings);
}

/**
 * A link for an email, on the organization's host (see `tenantOrigin`): `{origin}{path}?token=...`.
 * The organization's own app serves these paths and calls the API with the token (Eventra is headless).
 */
export function tenantLink(
  ctx: Pick<ServiceContext, 'bindings' | 'origin' | 'tenant'>,
  tenant: Pick<Tenant, 'id' | 'slug'>,
  path: string,
  token: string,
): string {
  const url = new URL(path, tenantOrigin(ctx, tenant));
  url.searchParams.set('token', token);
  return url.toString();
}
