// The local stack the load, query-plan and concurrency benchmarks run against: `node dev/run.ts` (the same
// `wrangler dev --env local` + Neon and Upstash gateways as `npm run dev`) pointed at the benchmark database and the
// real Redis, on its own ports, with the Neon gateway keeping each traced request for replay (EVENTRA_CAPTURE_SQL).
// Also the small HTTP helpers the benchmarks share: calls with a Host header (Node's fetch cannot set one), the
// gateways' per-request round-trip counters and the captured SQL.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CapturedRequest } from '../dev/gateways/neon.ts';
import { stackCpu, type StackCpu } from './process-cpu.ts';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const resultsDir = path.join(root, 'bench', 'results');

export interface BenchStack {
  /** The Worker (wrangler dev): http://127.0.0.1:<port>; tenants are chosen with the Host header. */
  port: number;
  neonPort: number;
  upstashPort: number;
  inspectorPort: number;
  /** CPU seconds so far of the stack's processes by part, and PostgreSQL's (bench/process-cpu.ts); null off Linux. */
  cpu(): StackCpu | null;
  close(): Promise<void>;
}

export interface StackPorts {
  port: number;
  neonPort: number;
  upstashPort: number;
  /** wrangler's DevTools inspector of the Worker's isolate (bench/export.ts reads its JS heap through it). */
  inspectorPort: number;
}

export const DEFAULT_PORTS: StackPorts = { port: 8788, neonPort: 4445, upstashPort: 8089, inspectorPort: 9331 };

/** Starts `node dev/run.ts` on the bench database; its output goes to bench/results/stack.log. */
export async function startBenchStack(
  databaseUrl: string,
  ports: StackPorts = DEFAULT_PORTS,
  front: 'api' | 'public' = 'api',
): Promise<BenchStack> {
  await mkdir(resultsDir, { recursive: true });
  const logFile = path.join(resultsDir, 'stack.log');
  const output = createWriteStream(logFile);
  const child: ChildProcess = spawn(process.execPath, [path.join(root, 'dev', 'run.ts')], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      PORT: String(ports.port),
      NEON_GATEWAY_PORT: String(ports.neonPort),
      UPSTASH_GATEWAY_PORT: String(ports.upstashPort),
      INSPECTOR_PORT: String(ports.inspectorPort),
      EVENTRA_CAPTURE_SQL: '1',
      // The production code path: no check of response bodies against their schemas (src/routes/response.ts).
      EVENTRA_RESPONSE_CHECKS: 'off',
      // Which Worker takes the requests (dev/run.ts): the API Worker, or the public Worker in front of it.
      EVENTRA_FRONT: front,
      // No every-minute scheduled run (dev/run.ts): on the benchmark database one took about 5 s of the Worker's
      // isolate (expiring the seed's lapsed holds, sweeping its outbox backlog, then their queue messages) and landed
      // in whichever line was being measured; the benchmarks measure requests, not the scheduled handler.
      EVENTRA_LOCAL_CRON: 'off',
    },
  });
  child.stdout?.pipe(output);
  child.stderr?.pipe(output);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the stack exited with code ${child.exitCode}; see ${logFile}`);
    try {
      const health = await call({ port: ports.port, host: 'localhost', method: 'GET', path: '/health' });
      if (health.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error(`the stack did not answer /health within 120 s; see ${logFile}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return {
    ...ports,
    cpu: () => (child.pid === undefined ? null : stackCpu(child.pid)),
    async close() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      output.end();
    },
  };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** Closes the kept-alive connections of `call`, so a script can end. */
export function closeConnections(): void {
  agent.destroy();
}

export interface CallOptions {
  port: number;
  host: string;
  method: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface CallResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

/** One HTTP call with a Host header (tenant hosts like bench-2.localhost need no DNS); JSON in, JSON out. */
export function call(options: CallOptions): Promise<CallResult> {
  return new Promise((resolve, reject) => {
    const data = options.body === undefined ? undefined : JSON.stringify(options.body);
    const request = http.request(
      {
        host: '127.0.0.1',
        port: options.port,
        method: options.method,
        path: options.path,
        agent,
        headers: {
          host: options.host,
          ...(data === undefined ? {} : { 'content-type': 'application/json' }),
          ...options.headers,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = text === '' ? null : JSON.parse(text);
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body });
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(data);
  });
}

/** Like `call`, but throws unless the status is the expected one. */
export async function expectCall(options: CallOptions, status: number): Promise<CallResult> {
  const result = await call(options);
  if (result.status !== status) {
    throw new Error(
      `${options.method} ${options.host}${options.path} answered ${result.status}, expected ${status}: ` +
        JSON.stringify(result.body).slice(0, 500),
    );
  }
  return result;
}

export interface RoundTrips {
  database: number;
  redis: number;
}

async function gatewayJson<T>(port: number, path: string): Promise<T> {
  const result = await call({ port, host: '127.0.0.1', method: 'GET', path });
  if (result.status !== 200) throw new Error(`gateway ${port}${path} answered ${result.status}`);
  return result.body as T;
}

/** The database and Redis round trips the Worker made for one request (its X-Request-Id). */
export async function roundTrips(stack: StackPorts, trace: string): Promise<RoundTrips> {
  const [database, redis] = await Promise.all([
    gatewayJson<{ requests: number }>(stack.neonPort, `/__eventra/round-trips/${encodeURIComponent(trace)}`),
    gatewayJson<{ requests: number }>(stack.upstashPort, `/__eventra/round-trips/${encodeURIComponent(trace)}`),
  ]);
  return { database: database.requests, redis: redis.requests };
}

/** Both gateways' totals (every round trip, traced or not: background work included). */
export async function totalRoundTrips(stack: StackPorts): Promise<RoundTrips> {
  const [database, redis] = await Promise.all([
    gatewayJson<{ total: { requests: number } }>(stack.neonPort, '/__eventra/round-trips'),
    gatewayJson<{ total: { requests: number } }>(stack.upstashPort, '/__eventra/round-trips'),
  ]);
  return { database: database.total.requests, redis: redis.total.requests };
}

export type { CapturedRequest };

/** The SQL requests the Worker sent for one request (its X-Request-Id), in order. */
export async function capturedSql(stack: StackPorts, trace: string): Promise<CapturedRequest[]> {
  const answer = await gatewayJson<{ requests: CapturedRequest[] }>(
    stack.neonPort,
    `/__eventra/captures/${encodeURIComponent(trace)}`,
  );
  return answer.requests;
}

/** The statements (text and parameters) of a captured request: a batch's queries or the single query. */
export function statementsOf(request: CapturedRequest): { query: string; params: unknown[] }[] {
  const payload = JSON.parse(request.body) as {
    query?: string;
    params?: unknown[];
    queries?: { query: string; params?: unknown[] }[];
  };
  const list = payload.queries ?? (payload.query === undefined ? [] : [payload]);
  return list.map((item) => ({ query: item.query ?? '', params: item.params ?? [] }));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX_64 = /^[0-9a-f]{64}$/;
const TICKET_CODE = /^[A-Z0-9]{12}$/;

/**
 * A write replay that can run again: every UUID the fixtures do not know (`known`) (ids and Idempotency-Keys the Worker made),
 * every SHA-256 (token hashes) and every ticket code is replaced by a fresh value, the same one wherever it recurs
 * in the request. Reads are replayed byte for byte.
 */
export function refreshGenerated(requests: CapturedRequest[], known: ReadonlySet<string>): CapturedRequest[] {
  const replaced = new Map<string, string>();
  const fresh = (value: string): string => {
    let next = replaced.get(value);
    if (next === undefined) {
      if (UUID.test(value)) next = randomUUID();
      else if (HEX_64.test(value)) next = randomBytes(32).toString('hex');
      else
        next = randomBytes(9)
          .toString('base64')
          .replace(/[^A-Za-z0-9]/g, 'X')
          .toUpperCase()
          .slice(0, 12);
      replaced.set(value, next);
    }
    return next;
  };
  const rewrite = (value: unknown): unknown => {
    if (typeof value === 'string') {
      if (
        (UUID.test(value) && !known.has(value)) ||
        HEX_64.test(value) ||
        (TICKET_CODE.test(value) && !known.has(value))
      ) {
        return fresh(value);
      }
      return value;
    }
    if (Array.isArray(value)) return value.map(rewrite);
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, inner] of Object.entries(value)) {
        out[key] = key === 'params' || key === 'queries' ? rewrite(inner) : inner;
      }
      return out;
    }
    return value;
  };
  return requests.map((request) => ({
    headers: request.headers,
    body: JSON.stringify(rewrite(JSON.parse(request.body))),
  }));
}

/** A test address from 198.18.0.0/15 (RFC 2544, set aside for benchmarks): spreads the per-client limits. */
export function benchIp(index: number): string {
  return `198.${18 + ((index >> 16) & 1)}.${(index >> 8) & 255}.${index & 255}`;
}

/** The nearest-rank percentile `p` of a list of values (NaN for none). */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}

/** Prints rows as an aligned text table (first row: headers). */
export function table(rows: readonly (readonly (string | number)[])[]): string {
  const text = rows.map((row) => row.map((cell) => (typeof cell === 'number' ? formatNumber(cell) : cell)));
  const widths = text[0]?.map((_, column) => Math.max(...text.map((row) => (row[column] ?? '').length))) ?? [];
  return text
    .map((row, index) => {
      const line = row
        .map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0)))
        .join('  ');
      return index === 0 ? `${line}\n${widths.map((width) => '-'.repeat(width)).join('  ')}` : line;
    })
    .join('\n');
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return '-';
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}
