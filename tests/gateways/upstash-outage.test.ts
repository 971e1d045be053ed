import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from '@upstash/redis';
import {
  connectRedisBackend,
  createRespBackend,
  startUpstashGateway,
  type RedisBackend,
  type UpstashGateway,
} from '../../dev/gateways/upstash.ts';
import { RedisHandshakeError } from '../../dev/gateways/resp.ts';
import { deleteByPrefix, services } from './upstash-harness.ts';

const realRedisUrl = services.redis.kind === 'real' ? services.redis.url : undefined;

/** A TCP proxy in front of Redis that the test can cut, restore, or turn into a black hole. */
class TcpProxy {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  private blackhole = false;
  port = 0;
  private readonly target: { host: string; port: number };

  constructor(targetUrl: string) {
    const parsed = new URL(targetUrl);
    this.target = { host: parsed.hostname || '127.0.0.1', port: Number(parsed.port || 6379) };
  }

  /** The Redis URL through the proxy (credentials and database kept). */
  urlFor(targetUrl: string): string {
    const parsed = new URL(targetUrl);
    parsed.hostname = '127.0.0.1';
    parsed.port = String(this.port);
    return parsed.toString();
  }

  async start(): Promise<void> {
    const server = net.createServer((client) => {
      this.sockets.add(client);
      client.on('close', () => this.sockets.delete(client));
      client.on('error', () => client.destroy());
      if (this.blackhole) return; // accept, never answer
      const upstream = net.connect(this.target);
      this.sockets.add(upstream);
      upstream.on('close', () => {
        this.sockets.delete(upstream);
        client.destroy();
      });
      upstream.on('error', () => upstream.destroy());
      client.on('close', () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** Drops every connection and stops listening: Redis "goes away". */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async restore(): Promise<void> {
    await this.start();
  }

  /** Keeps accepting connections but forwards nothing (a hung Redis). */
  async hang(): Promise<void> {
    await this.cut();
    this.blackhole = true;
    await this.start();
  }

  async close(): Promise<void> {
    this.blackhole = false;
    await this.cut();
  }
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('connectRedisBackend', () => {
  it('falls back to the embedded stand-in with a clear warning when Redis is unreachable and allowed', async () => {
    const port = await freePort();
    const messages: { message: string; fields: Record<string, unknown> | undefined }[] = [];
    const started = Date.now();
    const backend = await connectRedisBackend({
      url: `redis://127.0.0.1:${port}`,
      allowEmbedded: true,
      log: (message, fields) => messages.push({ message, fields }),
    });
    try {
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(backend.kind).toBe('embedded');
      expect(messages).toHaveLength(1);
      expect(messages[0]?.message).toMatch(
        new RegExp(`Redis at redis://127\\.0\\.0\\.1:${port} is unreachable.*embedded in-memory Redis stand-in`),
      );
      const pong = await backend.command(['PING']);
      expect(pong).toMatchObject({ status: 'PONG' });
    } finally {
      await backend.close();
    }
  });

  it('rejects with a clear error when Redis is unreachable and the stand-in is not allowed', async () => {
    const port = await freePort();
    await expect(connectRedisBackend({ url: `redis://127.0.0.1:${port}`, allowEmbedded: false })).rejects.toThrow(
      new RegExp(`Redis at redis://127\\.0\\.0\\.1:${port} is unreachable .*embedded stand-in is not allowed`),
    );
  });

  it('rejects an invalid URL', async () => {
    await expect(connectRedisBackend({ url: 'rediss://example.test:6380', allowEmbedded: true })).rejects.toThrow(
      /unsupported Redis URL scheme rediss:/,
    );
  });

  it.skipIf(!realRedisUrl)('never falls back when Redis answers but refuses the handshake', async () => {
    const url = new URL(realRedisUrl as string);
    url.username = '';
    url.password = `wrong-${randomUUID()}`;
    const attempt = connectRedisBackend({ url: url.toString(), allowEmbedded: true });
    await expect(attempt).rejects.toBeInstanceOf(RedisHandshakeError);
    await expect(attempt).rejects.toThrow(/refused the handshake: .*(AUTH|WRONGPASS|password)/i);
    await expect(attempt).rejects.not.toThrow(/wrong-/); // the password is redacted
  });

  it.skipIf(!realRedisUrl)('selects the database named in the URL', async () => {
    const prefix = `eventra-test:upstash-outage:${randomUUID().slice(0, 8)}:`;
    const db0 = await connectRedisBackend({ url: realRedisUrl, allowEmbedded: false });
    const url = new URL(realRedisUrl as string);
    url.pathname = '/3';
    const db3 = await connectRedisBackend({ url: url.toString(), allowEmbedded: false });
    try {
      expect(await db3.command(['SET', `${prefix}k`, 'in-db-3'])).toMatchObject({ status: 'OK' });
      expect(await db0.command(['EXISTS', `${prefix}k`])).toBe(0);
      expect(await db3.command(['GET', `${prefix}k`])).toEqual(Buffer.from('in-db-3'));
    } finally {
      await deleteByPrefix(db3, prefix);
      await db0.close();
      await db3.close();
    }
  });
});

describe.skipIf(!realRedisUrl)('Redis outage and recovery through a TCP proxy', () => {
  const token = `token-${randomUUID()}`;
  const prefix = `eventra-test:upstash-outage:${randomUUID().slice(0, 8)}:`;
  let proxy: TcpProxy;
  let backend: RedisBackend;
  let gateway: UpstashGateway;
  let redis: Redis;
  const logs: string[] = [];

  beforeAll(async () => {
    proxy = new TcpProxy(realRedisUrl as string);
    await proxy.start();
    backend = createRespBackend(proxy.urlFor(realRedisUrl as string), { commandTimeoutMs: 1_500 });
    gateway = await startUpstashGateway({ token, backend, log: (message) => logs.push(message) });
    redis = new Redis({ url: gateway.url, token });
  });

  afterEach(async () => {
    // Every test leaves the proxy forwarding again.
    await proxy.close();
    await proxy.restore();
  });

  afterAll(async () => {
    // Directly, not through the proxy: afterEach just cut the proxied connection.
    const direct = createRespBackend(realRedisUrl);
    await deleteByPrefix(direct, prefix);
    await direct.close();
    await (gateway as UpstashGateway | undefined)?.close();
    await (backend as RedisBackend | undefined)?.close();
    await (proxy as TcpProxy | undefined)?.close();
  });

  it('fails fast with 5xx while Redis is gone and recovers when it is back', async () => {
    expect(await redis.set(`${prefix}k`, 'before')).toBe('OK');

    await proxy.cut();
    let started = Date.now();
    await expect(redis.get(`${prefix}k`)).rejects.toThrow(/Redis is unavailable/);
    expect(Date.now() - started).toBeLessThan(3_000);

    started = Date.now();
    const raw = await fetch(`${gateway.url}/pipeline`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: JSON.stringify([['get', `${prefix}k`]]),
    });
    expect(raw.status).toBe(503);
    expect(((await raw.json()) as { error: string }).error).toMatch(/^ERR Redis is unavailable: /);
    expect(Date.now() - started).toBeLessThan(3_000);

    await proxy.restore();
    expect(await redis.get(`${prefix}k`)).toBe('before');
    expect(await redis.incr(`${prefix}n`)).toBe(1);
    expect(logs.some((line) => line.includes('unreachable'))).toBe(true);
    expect(logs.some((line) => line.includes('reachable again'))).toBe(true);
  });

  it('fails in-flight and later commands when the connection drops mid-request', async () => {
    expect(await redis.set(`${prefix}slow`, 'x')).toBe('OK');
    // The script keeps Redis busy long enough for the cut to land while the reply is pending.
    const pending = redis.eval(
      'local t = redis.call("TIME"); local s = t[1] * 1000000 + t[2]; while true do local n = redis.call("TIME"); if (n[1] * 1000000 + n[2]) - s > 300000 then break end end; return 1',
      [],
      [],
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    await proxy.cut();
    await expect(pending).rejects.toThrow(/Redis is unavailable/);
    await proxy.restore();
    expect(await redis.get(`${prefix}slow`)).toBe('x');
  });

  it('answers 503 within the command timeout when Redis hangs, then recovers', async () => {
    expect(await redis.set(`${prefix}hang`, 'ok')).toBe('OK');
    await proxy.hang();
    const started = Date.now();
    await expect(redis.get(`${prefix}hang`)).rejects.toThrow(/Redis is unavailable/);
    expect(Date.now() - started).toBeLessThan(4_000);
    await proxy.close();
    await proxy.restore();
    expect(await redis.get(`${prefix}hang`)).toBe('ok');
  });
});
