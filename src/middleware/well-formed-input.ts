import { createMiddleware } from 'hono/factory';
import { matchedRoutes } from 'hono/route';
import type { Context } from 'hono';
import type { AppEnv } from '../env.ts';
import { ApiError } from '../errors/api-error.ts';
import { jsonPointer } from '../errors/handler.ts';
import { decodeUtf8 } from '../lib/text.ts';

/**
 * NUL (PostgreSQL text cannot hold it) and a UTF-16 surrogate without its partner (not encodable as UTF-8).
 * Without the `u` flag the pattern sees code units, which is what a lone surrogate is.
 */
// eslint-disable-next-line no-control-regex -- matching NUL is the point
const ILL_FORMED = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * In JSON text, NUL and surrogates can only arrive as `\u` escapes (raw NUL is invalid JSON, and invalid UTF-8 decodes
 * to U+FFFD), so bodies without one skip the second parse.
 */
const SUSPECT_ESCAPE = /\\u(?:0000|d[89a-f][0-9a-f]{2})/i;

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

const MESSAGE = 'Must not contain NUL characters or unpaired UTF-16 surrogates.';
const MALFORMED = 'Malformed percent-encoding.';

/** True when a string holds NUL or a lone surrogate. */
export function isIllFormedText(value: string): boolean {
  return ILL_FORMED.test(value);
}

function refuse(pointer: string, message: string): never {
  throw new ApiError('validation_failed', {
    detail: 'The request does not match the schema.',
    errors: [{ pointer, message }],
  });
}

/** `+` is a space in query strings; anything decodeURIComponent cannot decode (bad escapes, bad UTF-8) is null. */
function decodeComponent(raw: string, plusIsSpace: boolean): string | null {
  try {
    return decodeURIComponent(plusIsSpace ? raw.replaceAll('+', ' ') : raw);
  } catch {
    return null;
  }
}

/** The path parameter named at segment `index` of a route pattern, as an error pointer. */
function pathPointer(pattern: string, index: number): string {
  const segment = pattern.split('/')[index];
  const name = segment?.startsWith(':')
    ? segment
        .slice(1)
        .replace(/\{.*\}$/, '')
        .replace(/\?$/, '')
    : undefined;
  return name ? `/param/${name}` : '/path';
}

function checkPath(c: Context<AppEnv>, url: URL): void {
  // Only where an operation answers (middleware is registered for ALL methods): any other path is a plain 404.
  const route = matchedRoutes(c).findLast((candidate) => candidate.method !== 'ALL');
  if (!route) return;
  url.pathname.split('/').forEach((raw, index) => {
    if (!raw.includes('%')) return;
    const decoded = decodeComponent(raw, false);
    if (decoded === null) refuse(pathPointer(route.path, index), MALFORMED);
    if (isIllFormedText(decoded)) refuse(pathPointer(route.path, index), MESSAGE);
  });
}

function checkQuery(url: URL): void {
  // URLSearchParams would replace bad escapes with U+FFFD silently, so the raw query is decoded here.
  const query = url.search.slice(1);
  if (query === '') return;
  for (const pair of query.split('&')) {
    const equals = pair.indexOf('=');
    const rawName = equals === -1 ? pair : pair.slice(0, equals);
    const rawValue = equals === -1 ? '' : pair.slice(equals + 1);
    const name = decodeComponent(rawName, true);
    if (name === null || isIllFormedText(name)) refuse('/query', name === null ? MALFORMED : MESSAGE);
    const value = decodeComponent(rawValue, true);
    const pointer = `/query${jsonPointer([name])}`;
    if (value === null) refuse(pointer, MALFORMED);
    if (isIllFormedText(value)) refuse(pointer, MESSAGE);
  }
}

interface Visit {
  value: unknown;
  key: string | number | null;
  parent: Visit | null;
}

function pathOf(visit: Visit, last?: string): (string | number)[] {
  const reversed: (string | number)[] = last === undefined ? [] : [last];
  for (let at: Visit | null = visit; at !== null && at.key !== null; at = at.parent) reversed.push(at.key);
  return reversed.reverse();
}

/**
 * The path of the first ill-formed string or key, or null. Iterative (an explicit stack, depth-first in document
 * order, each entry linked to its parent), so a body nested a hundred thousand levels deep can neither overflow the
 * call stack nor copy its path at every level.
 */
function findIllFormed(root: unknown): (string | number)[] | null {
  const stack: Visit[] = [{ value: root, key: null, parent: null }];
  for (let visit = stack.pop(); visit !== undefined; visit = stack.pop()) {
    const { value } = visit;
    if (typeof value === 'string') {
      if (isIllFormedText(value)) return pathOf(visit);
    } else if (Array.isArray(value)) {
      for (let index = value.length - 1; index >= 0; index--)
        stack.push({ value: value[index], key: index, parent: visit });
    } else if (value !== null && typeof value === 'object') {
      const entries = Object.entries(value);
      for (const [key] of entries) if (isIllFormedText(key)) return pathOf(visit, key);
      for (let index = entries.length - 1; index >= 0; index--) {
        const [key, item] = entries[index] as [string, unknown];
        stack.push({ value: item, key, parent: visit });
      }
    }
  }
  return null;
}

async function checkJsonBody(c: Context<AppEnv>): Promise<void> {
  const mediaType = c.req.header('content-type')?.split(';')[0]?.trim() ?? '';
  if (!JSON_MEDIA_TYPE.test(mediaType)) return;
  // Read as bytes, which Hono caches, so the route's validator (json()) and raw-body readers (the Stripe webhook's
  // signature check) reuse them; a cached json() would hand them re-serialized text instead. JSON is UTF-8 (RFC
  // 8259): bytes that are not answer 400 naming where, instead of reaching a handler as U+FFFD.
  const decoded = decodeUtf8(new Uint8Array(await c.req.arrayBuffer()));
  if ('fault' in decoded) {
    refuse(
      '/body',
      `Not valid UTF-8: byte offset ${String(decoded.fault.byteOffset)} (line ${String(decoded.fault.line)}).`,
    );
  }
  const { text } = decoded;
  if (!SUSPECT_ESCAPE.test(text)) return;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return; // The route's validator answers malformed JSON with its own 400.
  }
  const found = findIllFormed(parsed);
  if (found) refuse(`/body${jsonPointer(found)}`, MESSAGE);
}

/**
 * One rule at the boundary for every text input: path segments, query parameters and every string and key of a JSON
 * body must decode (valid percent-encoding and UTF-8) and hold no NUL and no lone UTF-16 surrogate. Anything else is a
 * 400 `validation_failed` problem whose `errors[0].pointer` names the field (`/param/slug`, `/query/q`,
 * `/body/buyer/name`), before any route, database or audit write sees it. Headers need no check: a Headers value holds
 * only bytes 0x00..0xFF without NUL, CR or LF.
 *
 * @example
 * app.use(wellFormedInput());
 */
export function wellFormedInput() {
  return createMiddleware<AppEnv>(async function wellFormedInputMiddleware(c, next) {
    const url = new URL(c.req.url);
    checkPath(c, url);
    checkQuery(url);
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') await checkJsonBody(c);
    await next();
  });
}
