import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from '@upstash/redis';
import { AWKWARD_STRING, TARGETS, startTarget, type Target } from './upstash-harness.ts';

// The real @upstash/redis client is the oracle: whatever it needs from the protocol, the gateway must serve.
describe.each(TARGETS)('@upstash/redis through the gateway ($name)', (spec) => {
  let target: Target;
  let redis: Redis;
  let k: (name: string) => string;

  beforeAll(async () => {
    target = await startTarget(spec, 'upstash-client');
    redis = target.client();
    k = (name) => `${target.prefix}${name}`;
  });

  afterAll(async () => {
    await (target as Target | undefined)?.close();
  });

  it('sets and gets strings, with ex and nx', async () => {
    expect(await redis.set(k('s1'), 'hello')).toBe('OK');
    expect(await redis.get(k('s1'))).toBe('hello');
    expect(await redis.set(k('s1'), 'other', { nx: true })).toBeNull();
    expect(await redis.get(k('s1'))).toBe('hello');
    expect(await redis.set(k('s2'), 'fresh', { nx: true })).toBe('OK');
    expect(await redis.set(k('s3'), 'temp', { ex: 100 })).toBe('OK');
    const ttl = await redis.ttl(k('s3'));
    expect(ttl).toBeGreaterThan(95);
    expect(ttl).toBeLessThanOrEqual(100);
    expect(await redis.get(k('missing'))).toBeNull();
    expect(await redis.set(k('s1'), 'replaced', { get: true })).toBe('hello');
  });

  it('counts with incr / incrby / decr', async () => {
    expect(await redis.incr(k('counter'))).toBe(1);
    expect(await redis.incrby(k('counter'), 41)).toBe(42);
    expect(await redis.decr(k('counter'))).toBe(41);
    expect(await redis.decrby(k('counter'), 40)).toBe(1);
    expect(await redis.get(k('counter'))).toBe(1);
  });

  it('handles mset / mget and auto-(de)serialises JSON values', async () => {
    const doc = { name: 'Eventra', tags: ['a', 'b'], nested: { n: 1.5, ok: true, none: null } };
    expect(await redis.mset({ [k('m1')]: 'one', [k('m2')]: doc, [k('m3')]: 7 })).toBe('OK');
    expect(await redis.mget(k('m1'), k('m2'), k('m3'), k('nope'))).toEqual(['one', doc, 7, null]);
    await redis.set(k('json'), doc);
    expect(await redis.get(k('json'))).toEqual(doc);
    // The raw stored value is the JSON text.
    const raw = target.client({ automaticDeserialization: false });
    expect(await raw.get(k('json'))).toBe(JSON.stringify(doc));
  });

  it('round-trips binary-ish and unicode values exactly (base64 response encoding)', async () => {
    await redis.set(k('awkward'), AWKWARD_STRING);
    expect(await redis.get(k('awkward'))).toBe(AWKWARD_STRING);
    expect(await redis.strlen(k('awkward'))).toBe(Buffer.byteLength(AWKWARD_STRING, 'utf8'));
    await redis.hset(k('awkward-hash'), { [AWKWARD_STRING]: AWKWARD_STRING });
    expect(await redis.hget(k('awkward-hash'), AWKWARD_STRING)).toBe(AWKWARD_STRING);
    expect(await redis.hgetall(k('awkward-hash'))).toEqual({ [AWKWARD_STRING]: AWKWARD_STRING });
  });

  it('works with responseEncoding: false (plain UTF-8 JSON responses)', async () => {
    const plain = target.client({ responseEncoding: false });
    await plain.set(k('plain'), AWKWARD_STRING);
    expect(await plain.get(k('plain'))).toBe(AWKWARD_STRING);
    expect(await plain.lpush(k('plain-list'), 'x', 'y')).toBe(2);
    expect(await plain.lrange(k('plain-list'), 0, -1)).toEqual(['y', 'x']);
    expect(await plain.ping()).toBe('PONG');
  });

  it('works with automaticDeserialization: false', async () => {
    const raw = target.client({ automaticDeserialization: false });
    await raw.set(k('raw-num'), 123);
    expect(await raw.get(k('raw-num'))).toBe('123');
    expect(await redis.get(k('raw-num'))).toBe(123);
    await raw.hset(k('raw-hash'), { a: '1', b: 'x' });
    // Without deserialisation the client hands over Redis' flat field/value array, as Upstash sends it.
    expect(await raw.hgetall(k('raw-hash'))).toEqual(['a', '1', 'b', 'x']);
  });

  it('supports hashes: hset, hget, hgetall (object), hmget, hincrby, hdel, hexists, hlen', async () => {
    expect(await redis.hset(k('h'), { name: 'Ada', visits: 1, profile: { lang: 'en' } })).toBe(3);
    expect(await redis.hget(k('h'), 'name')).toBe('Ada');
    expect(await redis.hgetall(k('h'))).toEqual({ name: 'Ada', visits: 1, profile: { lang: 'en' } });
    expect(await redis.hmget(k('h'), 'name', 'visits', 'nope')).toEqual({ name: 'Ada', visits: 1, nope: null });
    expect(await redis.hincrby(k('h'), 'visits', 4)).toBe(5);
    expect(await redis.hexists(k('h'), 'name')).toBe(1);
    expect(await redis.hlen(k('h'))).toBe(3);
    expect(await redis.hdel(k('h'), 'name', 'nope')).toBe(1);
    expect(await redis.hexists(k('h'), 'name')).toBe(0);
    expect(await redis.hgetall(k('no-hash'))).toBeNull();
  });

  it('supports sets', async () => {
    expect(await redis.sadd(k('set'), 'a', 'b', 'c')).toBe(3);
    expect(await redis.sadd(k('set'), 'a')).toBe(0);
    expect((await redis.smembers(k('set'))).sort()).toEqual(['a', 'b', 'c']);
    expect(await redis.sismember(k('set'), 'b')).toBe(1);
    expect(await redis.sismember(k('set'), 'z')).toBe(0);
    expect(await redis.srem(k('set'), 'b')).toBe(1);
    expect(await redis.scard(k('set'))).toBe(2);
  });

  it('supports lists', async () => {
    expect(await redis.rpush(k('list'), 'a', 'b', 'c')).toBe(3);
    expect(await redis.lpush(k('list'), 'z')).toBe(4);
    expect(await redis.lrange(k('list'), 0, -1)).toEqual(['z', 'a', 'b', 'c']);
    expect(await redis.lrange(k('list'), 1, 2)).toEqual(['a', 'b']);
    expect(await redis.lpop(k('list'))).toBe('z');
    expect(await redis.rpop(k('list'))).toBe('c');
    expect(await redis.llen(k('list'))).toBe(2);
  });

  it('supports expire / pexpire / ttl / pttl / persist / exists / del / type', async () => {
    await redis.set(k('exp'), 'v');
    expect(await redis.ttl(k('exp'))).toBe(-1);
    expect(await redis.expire(k('exp'), 50)).toBe(1);
    expect(await redis.ttl(k('exp'))).toBeGreaterThan(45);
    expect(await redis.pexpire(k('exp'), 20_000)).toBe(1);
    const pttl = await redis.pttl(k('exp'));
    expect(pttl).toBeGreaterThan(15_000);
    expect(pttl).toBeLessThanOrEqual(20_000);
    expect(await redis.persist(k('exp'))).toBe(1);
    expect(await redis.ttl(k('exp'))).toBe(-1);
    expect(await redis.ttl(k('never'))).toBe(-2);
    expect(await redis.type(k('exp'))).toBe('string');
    expect(await redis.exists(k('exp'), k('never'))).toBe(1);
    await redis.set(k('short'), 'v', { px: 50 });
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(await redis.get(k('short'))).toBeNull();
    expect(await redis.del(k('exp'), k('never'))).toBe(1);
  });

  it('scans with match and count', async () => {
    const keys = Array.from({ length: 25 }, (_, i) => k(`scan:${i}`));
    await redis.mset(Object.fromEntries(keys.map((key) => [key, 'x'])));
    const seen = new Set<string>();
    let cursor = '0';
    let rounds = 0;
    do {
      const [next, batch]: [string, string[]] = await redis.scan(cursor, { match: k('scan:*'), count: 10 });
      for (const key of batch) seen.add(key);
      cursor = next;
      rounds++;
    } while (cursor !== '0' && rounds < 10_000);
    expect([...seen].sort()).toEqual([...keys].sort());
    expect((await redis.keys(k('scan:1*'))).sort()).toEqual(keys.filter((key) => /scan:1\d*$/.test(key)).sort());
  });

  it('runs explicit pipelines and transactions with per-command results', async () => {
    const pipeline = redis.pipeline();
    pipeline.set(k('p1'), 'v1');
    pipeline.get(k('p1'));
    pipeline.incr(k('p2'));
    pipeline.hset(k('p3'), { a: 1 });
    pipeline.hgetall(k('p3'));
    expect(await pipeline.exec()).toEqual(['OK', 'v1', 1, 1, { a: 1 }]);

    const tx = redis.multi();
    tx.set(k('t1'), { nested: true });
    tx.incrby(k('t2'), 5);
    tx.get(k('t1'));
    tx.sadd(k('t3'), 'm');
    tx.smembers(k('t3'));
    expect(await tx.exec()).toEqual(['OK', 5, { nested: true }, 1, ['m']]);
  });

  it('reports per-command errors inside pipelines without stopping the others', async () => {
    await redis.set(k('str'), 'text');
    const pipeline = redis.pipeline();
    pipeline.set(k('pe1'), 'a');
    pipeline.lpush(k('str'), 'x');
    pipeline.get(k('pe1'));
    const results = await pipeline.exec({ keepErrors: true });
    expect(results[0]).toEqual({ result: 'OK', error: undefined });
    expect(results[1]?.error).toMatch(/^WRONGTYPE Operation against a key holding the wrong kind of value/);
    expect(results[2]).toEqual({ result: 'a', error: undefined });
    await expect(redis.pipeline().set(k('pe2'), 'b').lpush(k('str'), 'x').exec()).rejects.toThrow(/WRONGTYPE/);
    expect(await redis.get(k('pe2'))).toBe('b');
  });

  it('rejects failing commands with the Redis error text', async () => {
    await redis.set(k('wrong'), 'text');
    await expect(redis.lpush(k('wrong'), 'x')).rejects.toThrow(
      'WRONGTYPE Operation against a key holding the wrong kind of value',
    );
    await expect(redis.incr(k('wrong'))).rejects.toThrow('ERR value is not an integer or out of range');
    // Without auto-pipelining the error arrives as a 400 from POST /.
    const direct = target.client({ enableAutoPipelining: false });
    await expect(direct.incr(k('wrong'))).rejects.toThrow('ERR value is not an integer or out of range');
  });

  it('evaluates scripts with eval / evalsha / scriptLoad / scriptExists', async () => {
    // Lua false becomes a nil element; a Lua nil ends the array.
    const script =
      "redis.call('SET', KEYS[1], ARGV[1]); return {KEYS[1], redis.call('GET', KEYS[1]), 42, false, 'x', nil, 'y'}";
    expect(await redis.eval(script, [k('lua')], ['value'])).toEqual([k('lua'), 'value', 42, null, 'x']);
    const sha = await redis.scriptLoad('return ARGV[1] .. ARGV[2]');
    expect(sha).toMatch(/^[0-9a-f]{40}$/);
    expect(await redis.evalsha(sha, [], ['ab', 'cd'])).toBe('abcd');
    expect(await redis.scriptExists(sha, '0000000000000000000000000000000000000000')).toEqual([1, 0]);
    await expect(redis.evalsha('0000000000000000000000000000000000000000', [], [])).rejects.toThrow(/NOSCRIPT/);
    await expect(redis.eval("return redis.call('INCR', KEYS[1])", [k('wrong-lua')], [])).resolves.toBe(1);
    await redis.set(k('wrong-lua'), 'text');
    await expect(redis.eval("return redis.call('INCR', KEYS[1])", [k('wrong-lua')], [])).rejects.toThrow(
      /ERR value is not an integer or out of range script: [0-9a-f]{40}, on @user_script:1\./,
    );
    expect(await redis.evalRo('return redis.call("GET", KEYS[1])', [k('lua')], [])).toBe('value');
  });

  it('translates Upstash-only shebang flags for eval, evalsha and script load', async () => {
    const script = "#!lua flags=allow-key-locking,no-writes\nreturn redis.call('GET', KEYS[1])";
    await redis.set(k('shebang'), 'seen');
    expect(await redis.eval(script, [k('shebang')], [])).toBe('seen');
    const originalSha = await redis.scriptLoad(script);
    // The client's own hash of the original text must work for EVALSHA and SCRIPT EXISTS.
    const { createHash } = await import('node:crypto');
    expect(originalSha).toBe(createHash('sha1').update(script).digest('hex'));
    expect(await redis.evalsha(originalSha, [k('shebang')], [])).toBe('seen');
    expect(await redis.scriptExists(originalSha)).toEqual([1]);
    // no-writes survives the rewrite.
    await expect(
      redis.eval(`${script.split('\n')[0]}\nreturn redis.call('SET', KEYS[1], 'x')`, [k('shebang')], []),
    ).rejects.toThrow(/Write commands are not allowed from read-only scripts/);
  });
});
