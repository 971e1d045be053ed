import type { Server } from 'node:http';

/**
 * How long a gateway keeps an idle keep-alive connection open. It must be LONGER than the client's own idle close:
 * workerd (kj's HttpClient, `HttpClientSettings.idleTimeout`) closes a pooled connection after 5 s idle, and Node's
 * default `keepAliveTimeout` is also 5 s. With equal timeouts the two race: the gateway closes a connection idle for
 * 5 s at the moment the Worker sends its next request on it, the request is reset unread ("Network connection
 * lost"), and the Neon driver reports "Error connecting to database", which the Worker answers with 503. Bursts (an
 * on-sale rush: hundreds of connections opened at once, then reused after a pause) hit that window; with the
 * gateway waiting longer, the client is always the side that closes an idle connection. Below Node's 60 s
 * `headersTimeout`, which still bounds a request that never completes its headers.
 */
export const GATEWAY_KEEP_ALIVE_TIMEOUT_MS = 30_000;

export function keepIdleConnectionsLongerThanClients(server: Server): void {
  server.keepAliveTimeout = GATEWAY_KEEP_ALIVE_TIMEOUT_MS;
}

/**
 * Stops a local HTTP server and ends every connection to it, then resolves. `server.close()` alone ends only the
 * connections idle at that moment and resolves when the last other one ends; workerd keeps its pooled connections
 * and reuses one while it is busy, so a Worker still running (a queue retry, a live stream's heartbeat) can hold
 * `close()` open indefinitely.
 */
export function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    // The only error close() reports is a server already closed: that is closed, too.
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
