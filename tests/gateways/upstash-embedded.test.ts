import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedRedis, formatG17, globMatch } from '../../dev/gateways/embedded-redis.ts';
import {
  OK,
  ReplyError,
  RespClient,
  RespParser,
  StatusReply,
  encodeCommand,
  type RedisReply,
} from '../../dev/gateways/resp.ts';
import { deleteByPrefix, services } from './upstash-harness.ts';
import { createRespBackend } from '../../dev/gateways/upstash.ts';

const realRedisUrl = services.redis.kind === 'real' ? services.redis.url : undefined;

/** Comparable form of a reply. */
function plain(reply: RedisReply): unknown {
  if (reply === null || typeof reply === 'number') return reply;
  if (Buffer.isBuffer(reply)) return reply.toString('latin1');
  if (reply instanceof StatusReply) return { status: reply.status };
  if (reply instanceof ReplyError) return { error: reply.message };
  return reply.map(plain);
}

describe('RespParser', () => {
  it('parses every reply type, also when fed one byte at a time', () => {
    const wire = Buffer.concat([
      Buffer.from('+OK\r\n-ERR bad thing\r\n:42\r\n:-7\r\n$5\r\nhe\r\nl\r\n$-1\r\n*-1\r\n$0\r\n\r\n'),
      Buffer.from('*3\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n+PONG\r\n'),
      Buffer.from([0x24, 0x33, 0x0d, 0x0a, 0x00, 0xff, 0x80, 0x0d, 0x0a]),
    ]);
    const expected = [
      { status: 'OK' },
      { error: 'ERR bad thing' },
      42,
      -7,
      'he\r\nl',
      null,
      null,
      '',
      [1, ['a', null], { status: 'PONG' }],
      '\u0000\u00ff\u0080',
    ];
    expect(new RespParser().push(wire).map(plain)).toEqual(expected);
    const parser = new RespParser();
    const replies: RedisReply[] = [];
    for (const byte of wire) replies.push(...parser.push(Buffer.from([byte])));
    expect(replies.map(plain)).toEqual(expected);
  });

  it('encodes commands as RESP arrays of bulk strings', () => {
    expect(encodeCommand(['SET', 'k', Buffer.from([0, 1]), 5]).toString('latin1')).toBe(
      '*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n\u0000\u0001\r\n$1\r\n5\r\n',
    );
  });
});

describe('embedded helpers', () => {
  it('matches globs like Redis', () => {
    expect(globMatch('a*c', 'abbbc')).toBe(true);
    expect(globMatch('a?c', 'abc')).toBe(true);
    expect(globMatch('a?c', 'ac')).toBe(false);
    expect(globMatch('a[bc]d', 'acd')).toBe(true);
    expect(globMatch('a[^bc]d', 'acd')).toBe(false);
    expect(globMatch('a[a-c]d', 'abd')).toBe(true);
    expect(globMatch('a\\*', 'a*')).toBe(true);
    expect(globMatch('a\\*', 'ab')).toBe(false);
    expect(globMatch('prefix:*:x', 'prefix:1:2:x')).toBe(true);
  });

  it('formats Lua floats like %.17g', () => {
    expect(formatG17(1 / 3)).toBe('0.33333333333333331');
    expect(formatG17(1e20)).toBe('1e+20');
    expect(formatG17(1700000000000)).toBe('1700000000000');
    expect(formatG17(3.5)).toBe('3.5');
    expect(formatG17(0.00001)).toBe('1.0000000000000001e-05');
    expect(formatG17(-2)).toBe('-2');
  });
});

describe('EmbeddedRedis on its own', () => {
  let redis: EmbeddedRedis;
  const run = (...args: (string | number)[]): unknown => plain(redis.execute(args.map((a) => Buffer.from(String(a)))));

  beforeAll(() => {
    redis = new EmbeddedRedis();
  });
  afterAll(() => redis.close());

  it('expires keys lazily on read', async () => {
    expect(run('set', 'e', 'v', 'px', 30)).toEqual({ status: 'OK' });
    expect(run('exists', 'e')).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(run('get', 'e')).toBeNull();
    expect(run('ttl', 'e')).toBe(-2);
    expect(run('dbsize')).toBe(0);
  });

  it('keeps a SCAN complete while keys are deleted during the iteration', () => {
    for (let i = 0; i < 50; i++) run('set', `scan:${i}`, i);
    const seen = new Set<string>();
    let cursor = '0';
    do {
      const [next, keys] = run('scan', cursor, 'match', 'scan:*', 'count', 7) as [string, string[]];
      for (const key of keys) {
        seen.add(key);
        run('del', key);
      }
      cursor = next;
    } while (cursor !== '0');
    expect(seen.size).toBe(50);
  });

  it('aborts runaway scripts instead of hanging the process', () => {
    const quick = new EmbeddedRedis({ scriptTimeLimitMs: 200 });
    try {
      const started = Date.now();
      const reply = plain(quick.execute(['eval', 'while true do end', '0'].map((a) => Buffer.from(a))));
      expect(reply).toEqual({ error: expect.stringMatching(/^ERR Script killed: exceeded 200 ms/) as unknown });
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(plain(quick.execute(['eval', 'return 7', '0'].map((a) => Buffer.from(a))))).toBe(7);
    } finally {
      quick.close();
    }
  });

  it('discards a transaction with a queue-time error', () => {
    const reply = redis.transaction([
      ['set', 'tx', '1'].map((a) => Buffer.from(a)),
      ['nosuch'].map((a) => Buffer.from(a)),
    ]);
    expect(plain(reply as RedisReply)).toEqual({
      error: 'EXECABORT Transaction discarded because of previous errors.',
    });
    expect(run('exists', 'tx')).toBe(0);
    expect(OK.status).toBe('OK');
  });
});

/**
 * Differential conformance: the same commands against the real Redis and the stand-in must give the same replies
 * (error texts included). `{k}` in an argument is the per-run key prefix.
 */
const CASES: Record<string, (string | number)[][]> = {
  strings: [
    ['set', '{k}s', 'v'],
    ['set', '{k}s', 'w', 'nx'],
    ['set', '{k}s', 'w', 'xx', 'get'],
    ['set', '{k}s2', 'w', 'xx'],
    ['set', '{k}s', 'x', 'ex', 100, 'px', 5],
    ['set', '{k}s', 'x', 'ex', 0],
    ['set', '{k}s', 'x', 'ex', 'abc'],
    ['set', '{k}s', 'x', 'nx', 'xx'],
    ['set', '{k}s', 'x', 'bogus'],
    ['set', '{k}s', 'y', 'ex', 100],
    ['ttl', '{k}s'],
    ['set', '{k}s', 'z', 'keepttl'],
    ['ttl', '{k}s'],
    ['set', '{k}s', 'z'],
    ['ttl', '{k}s'],
    ['get', '{k}s'],
    ['mset', '{k}a', '1', '{k}b'],
    ['mset', '{k}a', '1', '{k}b', '2'],
    ['mget', '{k}a', '{k}b', '{k}none'],
    ['msetnx', '{k}a', '1', '{k}c', '3'],
    ['setnx', '{k}c', '3'],
    ['setnx', '{k}c', '4'],
    ['getdel', '{k}c'],
    ['getdel', '{k}c'],
    ['append', '{k}ap', 'ab'],
    ['append', '{k}ap', 'cd'],
    ['strlen', '{k}ap'],
    ['setex', '{k}se', 0, 'v'],
    ['setex', '{k}se', 10, 'v'],
    ['ttl', '{k}se'],
    ['psetex', '{k}pse', 10000, 'v'],
    ['getset', '{k}se', 'new'],
    ['get', '{k}se'],
    ['get', '{k}s', 'extra'],
  ],
  counters: [
    ['incr', '{k}n'],
    ['incrby', '{k}n', 10],
    ['decrby', '{k}n', 3],
    ['decr', '{k}n'],
    ['incrby', '{k}n', 'x'],
    ['incrby', '{k}n', '1.5'],
    ['set', '{k}big', '9223372036854775807'],
    ['incr', '{k}big'],
    ['set', '{k}t', 'text'],
    ['incr', '{k}t'],
    ['set', '{k}sp', ' 1'],
    ['incr', '{k}sp'],
    ['set', '{k}lead', '01'],
    ['incr', '{k}lead'],
    ['incrbyfloat', '{k}f', '1.5'],
    ['incrbyfloat', '{k}f', '0.25'],
    ['incrbyfloat', '{k}f', 'abc'],
    ['get', '{k}f'],
  ],
  keys: [
    ['set', '{k}e', 'v'],
    ['expire', '{k}e', 100],
    ['ttl', '{k}e'],
    ['expire', '{k}e', 50, 'nx'],
    ['expire', '{k}e', 50, 'xx'],
    ['ttl', '{k}e'],
    ['expire', '{k}e', 40, 'gt'],
    ['expire', '{k}e', 60, 'gt'],
    ['expire', '{k}e', 70, 'lt'],
    ['expire', '{k}e', 30, 'lt'],
    ['ttl', '{k}e'],
    ['expire', '{k}e', 30, 'nx', 'xx'],
    ['expire', '{k}e', 30, 'gt', 'lt'],
    ['expire', '{k}e', 30, 'bogus'],
    ['persist', '{k}e'],
    ['persist', '{k}e'],
    ['ttl', '{k}e'],
    ['pttl', '{k}none'],
    ['expire', '{k}none', 10],
    ['expire', '{k}e', -1],
    ['exists', '{k}e'],
    ['set', '{k}x', 1],
    ['exists', '{k}x', '{k}x', '{k}none'],
    ['type', '{k}x'],
    ['type', '{k}none'],
    ['rename', '{k}x', '{k}y'],
    ['rename', '{k}none', '{k}z'],
    ['get', '{k}y'],
    ['del', '{k}y', '{k}none'],
    ['unlink', '{k}y'],
  ],
  hashes: [
    ['hset', '{k}h', 'a', '1', 'b', '2'],
    ['hset', '{k}h', 'a', '3', 'c'],
    ['hset', '{k}h', 'a', '3', 'c', '4'],
    ['hget', '{k}h', 'a'],
    ['hget', '{k}h', 'zz'],
    ['hmget', '{k}h', 'a', 'zz', 'c'],
    ['hgetall', '{k}h'],
    ['hgetall', '{k}none'],
    ['hincrby', '{k}h', 'b', 5],
    ['hincrby', '{k}h', 'new', 5],
    ['hincrby', '{k}h', 'b', 'x'],
    ['hset', '{k}h', 'txt', 'abc'],
    ['hincrby', '{k}h', 'txt', 1],
    ['hexists', '{k}h', 'a'],
    ['hexists', '{k}h', 'zz'],
    ['hlen', '{k}h'],
    ['hkeys', '{k}h'],
    ['hvals', '{k}h'],
    ['hstrlen', '{k}h', 'txt'],
    ['hsetnx', '{k}h', 'a', 'x'],
    ['hsetnx', '{k}h', 'q', 'x'],
    ['hmset', '{k}h', 'm', '1'],
    ['hdel', '{k}h', 'a', 'b', 'c', 'new', 'txt', 'q', 'm', 'nope'],
    ['exists', '{k}h'],
    ['set', '{k}str', 'v'],
    ['hget', '{k}str', 'a'],
    ['hset', '{k}str', 'a', 'b'],
  ],
  sets: [
    ['sadd', '{k}set', 'a', 'b', 'a'],
    ['sadd', '{k}set', 'c'],
    ['sismember', '{k}set', 'a'],
    ['sismember', '{k}set', 'z'],
    ['smismember', '{k}set', 'a', 'z', 'c'],
    ['scard', '{k}set'],
    ['srem', '{k}set', 'a', 'z'],
    ['scard', '{k}none'],
    ['smembers', '{k}none'],
    ['srem', '{k}set', 'b', 'c'],
    ['exists', '{k}set'],
    ['set', '{k}str', 'v'],
    ['sadd', '{k}str', 'a'],
  ],
  lists: [
    ['rpush', '{k}l', 'a', 'b', 'c'],
    ['lpush', '{k}l', 'y', 'z'],
    ['lrange', '{k}l', 0, -1],
    ['lrange', '{k}l', -2, -1],
    ['lrange', '{k}l', 1, 100],
    ['lrange', '{k}l', 5, 1],
    ['lrange', '{k}l', -100, 1],
    ['lindex', '{k}l', 0],
    ['lindex', '{k}l', -1],
    ['lindex', '{k}l', 99],
    ['llen', '{k}l'],
    ['lpop', '{k}l'],
    ['rpop', '{k}l'],
    ['lpop', '{k}l', 2],
    ['rpop', '{k}l', 5],
    ['lpop', '{k}l'],
    ['lpop', '{k}none', 2],
    ['lpop', '{k}l', -1],
    ['exists', '{k}l'],
    ['llen', '{k}none'],
  ],
  scripting: [
    ['eval', 'return {1, 2.9, -3.7, "s", true, false, {ok="OK"}, {err="E x"}, {1, {2}}, nil, 5}', 0],
    ['eval', 'return redis.call("SET", KEYS[1], ARGV[1])', 1, '{k}lua', 'v'],
    ['eval', 'return redis.call("GET", KEYS[1])', 1, '{k}lua'],
    ['eval', 'return redis.call("GET", KEYS[1])', 1, '{k}none'],
    ['eval', 'return redis.call("INCR", KEYS[1])', 1, '{k}lua'],
    ['eval', 'return redis.pcall("INCR", KEYS[1])', 1, '{k}lua'],
    ['eval', 'local ok, e = pcall(redis.call, "INCR", KEYS[1]); return {tostring(ok), e}', 1, '{k}lua'],
    ['eval', 'return redis.call("HSET", KEYS[1], "a", 1.5, "b", 2, "c", 1/3)', 1, '{k}lh'],
    ['eval', 'return redis.call("HGETALL", KEYS[1])', 1, '{k}lh'],
    ['eval', 'return redis.call("HMGET", KEYS[1], "a", "zz")', 1, '{k}lh'],
    ['eval', 'return redis.call("PING")', 0],
    ['eval', 'return redis.status_reply("FINE")', 0],
    ['eval', 'return redis.error_reply("MY error")', 0],
    ['eval', 'return redis.call("nosuch")', 0],
    ['eval', 'return redis.pcall("nosuch")', 0],
    ['eval', 'return redis.call("GET")', 0],
    ['eval', 'return redis.call("SET", "{k}x", {})', 0],
    ['eval', 'error("boom")', 0],
    ['eval', 'error({err="TABLE error"})', 0],
    ['eval', 'return 1 < "a"', 0],
    ['eval', 'return redis.call("EVAL", "return 1", 0)', 0],
    ['eval', 'return #KEYS + #ARGV * 10', 2, 'a', 'b', 'c'],
    ['eval', 'return ARGV', 0, 'x', '', 'z'],
    ['eval', 'return tonumber(ARGV[1]) + tonumber(ARGV[2])', 0, '1700000000000', '5'],
    ['eval', 'return math.floor(tonumber(ARGV[1]) / 1000)', 0, '1700000000123'],
    ['eval', 'return redis.sha1hex("abc")', 0],
    ['eval', 'return cjson.encode({a={1,2}})', 0],
    ['eval', 'return cjson.decode(ARGV[1]).x[2]', 0, '{"x":[10,20]}'],
    ['eval', 'return 1', 2, 'a'],
    ['eval', 'return 1', -1],
    ['eval', 'return 1', 'x'],
    ['eval', '#!lua flags=no-writes\nreturn redis.call("SET", "{k}x", 1)', 0],
    ['eval', '#!lua flags=no-writes\nreturn redis.call("GET", KEYS[1])', 1, '{k}lua'],
    ['eval', '#!lua flags=bogus-flag\nreturn 1', 0],
    ['eval', '#!lua\nreturn 2', 0],
    ['eval_ro', 'return redis.call("SET", KEYS[1], 1)', 1, '{k}ro'],
    ['eval_ro', 'return redis.call("GET", KEYS[1])', 1, '{k}lua'],
    ['script', 'load', 'return "loaded"'],
    ['evalsha', 'e0c82beb678ad47bd658710d9905611aa4a0b187', 0],
    ['evalsha_ro', 'e0c82beb678ad47bd658710d9905611aa4a0b187', 0],
    ['evalsha', 'ffffffffffffffffffffffffffffffffffffffff', 0],
    ['script', 'exists', 'e0c82beb678ad47bd658710d9905611aa4a0b187', 'ffffffffffffffffffffffffffffffffffffffff'],
    ['script', 'bogus'],
    ['script', 'load'],
  ],
  errors: [
    ['nosuchcommand', 'a', 'b'],
    ['NoSuch'],
    ['get'],
    ['get', 'a', 'b'],
    ['hset', '{k}h', 'a'],
    ['ping'],
    ['ping', 'hello'],
    ['echo', 'hi'],
  ],
};

describe.skipIf(!realRedisUrl)('EmbeddedRedis agrees with Redis', () => {
  const prefix = `eventra-test:upstash-embedded:${randomUUID().slice(0, 8)}:`;
  let client: RespClient;
  let embedded: EmbeddedRedis;

  beforeAll(async () => {
    client = new RespClient(realRedisUrl as string);
    await client.connect();
    embedded = new EmbeddedRedis();
  });

  afterAll(async () => {
    const backend = createRespBackend(realRedisUrl);
    await deleteByPrefix(backend, prefix);
    await backend.close();
    await (client as RespClient | undefined)?.close();
    (embedded as EmbeddedRedis | undefined)?.close();
  });

  const withPrefix = (command: (string | number)[]): Buffer[] =>
    command.map((arg) => Buffer.from(String(arg).replaceAll('{k}', prefix)));
  const normalise = (command: (string | number)[], reply: RedisReply): unknown => {
    const value = plain(reply);
    // Set member order is unspecified in Redis.
    const name = String(command[0]).toLowerCase();
    if (name === 'smembers' && Array.isArray(value)) return [...(value as string[])].sort();
    return value;
  };

  it.each(Object.keys(CASES))('%s', async (group) => {
    const commands = CASES[group] ?? [];
    const real = await client.pipeline(commands.map(withPrefix));
    const fake = commands.map((command) => embedded.execute(withPrefix(command)));
    const rows = commands.map((command, i) => ({
      command: command.join(' '),
      redis: normalise(command, real[i] ?? null),
      embedded: normalise(command, fake[i] ?? null),
    }));
    // Lua 5.3 (fengari) words compile errors differently from Redis' Lua 5.1: the only allowed difference.
    const mismatches = rows.filter((row) => JSON.stringify(row.redis) !== JSON.stringify(row.embedded));
    expect(mismatches).toEqual([]);
  });

  it('transactions: the same replies and EXECABORT', async () => {
    const ok = [
      ['set', '{k}tx', '1'],
      ['incr', '{k}tx'],
      ['lpush', '{k}tx', 'x'],
      ['get', '{k}tx'],
    ];
    const aborted = [['set', '{k}tx2', '1'], ['nosuch'], ['get', '{k}tx2']];
    for (const commands of [ok, aborted]) {
      const real = await client.multi(commands.map(withPrefix));
      const fake = embedded.transaction(commands.map(withPrefix));
      expect(plain(fake as RedisReply)).toEqual(plain(real as RedisReply));
    }
  });

  it('RespClient is binary-safe and pipelines many commands', async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const replies = await client.pipeline(
      Array.from({ length: 500 }, (_, i) => [
        'SET',
        `${prefix}bin:${i}`,
        Buffer.concat([bytes, Buffer.from(String(i))]),
      ]),
    );
    expect(replies.every((reply) => reply === OK)).toBe(true);
    const values = await client.pipeline(Array.from({ length: 500 }, (_, i) => ['GET', `${prefix}bin:${i}`]));
    // Buffer.equals: deep toEqual over megabytes is far too slow.
    const wrong = values.filter(
      (value, i) => !Buffer.isBuffer(value) || !value.equals(Buffer.concat([bytes, Buffer.from(String(i))])),
    );
    expect(wrong).toHaveLength(0);
    const big = Buffer.alloc(8 * 1024 * 1024, 0xab);
    big[big.length - 1] = 0x0d;
    expect(await client.call(['SET', `${prefix}big`, big])).toBe(OK);
    const back = await client.call(['GET', `${prefix}big`]);
    expect(Buffer.isBuffer(back) && back.equals(big)).toBe(true);
  });
});
