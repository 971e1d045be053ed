import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from '@upstash/redis';
import { TARGETS, startTarget, type Target } from './upstash-harness.ts';

// The wire protocol itself, with plain fetch (PROTOCOLS.md section B).
describe.each(TARGETS)('Upstash REST protocol ($name)', (spec) => {
  let target: Target;
  let k: (name: string) => string;

  beforeAll(async () => {
    target = await startTarget(spec, 'upstash-http');
    k = (name) => `${target.prefix}${name}`;
  });

  afterAll(async () => {
    await (target as Target | undefined)?.close();
  });

  const json = async (response: Response): Promise<unknown> => {
    expect(response.headers.get('content-type')).toBe('application/json');
    return response.json();
  };

  describe('authentication', () => {
    it('answers 401 JSON without a token or with a wrong one', async () => {
      const none = await fetch(`${target.gateway.url}/`, { method: 'POST', body: '["ping"]' });
      expect(none.status).toBe(401);
      expect(await json(none)).toEqual({ error: 'Unauthorized' });
      const wrong = await target.post('/', ['ping'], { authorization: 'Bearer nope' });
      expect(wrong.status).toBe(401);
      expect(await json(wrong)).toEqual({ error: 'Unauthorized' });
      const pipeline = await target.post('/pipeline', [['ping']], { authorization: 'Basic abc' });
      expect(pipeline.status).toBe(401);
    });

    it('accepts the token as ?_token= like Upstash', async () => {
      const response = await fetch(`${target.gateway.url}/?_token=${encodeURIComponent(target.token)}`, {
        method: 'POST',
        body: '["echo","hi"]',
      });
      expect(response.status).toBe(200);
      expect(await json(response)).toEqual({ result: 'hi' });
    });
  });

  describe('single commands', () => {
    it('runs a command and always includes result', async () => {
      const set = await target.post('/', ['set', k('a'), 'v', 'ex', 100]);
      expect(set.status).toBe(200);
      expect(await json(set)).toEqual({ result: 'OK' });
      expect(await json(await target.post('/', ['get', k('a')]))).toEqual({ result: 'v' });
      expect(await json(await target.post('/', ['get', k('missing')]))).toEqual({ result: null });
      expect(await json(await target.post('/', ['ttl', k('a')]))).toEqual({ result: 100 });
    });

    it('String()s numbers and booleans', async () => {
      await target.post('/', ['mset', k('n'), 12.5, k('b'), true, k('i'), 7]);
      expect(await json(await target.post('/', ['mget', k('n'), k('b'), k('i')]))).toEqual({
        result: ['12.5', 'true', '7'],
      });
      expect(await json(await target.post('/', ['incrby', k('i'), 3]))).toEqual({ result: 10 });
    });

    it('maps RESP2 without reshaping (HGETALL stays a flat array)', async () => {
      await target.post('/', ['hset', k('h'), 'f1', 'v1', 'f2', 'v2']);
      expect(await json(await target.post('/', ['hgetall', k('h')]))).toEqual({ result: ['f1', 'v1', 'f2', 'v2'] });
      expect(await json(await target.post('/', ['ping']))).toEqual({ result: 'PONG' });
      expect(await json(await target.post('/', ['eval', 'return {1, "two", {3}}', 0]))).toEqual({
        result: [1, 'two', [3]],
      });
    });

    it('base64-encodes every string (recursively) with Upstash-Encoding: base64', async () => {
      const bytes = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80, 0x41]);
      await target.post('/', ['set', k('bin'), 'x']);
      const b64 = { 'upstash-encoding': 'base64' };
      expect(await json(await target.post('/', ['get', k('bin')], b64))).toEqual({
        result: Buffer.from('x').toString('base64'),
      });
      expect(await json(await target.post('/', ['rpush', k('l'), 'a', 'é'], b64))).toEqual({ result: 2 });
      expect(await json(await target.post('/', ['lrange', k('l'), 0, -1], b64))).toEqual({
        result: [Buffer.from('a').toString('base64'), Buffer.from('é').toString('base64')],
      });
      expect(await json(await target.post('/', ['get', k('nothing')], b64))).toEqual({ result: null });
      // Status replies are strings too, also inside arrays (the client base64-decodes every array element).
      const statuses = await json(await target.post('/', ['eval', 'return {redis.call("PING"), {ok="OK"}}', 0], b64));
      expect(statuses).toEqual({
        result: [Buffer.from('PONG').toString('base64'), Buffer.from('OK').toString('base64')],
      });
      const error = await target.post('/', ['lpush', k('bin'), 'x'], b64);
      expect(await json(error)).toEqual({ error: 'WRONGTYPE Operation against a key holding the wrong kind of value' });
      // Raw bytes stored through a script (JSON cannot carry them) come back exactly.
      const store = `return redis.call('SET', KEYS[1], string.char(${[...bytes].join(',')}))`;
      await target.post('/', ['eval', store, 1, k('raw')]);
      const raw = (await json(await target.post('/', ['get', k('raw')], b64))) as { result: string };
      expect(Buffer.from(raw.result, 'base64')).toEqual(bytes);
    });

    it('answers 400 with the Redis error text for failing and unknown commands', async () => {
      const unknown = await target.post('/', ['nosuchcmd', 'a', 'b']);
      expect(unknown.status).toBe(400);
      expect(await json(unknown)).toEqual({
        error: "ERR unknown command 'nosuchcmd', with args beginning with: 'a' 'b' ",
      });
      const arity = await target.post('/', ['get']);
      expect(arity.status).toBe(400);
      expect(await json(arity)).toEqual({ error: "ERR wrong number of arguments for 'get' command" });
      const noscript = await target.post('/', ['evalsha', 'ffffffffffffffffffffffffffffffffffffffff', 0]);
      expect(noscript.status).toBe(400);
      expect(await json(noscript)).toEqual({ error: 'NOSCRIPT No matching script. Please use EVAL.' });
    });

    it('refuses commands that would change or block the shared connection', async () => {
      for (const command of [['multi'], ['select', 1], ['blpop', k('q'), 1], ['subscribe', 'c'], ['client', 'list']]) {
        const response = await target.post('/', command);
        expect(response.status).toBe(400);
        expect(await json(response)).toEqual({ error: `ERR Command is not available: '${String(command[0])}'` });
      }
      const pipeline = await target.post('/pipeline', [
        ['set', k('ok'), 'v'],
        ['watch', k('ok')],
        ['get', k('ok')],
      ]);
      expect(await json(pipeline)).toEqual([
        { result: 'OK' },
        { error: "ERR Command is not available: 'watch'" },
        { result: 'v' },
      ]);
      const tx = await target.post('/multi-exec', [['set', k('tx'), 'v'], ['multi']]);
      expect(tx.status).toBe(400);
      expect(await json(tx)).toEqual({ error: "ERR Command is not available: 'multi'" });
      // The connection is still healthy afterwards.
      expect(await json(await target.post('/', ['ping']))).toEqual({ result: 'PONG' });
      expect(await json(await target.post('/', ['exists', k('tx')]))).toEqual({ result: 0 });
    });

    it('round-trips large values', async () => {
      const big = 'x'.repeat(3 * 1024 * 1024) + 'ü';
      expect((await target.post('/', ['set', k('big'), big])).status).toBe(200);
      expect(await json(await target.post('/', ['get', k('big')]))).toEqual({ result: big });
      const b64 = (await json(
        await target.post(
          '/pipeline',
          [
            ['get', k('big')],
            ['strlen', k('big')],
          ],
          { 'upstash-encoding': 'base64' },
        ),
      )) as {
        result: unknown;
      }[];
      expect(Buffer.from(b64[0]?.result as string, 'base64').toString('utf8')).toBe(big);
      expect(b64[1]).toEqual({ result: Buffer.byteLength(big) });
    });
  });

  describe('malformed requests', () => {
    it('answers 400 JSON for bad JSON, empty bodies and wrong shapes', async () => {
      for (const [path, body] of [
        ['/', '{"set":'],
        ['/', ''],
        ['/', '{}'],
        ['/', '[]'],
        ['/', '[["get","x"]]'],
        ['/', '["set","k",null]'],
        ['/', '["set","k",{"a":1}]'],
        ['/pipeline', ''],
        ['/pipeline', '[]'],
        ['/pipeline', '["get","x"]'],
        ['/pipeline', '[[]]'],
        ['/pipeline', '[["get","x"],"get"]'],
        ['/multi-exec', '[]'],
        ['/multi-exec', 'not json'],
      ] as const) {
        const response = await target.post(path, body);
        expect(response.status, `${path} ${body}`).toBe(400);
        const payload = (await json(response)) as { error: unknown };
        expect(typeof payload.error).toBe('string');
      }
    });

    it('answers 404 for unknown paths and 405 for wrong methods', async () => {
      const auth = { authorization: `Bearer ${target.token}` };
      for (const path of ['/__eventra/nope', '/pipeline/extra', '/multi-exec/x/y', '/%20bad', '//', '/trace']) {
        const response = await fetch(`${target.gateway.url}${path}`, { method: 'POST', headers: auth, body: '[]' });
        expect(response.status, path).toBe(404);
        expect(typeof ((await json(response)) as { error: unknown }).error).toBe('string');
      }
      for (const [method, path] of [
        ['GET', '/pipeline'],
        ['GET', '/multi-exec'],
        ['GET', '/'],
        ['PUT', '/'],
        ['DELETE', '/get/x'],
      ] as const) {
        const response = await fetch(`${target.gateway.url}${path}`, { method, headers: auth });
        expect(response.status, `${method} ${path}`).toBe(405);
        expect(typeof ((await json(response)) as { error: unknown }).error).toBe('string');
      }
    });

    it('answers 413 JSON for bodies over 10 MiB', async () => {
      const body = JSON.stringify(['set', k('huge'), 'y'.repeat(10 * 1024 * 1024 + 10)]);
      const response = await target.post('/', body);
      expect(response.status).toBe(413);
      expect(await json(response)).toEqual({ error: 'ERR request body exceeds 10485760 bytes' });
      expect(await json(await target.post('/', ['exists', k('huge')]))).toEqual({ result: 0 });
    });
  });

  describe('pipelines and transactions', () => {
    it('returns per-command results and errors in order', async () => {
      const response = await target.post('/pipeline', [
        ['set', k('p'), 'v'],
        ['lpush', k('p'), 'x'],
        ['get', k('p')],
        ['nosuchcmd'],
        ['incr', k('pc')],
      ]);
      expect(response.status).toBe(200);
      expect(await json(response)).toEqual([
        { result: 'OK' },
        { error: 'WRONGTYPE Operation against a key holding the wrong kind of value' },
        { result: 'v' },
        { error: "ERR unknown command 'nosuchcmd', with args beginning with: " },
        { result: 1 },
      ]);
    });

    it('runs multi-exec atomically with per-command runtime errors', async () => {
      const response = await target.post('/multi-exec', [
        ['set', k('m'), 'v'],
        ['incr', k('m')],
        ['get', k('m')],
      ]);
      expect(response.status).toBe(200);
      expect(await json(response)).toEqual([
        { result: 'OK' },
        { error: 'ERR value is not an integer or out of range' },
        { result: 'v' },
      ]);
    });

    it('answers one 400 error when Redis discards the transaction (EXECABORT)', async () => {
      const response = await target.post('/multi-exec', [['set', k('x'), 'v'], ['nosuchcmd'], ['get', k('x')]]);
      expect(response.status).toBe(400);
      expect(await json(response)).toEqual({ error: 'EXECABORT Transaction discarded because of previous errors.' });
      expect(await json(await target.post('/', ['exists', k('x')]))).toEqual({ result: 0 });
    });
  });

  describe('command-in-path form', () => {
    it('serves GET and POST /<command>/<args...> with query options and body as last argument', async () => {
      const auth = { authorization: `Bearer ${target.token}` };
      const key = encodeURIComponent(k('path/key'));
      expect(
        await json(await fetch(`${target.gateway.url}/set/${key}/hello%20world?EX=100`, { headers: auth })),
      ).toEqual({
        result: 'OK',
      });
      expect(await json(await fetch(`${target.gateway.url}/get/${key}`, { headers: auth }))).toEqual({
        result: 'hello world',
      });
      expect(await json(await fetch(`${target.gateway.url}/ttl/${key}`, { headers: auth }))).toEqual({ result: 100 });
      const post = await fetch(`${target.gateway.url}/set/${key}`, {
        method: 'POST',
        headers: auth,
        body: 'from body ✓',
      });
      expect(await json(post)).toEqual({ result: 'OK' });
      expect(await json(await target.post('/', ['get', k('path/key')]))).toEqual({ result: 'from body ✓' });
    });
  });

  describe('round-trip counting and CORS', () => {
    it('counts requests and commands per /trace/<id>', async () => {
      const trace = `t-${randomUUID()}`;
      const response = await target.post(`/trace/${trace}/pipeline`, [
        ['set', k('t'), 1],
        ['incr', k('t')],
        ['get', k('t')],
      ]);
      expect(await json(response)).toEqual([{ result: 'OK' }, { result: 2 }, { result: '2' }]);
      const counts = await fetch(`${target.gateway.url}/__eventra/round-trips/${trace}`);
      expect(await counts.json()).toEqual({ trace, requests: 1, commands: 3 });
      await target.post(`/trace/${trace}`, ['get', k('t')]);
      await target.post(`/trace/${trace}/multi-exec`, [
        ['get', k('t')],
        ['get', k('t')],
      ]);
      expect(await (await fetch(`${target.gateway.url}/__eventra/round-trips/${trace}`)).json()).toEqual({
        trace,
        requests: 3,
        commands: 6,
      });
      expect(target.gateway.counter.get(trace)).toEqual({ requests: 3, commands: 6 });
      const total = (await (await fetch(`${target.gateway.url}/__eventra/round-trips`)).json()) as {
        total: { requests: number; commands: number };
      };
      expect(total.total.requests).toBeGreaterThanOrEqual(3);
    });

    it('counts a real client whose URL carries the trace prefix', async () => {
      const trace = `c-${randomUUID()}`;
      const redis = new Redis({ url: `${target.gateway.url}/trace/${trace}`, token: target.token });
      // Auto-pipelining batches concurrent writes into one round trip (reads go in a separate batch).
      const [a, b, c] = await Promise.all([redis.set(k('c1'), 'x'), redis.incr(k('c2')), redis.incr(k('c2'))]);
      expect([a, b, c]).toEqual(['OK', 1, 2]);
      expect(target.gateway.counter.get(trace)).toEqual({ requests: 1, commands: 3 });
      const tx = redis.multi();
      tx.get(k('c1'));
      tx.incr(k('c2'));
      expect(await tx.exec()).toEqual(['x', 3]);
      expect(target.gateway.counter.get(trace)).toEqual({ requests: 2, commands: 5 });
    });

    it('rejects invalid trace ids', async () => {
      const response = await target.post('/trace/bad%20id/pipeline', [['ping']]);
      expect(response.status).toBe(400);
      expect(await json(response)).toEqual({ error: 'ERR invalid trace id' });
    });

    it('allows any origin and answers preflight requests', async () => {
      const preflight = await fetch(`${target.gateway.url}/pipeline`, {
        method: 'OPTIONS',
        headers: { origin: 'http://example.test', 'access-control-request-headers': 'authorization,upstash-encoding' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
      expect(preflight.headers.get('access-control-allow-headers')).toBe('authorization,upstash-encoding');
      expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
      const response = await target.post('/', ['ping']);
      expect(response.headers.get('access-control-allow-origin')).toBe('*');
      const denied = await fetch(`${target.gateway.url}/`, { method: 'POST', body: '["ping"]' });
      expect(denied.headers.get('access-control-allow-origin')).toBe('*');
    });
  });
});
