import { randomUUID } from 'node:crypto';
import { Redis } from '@upstash/redis';
import type { RedisConfigNodejs } from '@upstash/redis';
import {
  connectRedisBackend,
  createEmbeddedBackend,
  startUpstashGateway,
  type RedisBackend,
  type UpstashGateway,
} from '../../dev/gateways/upstash.ts';
import { ReplyError } from '../../dev/gateways/resp.ts';
import { detectServices, type RedisService } from '../setup/services.ts';

/**
 * Shared setup of the Upstash gateway suites: every suite runs against the gateway in front of the Redis that
 * detectServices() reports (the embedded stand-in when there is none) and, always, in front of the embedded stand-in.
 */

export const services = await detectServices();

export interface TargetSpec {
  /** `redis` = the real Redis from detectServices(), when there is one. */
  name: 'redis' | 'embedded';
  service: RedisService;
}

export const TARGETS: TargetSpec[] =
  services.redis.kind === 'real'
    ? [
        { name: 'redis', service: services.redis },
        { name: 'embedded', service: { kind: 'embedded' } },
      ]
    : [{ name: 'embedded', service: { kind: 'embedded' } }];

export interface Target {
  name: string;
  backend: RedisBackend;
  gateway: UpstashGateway;
  token: string;
  /** Random per-suite key prefix: other suites share the Redis. */
  prefix: string;
  /** A @upstash/redis client on the gateway (default options unless overridden). */
  client(options?: Partial<RedisConfigNodejs>): Redis;
  /** POST helper for raw protocol tests. */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

export async function backendFor(service: RedisService): Promise<RedisBackend> {
  return service.kind === 'real'
    ? connectRedisBackend({ url: service.url, allowEmbedded: false })
    : createEmbeddedBackend();
}

export async function startTarget(spec: TargetSpec, suite: string): Promise<Target> {
  const backend = await backendFor(spec.service);
  const token = `test-token-${randomUUID()}`;
  const gateway = await startUpstashGateway({ token, backend });
  const prefix = `eventra-test:${suite}:${randomUUID().slice(0, 8)}:`;
  return {
    name: spec.name,
    backend,
    gateway,
    token,
    prefix,
    client: (options = {}) => new Redis({ url: gateway.url, token, ...options }),
    post: (path, body, headers = {}) =>
      fetch(`${gateway.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }),
    close: async () => {
      await deleteByPrefix(backend, prefix);
      await gateway.close();
      await backend.close();
    },
  };
}

/** Deletes the suite's keys with SCAN + DEL (never FLUSHDB: the Redis is shared). */
export async function deleteByPrefix(backend: RedisBackend, prefix: string): Promise<void> {
  let cursor = '0';
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  do {
    const reply = await backend.command(['SCAN', cursor, 'MATCH', pattern, 'COUNT', 1000]);
    if (reply instanceof ReplyError || !Array.isArray(reply)) throw new Error('SCAN failed during cleanup');
    const [next, keys] = reply;
    cursor = Buffer.isBuffer(next) ? next.toString() : '0';
    if (Array.isArray(keys) && keys.length > 0)
      await backend.command(['DEL', ...keys.filter((key) => Buffer.isBuffer(key))]);
  } while (cursor !== '0');
}

/** Every byte 1..255 as one JS string, plus multi-byte unicode and an emoji. */
export const AWKWARD_STRING =
  Array.from({ length: 255 }, (_, i) => String.fromCharCode(i + 1)).join('') + ' ünïcødé ✓ 日本語 🎉👩‍👩‍👧';
