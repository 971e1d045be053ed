import type { ClientInfo } from './client.ts';

/**
 * The trace under which the local gateways count a request's round trips: the caller's correlation id when it sent
 * one (so a test can ask about the request it made), else the server's request id.
 */
export function traceId(ids: Pick<ClientInfo, 'requestId' | 'correlationId'>): string {
  return ids.correlationId ?? ids.requestId;
}
