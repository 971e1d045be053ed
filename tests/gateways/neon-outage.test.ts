import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { NeonDbError, neon, neonConfig } from '@neondatabase/serverless';
import type { NeonQueryFunction } from '@neondatabase/serverless';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNeonGateway } from '../../dev/gateways/neon.ts';
import { rejectionOf } from './neon-conformance.ts';
import { createTestDatabase, startTestGateway } from './neon-target.ts';
import type { TestDatabase, TestGateway } from './neon-target.ts';

/** PostgreSQL going away under the gateway: the driver gets a prompt 5xx, and service resumes by itself. */

type ProxyMode = 'forward' | 'refuse' | 'blackhole';

interface Proxy {
  port: number;
  mode: ProxyMode;
  /** Destroys every proxied connection (both sides), as a crashed server or a dropped network would. */
  cut(): void;
  close(): Promise<void>;
}

async function startProxy(target: { host: string; port: number }): Promise<Proxy> {
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const proxy: Proxy = {
    port: 0,
    mode: 'forward',
    cut() {
      for (const socket of sockets) socket.destroy();
    },
    close: () =>
      new Promise((resolve) => {
        proxy.cut();
        server.close(() => resolve());
      }),
  };
  const server = net.createServer((client) => {
    track(client);
    if (proxy.mode === 'refuse') {
      client.destroy();
      return;
    }
    // Accepts and then never answers: only the gateway's connect timeout can end this.
    if (proxy.mode === 'blackhole') return;
    const upstream = net.connect(target);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.port = (server.address() as AddressInfo).port;
  return proxy;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await work();
  return { value, ms: Date.now() - started };
}

function expectServerError(error: unknown, status: number, message: RegExp): void {
  expect(error).toBeInstanceOf(NeonDbError);
  const text = error instanceof Error ? error.message : '';
  expect(text).toMatch(new RegExp(`^Server error \\(HTTP status ${status}\\): `));
  const body: unknown = JSON.parse(text.replace(/^Server error \(HTTP status \d+\): /, ''));
  expect(body).toMatchObject({ code: '', severity: '' });
  expect(isRecord(body) ? body.message : undefined).toMatch(message);
}

let db: TestDatabase;
let proxy: Proxy;
let gw: TestGateway;
let sql: NeonQueryFunction<false, false>;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  db = await createTestDatabase('services');
  cleanups.push(() => db.close());
  proxy = await startProxy({ host: db.host, port: db.port });
  cleanups.push(() => proxy.close());
  gw = await startTestGateway(db, { host: '127.0.0.1', port: proxy.port });
  cleanups.push(() => gw.close());
  neonConfig.fetchEndpoint = gw.gateway.url;
  sql = neon(db.connectionString());
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('outage and recovery', () => {
  it('answers 503 promptly while PostgreSQL is gone and recovers when it is back', async () => {
    // Several pooled connections, so idle ones are cut as well as the one that is asked next.
    await Promise.all(Array.from({ length: 4 }, () => sql`SELECT pg_sleep(0.05)`));
    expect(await sql`SELECT 1 AS ok`).toEqual([{ ok: 1 }]);

    proxy.mode = 'refuse';
    proxy.cut();
    const down = await timed(() => rejectionOf(sql`SELECT 1 AS ok`));
    expectServerError(down.value, 503, /^(Error connecting to database|database connection lost): /);
    expect(down.ms).toBeLessThan(5_000);
    const stillDown = await timed(() => rejectionOf(sql`SELECT 1 AS ok`));
    expectServerError(stillDown.value, 503, /^Error connecting to database: /);
    expect(stillDown.ms).toBeLessThan(5_000);

    proxy.mode = 'forward';
    expect(await sql`SELECT 2 AS ok`).toEqual([{ ok: 2 }]);
    const results = await Promise.all(Array.from({ length: 6 }, (_, index) => sql`SELECT ${index}::int AS i`));
    expect(results).toEqual(Array.from({ length: 6 }, (_, index) => [{ i: index }]));
    expect(gw.logs.some((line) => line.fields?.status === 503)).toBe(true);
  });

  it('fails a query whose connection is cut mid-run, and the next one succeeds', async () => {
    const running = rejectionOf(sql`SELECT pg_sleep(3)`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = Date.now();
    proxy.cut();
    expectServerError(await running, 503, /^database connection lost: /);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await sql`SELECT 3 AS ok`).toEqual([{ ok: 3 }]);
  });

  it('rolls back and recovers when a batch loses its connection', async () => {
    await sql`CREATE TABLE IF NOT EXISTS gw_outage (n int)`;
    const running = rejectionOf(
      sql.transaction([
        sql`INSERT INTO gw_outage VALUES (1)`,
        sql`SELECT pg_sleep(3)`,
        sql`INSERT INTO gw_outage VALUES (2)`,
      ]),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    proxy.cut();
    expectServerError(await running, 503, /^database connection lost: /);
    expect(await sql`SELECT count(*)::int AS n FROM gw_outage`).toEqual([{ n: 0 }]);
  });

  it('gives up on a server that accepts but never answers after the connect timeout', async () => {
    proxy.mode = 'blackhole';
    proxy.cut();
    // Let the gateway notice its pooled connections died, so the request below has to open a new one.
    await new Promise((resolve) => setTimeout(resolve, 100));
    try {
      const hung = await timed(() => rejectionOf(sql`SELECT 1 AS ok`));
      expectServerError(hung.value, 503, /^Error connecting to database: /);
      expect(hung.ms).toBeGreaterThanOrEqual(4_500);
      expect(hung.ms).toBeLessThan(9_000);
    } finally {
      proxy.mode = 'forward';
    }
    expect(await sql`SELECT 4 AS ok`).toEqual([{ ok: 4 }]);
  });
});

describe('unreachable from the start', () => {
  it('answers 503 when nothing listens upstream, without crashing', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const lonely = await startNeonGateway({ upstream: { host: '127.0.0.1', port } });
    try {
      const response = await fetch(lonely.url, {
        method: 'POST',
        headers: { 'Neon-Connection-String': db.connectionString() },
        body: JSON.stringify({ query: 'SELECT 1' }),
      });
      expect(response.status).toBe(503);
      const body: unknown = await response.json();
      expect(isRecord(body) ? body.message : undefined).toMatch(/^Error connecting to database: .*ECONNREFUSED/);
    } finally {
      await lonely.close();
    }
  });
});
