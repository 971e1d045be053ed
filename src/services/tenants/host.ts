/** How a request host maps to a tenant lookup. */
export type HostKind =
  | { kind: 'platform' }
  | { kind: 'subdomain'; slug: string }
  | { kind: 'custom'; hostname: string }
  | { kind: 'invalid' };

const LOOPBACK = new Set(['127.0.0.1', '[::1]', '::1']);
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * Classifies the request URL's host name (never a header the client could choose separately from the URL):
 * the bare ROOT_DOMAIN is the platform, one label under it is a tenant slug, any other valid host name is a
 * candidate custom domain. Deeper subdomains of ROOT_DOMAIN are invalid (never a tenant).
 */
export function classifyHost(hostname: string, rootDomain: string): HostKind {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  if (host === rootDomain) return { kind: 'platform' };
  // Locally (ROOT_DOMAIN=localhost) the loopback addresses are the platform host too, so curl 127.0.0.1 works.
  if (rootDomain === 'localhost' && LOOPBACK.has(host)) return { kind: 'platform' };
  // IP literals are never tenants: they are refused without a lookup.
  if (!HOSTNAME.test(host) || IPV4.test(host)) return { kind: 'invalid' };
  const suffix = `.${rootDomain}`;
  if (host.endsWith(suffix)) {
    const label = host.slice(0, -suffix.length);
    return SLUG.test(label) ? { kind: 'subdomain', slug: label } : { kind: 'invalid' };
  }
  return { kind: 'custom', hostname: host };
}
