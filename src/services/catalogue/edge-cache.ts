import type { Redis } from '@upstash/redis/cloudflare';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import type { Logger } from '../../lib/logger.ts';
import { refuseIfKnownClosed, takeToken, type LimitOutcome } from '../../lib/rate-limit.ts';
import type { RedisBatch } from '../../lib/redis-batch.ts';
import { queueUsage } from '../plans/usage.ts';
import { tenantCheckPending } from '../tenants/check.ts';
import type { EventType } from '../outbox/catalogue.ts';
import { PUBLIC_READ_LIMIT, publicReadBucket } from './limits.ts';

/**
 * The edge cache of the public catalogue (GET /api/v1/public/events and /events/{slug}, and the public calendar
 * files /calendar.ics and /events/{slug}/calendar.ics, which keep their entries as JSON and render the file per
 * request): answers kept in the colo's Workers Cache (`caches.default`), so a hot public read costs no database
 * round trip.
 *
 * Freshness comes from two values per organization in Redis, read in the SAME pipeline as the public read limit (no
 * round trip of their own), and moved by the outbox dispatch after a change commits (`announceCatalogueChanges`):
 *
 * - `catalogue:version:<org>`: a token (`v<ms>.<random>`) replaced on every change of an event or a ticket type. It
 *   is part of the cache key, so one SET makes every stale entry in every colo unreachable at once; an entry is
 *   never trusted for a version newer than the read that made it (`madeAt` must be after the token's time).
 * - `catalogue:availability:<org>`: the time (ms) of the last change of seats (a booking made, confirmed, cancelled,
 *   refunded or expired). It does not change the key: an entry older than the last change of seats is still served
 *   while it is under AVAILABILITY_STALENESS_MS old, then read again. During an on-sale moment each colo thus reads
 *   a hot event at most about once a second however many seats sell, and `remaining` is never more than a second
 *   behind (after the dispatch).
 *
 * An entry also expires at the next instant its answer changes by itself (a sales window opening or closing, a
 * listed event ending) and after CATALOGUE_CACHE_MAX_AGE_S at most (the bound on a change whose announcement was
 * lost: the dispatch could not reach Redis). Only 200 answers are kept; what a read depends on is the organization,
 * the host and the validated parameters (never a header: CORS, security and RateLimit headers are made per request
 * around it). When Redis cannot answer, an entry under AVAILABILITY_STALENESS_MS old is still served and nothing is
 * stored (reads fail open on the database, as they did before the cache).
 */

/** The longest an entry lives: the bound on staleness when a change could not be announced. */
export const CATALOGUE_CACHE_MAX_AGE_S = 60;
/** How far behind a cached answer may be on seats (and on anything when the version is unconfirmed). */
export const AVAILABILITY_STALENESS_MS = 1_000;
/** The Redis state of an organization without changes for this long is dropped (re-created by the next read). */
const STATE_TTL_S = 7 * 24 * 60 * 60;
/**
 * Clock edges (a sales window, an event end) this close behind the Worker's clock still count as ahead: the
 * database's `now()` decided the answer and may lag a little. An answer read that near an edge is not stored.
 */
const CLOCK_MARGIN_MS = 5_000;
/** How many organizations' last seen versions an isolate remembers. */
const LAST_SEEN_MAX_ENTRIES = 5_000;

/** The outbox events that change what the public catalogue shows, and how. */
const CONTENT_EVENTS: ReadonlySet<string> = new Set<EventType>([
  'event.created',
  'event.published',
  'event.updated',
  'event.cancelled',
  'ticket_type.created',
  'ticket_type.updated',
  'ticket_type.deleted',
]);
const AVAILABILITY_EVENTS: ReadonlySet<string> = new Set<EventType>([
  'booking.created',
  'booking.confirmed',
  'booking.cancelled',
  'booking.refunded',
  'booking.expired',
]);

export type CatalogueChange = 'content' | 'availability';

/** What an outbox event changes in the public catalogue, or null when nothing it shows. */
export function catalogueChange(type: string): CatalogueChange | null {
  if (CONTENT_EVENTS.has(type)) return 'content';
  if (AVAILABILITY_EVENTS.has(type)) return 'availability';
  return null;
}

function versionKey(organizationId: string): string {
  return `catalogue:version:${organizationId}`;
}

function availabilityKey(organizationId: string): string {
  return `catalogue:availability:${organizationId}`;
}

/** Every Redis key the public catalogue keeps for an organization (the purge of a deleted one removes them). */
export function catalogueKeys(organizationId: string): string[] {
  return [versionKey(organizationId), availabilityKey(organizationId)];
}

/**
 * A fresh version token. `at` is the time of the change it announces; a version a reader creates because none
 * existed announces nothing (0). The letter keeps Upstash from reading it back as a number.
 */
function newVersion(at: number): string {
  return `v${String(at)}.${crypto.randomUUID().slice(0, 8)}`;
}

function versionTime(version: string): number {
  const time = Number(version.slice(1, version.indexOf('.')));
  return Number.isFinite(time) ? time : Number.POSITIVE_INFINITY;
}

/** What Redis says of an organization's catalogue. */
export interface CatalogueState {
  version: string;
  /** The time of the last change of seats (0: none known). */
  availabilityChangedAt: number;
}

/** Queues the reading of the organization's catalogue state (creating the version when there is none) on a batch. */
function queueCatalogueState(batch: RedisBatch, organizationId: string): Promise<CatalogueState> {
  const key = versionKey(organizationId);
  const created = batch.command((pipeline) => pipeline.set(key, newVersion(0), { nx: true, ex: STATE_TTL_S }));
  const read = batch.mget<[unknown, unknown]>(key, availabilityKey(organizationId));
  return Promise.all([created, read]).then(([, [version, availability]]) => {
    if (typeof version !== 'string' || !version.startsWith('v')) throw new Error('catalogue version unreadable');
    const changedAt = Number(availability ?? 0);
    return { version, availabilityChangedAt: Number.isFinite(changedAt) ? changedAt : Number.POSITIVE_INFINITY };
  });
}

// The version this isolate last saw per organization: the key it looks up while Redis answers.
const lastSeen = new Map<string, string>();

function rememberVersion(organizationId: string, version: string): void {
  lastSeen.delete(organizationId);
  if (lastSeen.size >= LAST_SEEN_MAX_ENTRIES) {
    const oldest = lastSeen.keys().next().value;
    if (oldest !== undefined) lastSeen.delete(oldest);
  }
  lastSeen.set(organizationId, version);
}

/**
 * Announces committed changes to the public catalogue (the outbox dispatch, after the rows it selected; see
 * dispatch.ts): a new version for organizations whose events or ticket types changed, the time of the change for
 * those whose seats changed (never moved back by a dispatch with an older time). One Redis round trip; nothing when
 * nothing relevant changed.
 */
export async function announceCatalogueChanges(
  redis: Redis,
  changes: ReadonlyMap<string, CatalogueChange>,
  now = Date.now(),
): Promise<void> {
  if (changes.size === 0) return;
  const pipeline = redis.pipeline();
  for (const [organizationId, change] of changes) {
    if (change === 'content') {
      pipeline.set(versionKey(organizationId), newVersion(now), { ex: STATE_TTL_S });
    } else {
      pipeline.eval(
        "local c = tonumber(redis.call('GET', KEYS[1]) or '0') if tonumber(ARGV[1]) > c then " +
          "redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end return 1",
        [availabilityKey(organizationId)],
        [now, STATE_TTL_S],
      );
    }
  }
  await pipeline.exec();
}

/** The changes of a set of outbox rows, per organization (a content change covers seats too). */
export function catalogueChanges(
  rows: readonly { organizationId: string; type: string }[],
): Map<string, CatalogueChange> {
  const changes = new Map<string, CatalogueChange>();
  for (const row of rows) {
    const change = catalogueChange(row.type);
    if (change === null || changes.get(row.organizationId) === 'content') continue;
    changes.set(row.organizationId, change);
  }
  return changes;
}

/** Forgets the versions this isolate saw (tests: a cold isolate). */
export function forgetCatalogueVersions(): void {
  lastSeen.clear();
}

interface Entry {
  body: string;
  version: string;
  madeAt: number;
  expiresAt: number;
}

const MADE_AT = 'x-catalogue-made-at';
const EXPIRES_AT = 'x-catalogue-expires-at';
const VERSION = 'x-catalogue-version';

function edgeCache(): Cache | null {
  return typeof caches === 'undefined' ? null : caches.default;
}

async function lookup(cache: Cache, key: string, logger: Logger): Promise<Entry | null> {
  try {
    const response = await cache.match(key);
    if (response === undefined) return null;
    return {
      body: await response.text(),
      version: response.headers.get(VERSION) ?? '',
      madeAt: Number(response.headers.get(MADE_AT)),
      expiresAt: Number(response.headers.get(EXPIRES_AT)),
    };
  } catch (error) {
    logger.repeating('warn', 'catalogue cache lookup failed', { error });
    return null;
  }
}

/** The version this location stored an entry under last for an organization (a hint; Redis confirms it). */
async function lookupPointer(cache: Cache, pointer: string): Promise<string | undefined> {
  try {
    const response = await cache.match(pointer);
    const version = response === undefined ? '' : await response.text();
    return version.startsWith('v') ? version : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether an entry may answer now. With the organization's state: under that version, not past its own expiry, and
 * either made after the version's change and the last change of seats, or under AVAILABILITY_STALENESS_MS old. Without
 * it (Redis down): only the age rule.
 */
function usable(entry: Entry, state: CatalogueState | null, now: number): boolean {
  if (!(now < entry.expiresAt)) return false;
  const young = now - entry.madeAt <= AVAILABILITY_STALENESS_MS;
  if (state === null) return young;
  if (entry.version !== state.version) return false;
  return young || (entry.madeAt > versionTime(state.version) && entry.madeAt > state.availabilityChangedAt);
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** The parameters as one canonical string: keys sorted, absent values left out. */
function canonical(input: Readonly<Record<string, unknown>>): string {
  return JSON.stringify(
    Object.keys(input)
      .filter((name) => input[name] !== undefined)
      .sort()
      .map((name) => [name, input[name]]),
  );
}

export interface CachedRead<T> {
  /** Names the resource in the key (`events`, `event`). */
  resource: string;
  /** The validated parameters the answer depends on (query and path). */
  input: Readonly<Record<string, unknown>>;
  /** The database read (its one round trip), answering the response body. */
  read: () => Promise<T>;
  /**
   * The first instant after `now` at which the answer would change by itself (a sales window edge...); called with
   * `now` a few seconds back (CLOCK_MARGIN_MS), so an edge just passed ends the entry at once.
   */
  changesAt: (result: T, now: number) => number;
}

export interface CachedAnswer {
  outcome: LimitOutcome | null;
  /** The JSON text of the answer. */
  body: string;
}

/**
 * A public catalogue read through the edge cache, beside the caller's read limit (one Redis round trip: the token,
 * the `api_calls` usage and the catalogue state). The isolate looks the answer up under the version it saw last
 * (a cold isolate: the one this location stored last) while Redis answers: a hit confirmed by Redis costs no
 * database round trip. Without an entry the database read
 * starts at once, in parallel with Redis (as an uncached read); when Redis names another version, that version's
 * entry is looked up before reading. A request over the limit gets 429 whatever was found.
 */
export async function cachedPublicRead<T>(ctx: ServiceContext, spec: CachedRead<T>): Promise<CachedAnswer> {
  const tenant = requireTenant(ctx);
  const bucket = publicReadBucket(tenant.id, ctx.client.addressKey);
  refuseIfKnownClosed(PUBLIC_READ_LIMIT, bucket);
  const now = Date.now();
  // Queued by `alongside`, which takeToken runs before it first waits.
  let stateAnswer: Promise<CatalogueState> | undefined;
  const limit = takeToken(ctx.services.redis, ctx.logger, PUBLIC_READ_LIMIT, bucket, {
    failClosed: false,
    alongside: (batch) => {
      queueUsage(batch, ctx.logger, tenant.id, 'api_calls');
      stateAnswer = queueCatalogueState(batch, tenant.id);
    },
    record: ctx.recordRateLimits,
  });
  const state = (stateAnswer ?? Promise.reject(new Error('catalogue state not queued'))).then(
    (value) => value,
    (error: unknown) => {
      ctx.logger.repeating('warn', 'catalogue state unavailable; the edge cache is bypassed', { error });
      return null;
    },
  );
  // Every path below awaits `limit`; this only keeps a refusal that comes while the cache is looked up from being
  // reported as unhandled meanwhile.
  limit.catch(() => undefined);

  const cache = edgeCache();
  const name = `${spec.resource}/${await sha256Hex(canonical(spec.input))}`;
  // Under the host the request reached (a custom domain is its own zone), per organization and version.
  const host = ctx.origin === null ? 'catalogue.invalid' : new URL(ctx.origin).hostname;
  const keyOf = (version: string) =>
    `https://${host}/.catalogue-cache/${tenant.id}/${encodeURIComponent(version)}/${name}`;

  // The version to look under while Redis answers: the one this isolate saw last, else (a cold isolate) the one
  // this location stored last for the organization.
  const pointer = `https://${host}/.catalogue-cache/${tenant.id}/latest`;
  const guess = lastSeen.get(tenant.id) ?? (cache === null ? undefined : await lookupPointer(cache, pointer));
  // On a tenant resolution not yet confirmed (src/services/tenants/check.ts) the database answers: its check rides
  // along, so no organization is served from the cache on a resolution nobody confirmed.
  const guessed =
    cache !== null && guess !== undefined && !tenantCheckPending(ctx.services)
      ? await lookup(cache, keyOf(guess), ctx.logger)
      : null;
  let known: CatalogueState | null;
  let result: T;
  let readAt = now;
  if (guessed !== null) {
    const [outcome, confirmed] = await Promise.all([limit, state]);
    if (confirmed !== null) rememberVersion(tenant.id, confirmed.version);
    if (usable(guessed, confirmed, Date.now())) return { outcome, body: guessed.body };
    known = confirmed;
    if (cache !== null && confirmed !== null && confirmed.version !== guessed.version) {
      const current = await lookup(cache, keyOf(confirmed.version), ctx.logger);
      if (current !== null && usable(current, confirmed, Date.now())) return { outcome, body: current.body };
    }
    readAt = Date.now();
    result = await spec.read();
  } else {
    const [limitSettled, found, confirmed] = await Promise.allSettled([limit, spec.read(), state]);
    if (limitSettled.status === 'rejected') throw limitSettled.reason;
    if (found.status === 'rejected') throw found.reason;
    known = confirmed.status === 'fulfilled' ? confirmed.value : null;
    if (known !== null) rememberVersion(tenant.id, known.version);
    result = found.value;
  }
  const outcome = await limit;
  const body = JSON.stringify(result);
  if (cache !== null && known !== null) {
    const expiresAt = Math.min(
      readAt + CATALOGUE_CACHE_MAX_AGE_S * 1000,
      spec.changesAt(result, readAt - CLOCK_MARGIN_MS),
    );
    const maxAge = Math.floor((expiresAt - Date.now()) / 1000);
    if (maxAge >= 1) {
      const entry = new Response(body, {
        headers: {
          'content-type': 'application/json',
          'cache-control': `max-age=${String(maxAge)}`,
          [VERSION]: known.version,
          [MADE_AT]: String(readAt),
          [EXPIRES_AT]: String(expiresAt),
        },
      });
      ctx.waitUntil(cache.put(keyOf(known.version), entry));
      if (guess !== known.version) {
        const latest = new Response(known.version, {
          headers: { 'cache-control': `max-age=${String(CATALOGUE_CACHE_MAX_AGE_S)}` },
        });
        ctx.waitUntil(cache.put(pointer, latest));
      }
    }
  }
  return { outcome, body };
}
