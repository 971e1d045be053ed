import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env.ts';

/** Representation metadata a 304 leaves out (RFC 9110 15.4.5): there is no representation in it. */
const REPRESENTATION_HEADERS = ['content-type', 'content-length', 'content-encoding', 'content-language'];

function mediaType(contentType: string | null): string {
  return contentType?.split(';')[0]?.trim().toLowerCase() ?? '';
}

function isJson(type: string): boolean {
  return type === 'application/json' || type.endsWith('+json');
}

/**
 * Whether the answer gets a tag: JSON that is not a download (the streamed exports are never buffered), and
 * iCalendar files (downloads too, but small and made whole in memory, and polled by subscribed calendars).
 */
function tagged(headers: Headers): boolean {
  const type = mediaType(headers.get('content-type'));
  if (type === 'text/calendar') return true;
  return isJson(type) && !headers.has('content-disposition');
}

function base64url(bytes: ArrayBuffer): string {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '');
}

/** A strong entity tag of the exact bytes: the first 128 bits of their SHA-256. */
async function entityTag(body: ArrayBuffer): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', body);
  return `"${base64url(digest.slice(0, 16))}"`;
}

/**
 * Whether `If-None-Match` names the tag: `*`, or a list of tags compared weakly (RFC 9110 13.1.2), so a tag a proxy
 * weakened on compression (`W/"..."`) still matches.
 */
export function noneMatch(ifNoneMatch: string | undefined, tag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  if (ifNoneMatch.trim() === '*') return true;
  const opaque = tag.replace(/^W\//, '');
  return (ifNoneMatch.match(/(?:W\/)?"[^"]*"/g) ?? []).some((candidate) => candidate.replace(/^W\//, '') === opaque);
}

/**
 * `ETag` on every GET (and HEAD) 200 JSON response (and iCalendar file), and `304 Not Modified` when `If-None-Match`
 * names it. The tag is strong: a hash of the exact bytes, which the handlers produce deterministically, so any change of the
 * resource (or of what this caller may see of it) changes it. The 304 has no body and keeps every other header of
 * the 200 (Cache-Control, Vary, RateLimit, X-Request-Id...). Other downloads (`Content-Disposition`, the streamed
 * audit-log export) are never buffered and carry no tag. Cost: one copy and one SHA-256 of the body, no I/O; the handler
 * still runs (the tag is of its answer), so a 304 saves the transfer, not the work.
 *
 * Place it after the middleware that decorates responses (rate-limit headers, request id, security headers run
 * outside it and decorate the 304 as they would the 200).
 *
 * @example
 * app.use(etag());
 */
export function etag() {
  return createMiddleware<AppEnv>(async function etagMiddleware(c, next) {
    await next();
    if ((c.req.method !== 'GET' && c.req.method !== 'HEAD') || c.res.status !== 200) return;
    const headers = c.res.headers;
    if (!tagged(headers) || c.res.body === null) return;
    let tag = headers.get('etag');
    if (tag === null) {
      tag = await entityTag(await c.res.clone().arrayBuffer());
      headers.set('etag', tag);
    }
    if (!noneMatch(c.req.header('if-none-match'), tag)) return;
    await c.res.body.cancel();
    const kept = new Headers(headers);
    // Hono copies the previous response's headers onto the new one: take the representation's back out after.
    c.res = new Response(null, { status: 304, headers: kept });
    for (const name of REPRESENTATION_HEADERS) c.res.headers.delete(name);
  });
}
