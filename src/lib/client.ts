import type { Context } from 'hono';
import type { AppEnv } from '../env.ts';

/** Where a request comes from, for audit rows, sessions and rate limits. */
export interface ClientInfo {
  /** CF-Connecting-IP, set by Cloudflare's edge; X-Forwarded-For is never trusted for anything. */
  ip: string | null;
  userAgent: string | null;
  /** The server's id of the request. */
  requestId: string;
  /** The caller's `X-Request-Id`, when it sent a well-formed one (null or absent otherwise). */
  correlationId?: string | null;
}

export function clientInfo(c: Context<AppEnv>): ClientInfo {
  const ip = c.req.header('cf-connecting-ip')?.trim() ?? null;
  const userAgent = c.req.header('user-agent')?.slice(0, 512) ?? null;
  return { ip: ip === '' ? null : ip, userAgent, requestId: c.var.requestId, correlationId: c.var.correlationId };
}
