import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Counts the round trips a gateway serves, per trace id and in total.
 *
 * In the local environment the Worker tags every gateway call with its request id (the Neon connection string
 * carries `eventra_trace=<id>`, the Upstash URL carries a `/trace/<id>` prefix), so a test or a benchmark can ask
 * "how many database and Redis round trips did request X make?" without racing other requests.
 */
export interface RoundTripCount {
  /** HTTP requests the gateway served for this trace (one per driver round trip). */
  requests: number;
  /** SQL statements or Redis commands inside those requests. */
  commands: number;
  /**
   * Neon gateway only: the requests per database name (one gateway serves every database of its PostgreSQL server,
   * as Neon's proxy serves many endpoints), so a test of a sharded organization can tell which database it reached.
   */
  databases?: Record<string, number>;
}

const MAX_TRACES = 50_000;

/**
 * The entry of `key` in an insertion-ordered map kept to `max` entries: made by `create` when missing, the oldest
 * entry evicted first once the bound is reached (per-trace state of the gateways).
 */
export function boundedEntry<V>(map: Map<string, V>, key: string, max: number, create: () => V): V {
  let entry = map.get(key);
  if (entry === undefined) {
    if (map.size >= max) {
      const oldest = map.keys().next().value;
      if (oldest !== undefined) map.delete(oldest);
    }
    entry = create();
    map.set(key, entry);
  }
  return entry;
}

export class RoundTripCounter {
  // Insertion-ordered, so the oldest trace is evicted first once the bound is reached.
  private readonly traces = new Map<string, RoundTripCount>();
  readonly total: RoundTripCount = { requests: 0, commands: 0 };

  record(trace: string | undefined, commands: number, database?: string): void {
    this.total.requests += 1;
    this.total.commands += commands;
    if (!trace) return;
    const entry = boundedEntry(this.traces, trace, MAX_TRACES, (): RoundTripCount => ({ requests: 0, commands: 0 }));
    entry.requests += 1;
    entry.commands += commands;
    if (database !== undefined) {
      entry.databases ??= {};
      entry.databases[database] = (entry.databases[database] ?? 0) + 1;
    }
  }

  get(trace: string): RoundTripCount {
    return this.traces.get(trace) ?? { requests: 0, commands: 0 };
  }

  reset(): void {
    this.traces.clear();
    this.total.requests = 0;
    this.total.commands = 0;
  }
}

/** A trace id is what the Worker accepts as a request id: short, URL- and header-safe. */
export const TRACE_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * Serves the counter endpoints shared by both gateways. Returns true when it answered the request.
 *   GET /__eventra/round-trips            -> { total }
 *   GET /__eventra/round-trips/<trace>    -> { trace, requests, commands }
 */
export function serveRoundTrips(req: IncomingMessage, res: ServerResponse, counter: RoundTripCounter): boolean {
  const url = new URL(req.url ?? '/', 'http://gateway.local');
  const match = /^\/__eventra\/round-trips(?:\/([^/]+))?$/.exec(url.pathname);
  if (!match) return false;
  res.setHeader('content-type', 'application/json');
  res.setHeader('access-control-allow-origin', '*');
  if (req.method !== 'GET') {
    res.statusCode = 405;
    res.end(JSON.stringify({ error: 'method not allowed' }));
    return true;
  }
  const trace = match[1] === undefined ? undefined : decodeURIComponent(match[1]);
  if (trace === undefined) {
    res.end(JSON.stringify({ total: counter.total }));
  } else if (!TRACE_PATTERN.test(trace)) {
    res.statusCode = 400;
    res.end(JSON.stringify({ error: 'invalid trace id' }));
  } else {
    res.end(JSON.stringify({ trace, ...counter.get(trace) }));
  }
  return true;
}
