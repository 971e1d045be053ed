import { sql } from 'drizzle-orm';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env.ts';
import { scoped } from '../db/tenant.ts';
import {
  claimStatements,
  IDEMPOTENCY_HEADER,
  idempotencyKey,
  releaseClaimStatement,
  requestHash,
  resolveClaimFailure,
  storeResponseStatement,
  type IdempotencyClaim,
} from '../lib/idempotency.ts';
import { IDEMPOTENT_REPLAYED_HEADER } from '../routes/idempotency.ts';
import { principalOf } from './auth.ts';

/**
 * Idempotency-Key for the creating POSTs of signed-in members (the public checkout claims its key inside its own
 * batch instead; see src/services/bookings/create.ts). Route middleware, placed AFTER the route's auth guards
 * (`requirePermission(...)`), since the key belongs to the caller: `user:<id>` in this organization.
 *
 * Without the header it does nothing. With it: the key is claimed in a first round trip (committed as "in flight",
 * no response yet), so a concurrent request with the key answers 409 and a finished one is replayed (its status and
 * JSON body, with `Idempotent-Replayed: true`) without running the handler; another body with the key is a 422.
 * After the handler, a 2xx response is stored with the claim (a second round trip); any other answer gives the
 * claim up, so a refused request can be retried with the same key once it is fixed.
 *
 * On the platform host (no organization to keep the key under) the header is validated and otherwise ignored.
 *
 * @example
 * middleware: [requirePermission('events:write'), idempotent()] as const
 */
export function idempotent() {
  return createMiddleware<AppEnv>(async function idempotencyMiddleware(c, next) {
    const key = idempotencyKey(c.req.header(IDEMPOTENCY_HEADER));
    const tenant = c.var.tenant;
    if (key === undefined || tenant === null) {
      await next();
      return undefined;
    }
    const db = c.var.services.db;
    const claim: IdempotencyClaim = {
      organizationId: tenant.id,
      scope: `user:${principalOf(c).userId}`,
      key,
      requestHash: await requestHash(c.req.method, c.req.path, await c.req.text()),
    };
    const scope = { organizationId: tenant.id };

    try {
      await scoped(db, scope, [...claimStatements(db, claim)]);
    } catch (error) {
      // Throws the 409 (in flight) and 422 (another body) problems itself.
      const replay = await resolveClaimFailure(db, claim, error);
      if (replay === null) throw error;
      const headers = { [IDEMPOTENT_REPLAYED_HEADER]: 'true', 'cache-control': 'no-store' };
      if (replay.body === null) return c.body(null, replay.status as ContentfulStatusCode, headers);
      return c.json(replay.body, replay.status as ContentfulStatusCode, headers);
    }

    // Errors thrown downstream are already problem responses here (Hono's compose runs onError per handler).
    await next();

    const status = c.res.status;
    try {
      if (status >= 200 && status < 300) {
        const isJson = c.res.headers.get('content-type')?.includes('json') ?? false;
        const body: unknown = isJson ? await c.res.clone().json() : null;
        await scoped(db, scope, [storeResponseStatement(db, claim, status, sql`${JSON.stringify(body)}::jsonb`)]);
      } else {
        await scoped(db, scope, [releaseClaimStatement(db, claim)]);
      }
    } catch (error) {
      // The change itself is done (or refused): answer it. The claim stays in flight and may be taken over by a
      // retry after a minute (see STALE_CLAIM_SECONDS).
      c.var.logger.error('idempotency record failed', { error, status });
    }
    return undefined;
  });
}
