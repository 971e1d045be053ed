import type { Bindings } from '../../env.ts';
import type { Tenant } from '../tenants/types.ts';

/**
 * A link for an email, on the organization's host: `https://{slug}.{ROOT_DOMAIN}{path}?token=...` (http locally).
 * The organization's own app serves these paths and calls the API with the token (Eventra is headless).
 */
export function tenantLink(bindings: Bindings, tenant: Pick<Tenant, 'slug'>, path: string, token: string): string {
  const scheme = bindings.ENVIRONMENT === 'local' ? 'http' : 'https';
  const url = new URL(`${scheme}://${tenant.slug}.${bindings.ROOT_DOMAIN}${path}`);
  url.searchParams.set('token', token);
  return url.toString();
}
