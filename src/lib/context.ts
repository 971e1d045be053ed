import type { Context } from 'hono';
import type { AppEnv, Bindings } from '../env.ts';
import { ApiError } from '../errors/api-error.ts';
import type { Principal } from '../services/auth/tokens.ts';
import type { Tenant } from '../services/tenants/types.ts';
import { clientInfo, type ClientInfo } from './client.ts';
import type { Logger } from './logger.ts';
import { recordOutcomes, type LimitRecorder } from './rate-limit.ts';
import { requestOrigin } from './origin.ts';
import type { Services } from './services.ts';

/**
 * What a service function gets: `fn({ ctx, input })`. Built from the request by `serviceContext(c)`; queue consumers
 * and scheduled jobs build the same shape, so services never touch Hono.
 */
export interface ServiceContext {
  bindings: Bindings;
  services: Services;
  logger: Logger;
  client: ClientInfo;
  tenant: Tenant | null;
  principal: Principal | null;
  /**
   * The origin this request reached (see `requestOrigin`), for absolute URLs in responses and emails; null outside a
   * request (queue consumers, scheduled jobs).
   */
  origin: string | null;
  /** Work that must finish after the response (emails, cache writes): `executionCtx.waitUntil`. */
  waitUntil(promise: Promise<unknown>): void;
  /** Reports the limiters a service ran, so the response carries their RateLimit headers (absent off requests). */
  recordRateLimits?: LimitRecorder;
}

export function serviceContext(c: Context<AppEnv>): ServiceContext {
  return {
    bindings: c.var.bindings,
    services: c.var.services,
    logger: c.var.logger,
    client: clientInfo(c),
    tenant: c.var.tenant,
    principal: c.var.principal,
    recordRateLimits: (outcomes) => recordOutcomes(c.req.raw, outcomes),
    origin: requestOrigin(c.req.url, c.var.bindings),
    waitUntil: (promise) => {
      c.executionCtx.waitUntil(
        promise.catch((error: unknown) => {
          c.var.logger.error('background work failed', { error });
        }),
      );
    },
  };
}

/** The tenant of a route that only exists on tenant hosts; on the platform host it answers 404 like any unknown path. */
export function requireTenant(ctx: { tenant: Tenant | null }): Tenant {
  if (!ctx.tenant) throw new ApiError('not_found', { detail: 'This endpoint is served on organization hosts.' });
  return ctx.tenant;
}
