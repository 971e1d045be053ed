import type { Bindings } from '../env.ts';

/**
 * The origin (scheme, host, port) this API is reached at, from the request URL, for the absolute URLs it hands out
 * (`Location`, links in emails). The host is the one the tenant middleware resolved the organization from (the
 * request URL's host, never a forwarded header). Locally the scheme and port are the request's own
 * (`http://acme.localhost:8787` behind `wrangler dev`); in staging and production the API is only served over
 * https on the default port, so the origin is `https://{host}` whatever port a client wrote into its Host header.
 */
export function requestOrigin(requestUrl: string, bindings: Pick<Bindings, 'ENVIRONMENT'>): string {
  const url = new URL(requestUrl);
  return bindings.ENVIRONMENT === 'local' ? url.origin : `https://${url.hostname}`;
}

/**
 * The same origin with another host name (same scheme and port): the sign-up on the platform host links to the new
 * organization's host. Without a request (queues, jobs) the default for the environment: http locally, else https.
 */
export function originOnHost(origin: string | null, hostname: string, bindings: Pick<Bindings, 'ENVIRONMENT'>): string {
  if (origin === null) return `${bindings.ENVIRONMENT === 'local' ? 'http' : 'https'}://${hostname}`;
  const url = new URL(origin);
  url.hostname = hostname;
  return url.origin;
}
