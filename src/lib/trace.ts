import { AsyncLocalStorage } from 'node:async_hooks';
import type { ClientInfo } from './client.ts';

/**
 * The trace under which the local gateways count a request's round trips: the caller's correlation id when it sent
 * one (so a test can ask about the request it made), else the server's request id.
 */
export function traceId(ids: Pick<ClientInfo, 'requestId' | 'correlationId'>): string {
  return ids.correlationId ?? ids.requestId;
}

/**
 * The trace of work a request leaves after its response (`waitUntil`): `<trace>.after-response`, so round-trip
 * counts keep measuring the request itself. The local gateways take trace ids of up to 128 characters (request ids
 * may have 128 already).
 */
export function afterResponseTraceId(ids: Pick<ClientInfo, 'requestId' | 'correlationId'>): string {
  return `${traceId(ids).slice(0, 100)}.after-response`;
}

/**
 * The trace (`traceId` above) of the request being served, in the local environment only: the isolate's shared Neon
 * and Upstash clients (src/lib/services.ts) serve every request, so they read the trace of the call in flight from
 * here to tag it for the dev gateways' round-trip counters. Production runs no request in a trace (nothing reads one
 * there).
 */
const requestTrace = new AsyncLocalStorage<string>();

/** Runs `work` (and everything it awaits or schedules) under `trace`. */
export function inTrace<T>(trace: string, work: () => T): T {
  return requestTrace.run(trace, work);
}

/** The trace of the request whose code is running, if any. */
export function currentTrace(): string | undefined {
  return requestTrace.getStore();
}
