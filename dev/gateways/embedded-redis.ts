import { createHash } from 'node:crypto';
import fengari from 'fengari';
import type { Lua, LuaAuxLib, LuaLib, LuaState } from 'fengari';
import { OK, ReplyError, StatusReply } from './resp.ts';
import type { RedisReply } from './resp.ts';

/**
 * An in-memory Redis stand-in for machines without Redis. It implements the commands @upstash/redis users and
 * @upstash/ratelimit need, with Redis 7's replies and error texts, and real Lua (Lua 5.3 via fengari; Redis runs 5.1)
 * behind EVAL/EVALSHA. Everything runs synchronously, so every command, transaction and script is atomic.
 */

const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value';
const NOT_INTEGER = 'ERR value is not an integer or out of range';
const SYNTAX = 'ERR syntax error';
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
// Expiry times beyond this would lose millisecond precision in a double.
const MAX_EXPIRE_MS = 2 ** 52;
const SCRIPT_TIME_LIMIT_MS = 5_000;
const KNOWN_SCRIPT_FLAGS = new Set(['no-writes', 'allow-oom', 'allow-stale', 'no-cluster', 'allow-cross-slot-keys']);

type Value =
  | { kind: 'string'; data: Buffer }
  | { kind: 'hash'; data: Map<string, Buffer> }
  | { kind: 'set'; data: Set<string> }
  | { kind: 'list'; data: Buffer[] };
type Kind = Value['kind'];
interface KindData {
  string: Buffer;
  hash: Map<string, Buffer>;
  set: Set<string>;
  list: Buffer[];
}
type DataOf<K extends Kind> = KindData[K];

interface Entry {
  value: Value;
  expiresAt: number | undefined;
  // Insertion sequence: Map iteration order, which SCAN cursors follow.
  seq: number;
}

interface CallContext {
  script: { readOnly: boolean } | undefined;
}

interface CommandSpec {
  /** Redis arity: n means exactly n arguments including the name, -n means at least n. */
  arity: number;
  write?: boolean;
  /** Not callable from scripts (and not inside MULTI for the connection-state ones). */
  noScript?: boolean;
  run(args: Buffer[], context: CallContext): RedisReply;
}

const TOP_LEVEL: CallContext = { script: undefined };

function latin1(buffer: Buffer): string {
  return buffer.toString('latin1');
}

function bytes(key: string): Buffer {
  return Buffer.from(key, 'latin1');
}

function upper(buffer: Buffer | undefined): string {
  return buffer === undefined ? '' : buffer.toString('latin1').toUpperCase();
}

function parseInt64(buffer: Buffer | undefined, message = NOT_INTEGER): bigint {
  const text = buffer === undefined ? '' : buffer.toString('latin1');
  if (!/^-?(0|[1-9][0-9]*)$/.test(text) || text === '-0') throw new ReplyError(message);
  const value = BigInt(text);
  if (value < INT64_MIN || value > INT64_MAX) throw new ReplyError(message);
  return value;
}

function parseIntArg(buffer: Buffer | undefined, message = NOT_INTEGER): number {
  return Number(parseInt64(buffer, message));
}

function parseFloatArg(buffer: Buffer | undefined): number {
  const text = buffer === undefined ? '' : buffer.toString('latin1');
  const value = /^\s|\s$/.test(text) || text === '' ? NaN : Number(text.replace(/^([+-]?)inf$/i, '$1Infinity'));
  if (Number.isNaN(value)) throw new ReplyError('ERR value is not a valid float');
  return value;
}

function checkedAdd(a: bigint, b: bigint): bigint {
  const sum = a + b;
  if (sum < INT64_MIN || sum > INT64_MAX) throw new ReplyError('ERR increment or decrement would overflow');
  return sum;
}

function integerReply(value: bigint): number {
  return Number(value);
}

function sha1hex(data: Buffer | string): string {
  return createHash('sha1').update(data).digest('hex');
}

/** C's `%.17g`, which Redis 7.0 uses to turn Lua floats into command arguments. */
export function formatG17(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  const [mantissa = '0', exponentText = '0'] = value.toExponential(16).split('e');
  const exponent = Number(exponentText);
  const trim = (digits: string): string => (digits.includes('.') ? digits.replace(/\.?0+$/, '') : digits);
  if (exponent < -4 || exponent >= 17) {
    const sign = exponent < 0 ? '-' : '+';
    return `${trim(mantissa)}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  return trim(value.toFixed(16 - exponent));
}

/** Redis glob matching (stringmatchlen) over latin1 strings. */
export function globMatch(pattern: string, text: string): boolean {
  return matchFrom(pattern, 0, text, 0);
}

function matchFrom(p: string, pi: number, s: string, si: number): boolean {
  while (pi < p.length) {
    const c = p[pi];
    if (c === '*') {
      while (p[pi + 1] === '*') pi++;
      if (pi + 1 === p.length) return true;
      for (let k = si; k <= s.length; k++) if (matchFrom(p, pi + 1, s, k)) return true;
      return false;
    }
    if (si >= s.length) return false;
    const ch = s[si] as string;
    if (c === '?') {
      // any single character
    } else if (c === '[') {
      pi++;
      const negate = p[pi] === '^';
      if (negate) pi++;
      let matched = false;
      for (;;) {
        if (pi >= p.length) {
          pi--;
          break;
        }
        const pc = p[pi] as string;
        if (pc === '\\' && pi + 1 < p.length) {
          pi++;
          if (p[pi] === ch) matched = true;
        } else if (pc === ']') {
          break;
        } else if (pi + 2 < p.length && p[pi + 1] === '-') {
          let start = pc;
          let end = p[pi + 2] as string;
          if (start > end) [start, end] = [end, start];
          pi += 2;
          if (ch >= start && ch <= end) matched = true;
        } else if (pc === ch) {
          matched = true;
        }
        pi++;
      }
      if (negate) matched = !matched;
      if (!matched) return false;
    } else {
      if (c === '\\' && pi + 1 < p.length) pi++;
      if (p[pi] !== ch) return false;
    }
    si++;
    pi++;
  }
  return si === s.length;
}

function unknownCommand(args: readonly Buffer[]): ReplyError {
  let rest = '';
  for (let i = 1; i < args.length && rest.length < 128; i++) {
    rest += `'${(args[i] as Buffer).toString('utf8').slice(0, 128 - rest.length)}' `;
  }
  const name = (args[0] as Buffer).toString('utf8').slice(0, 128);
  return new ReplyError(`ERR unknown command '${name}', with args beginning with: ${rest}`.replace(/[\r\n]/g, ' '));
}

export interface EmbeddedRedisOptions {
  /** Scripts running longer are aborted with an error (Redis would block everyone instead). Default 5 s. */
  scriptTimeLimitMs?: number;
}

export class EmbeddedRedis {
  private readonly data = new Map<string, Entry>();
  private readonly volatile = new Set<string>();
  private readonly commands: Map<string, CommandSpec>;
  private readonly lua: LuaScripting;
  private nextSeq = 1;
  private readonly sweeper: ReturnType<typeof setInterval>;

  constructor(options: EmbeddedRedisOptions = {}) {
    this.commands = this.buildCommands();
    this.lua = new LuaScripting(
      (args, readOnly) => this.callFromScript(args, readOnly),
      options.scriptTimeLimitMs ?? SCRIPT_TIME_LIMIT_MS,
    );
    this.sweeper = setInterval(() => this.sweep(), 1_000);
    this.sweeper.unref();
  }

  /** Runs one command. Error replies are returned as `ReplyError` values. */
  execute(args: readonly Buffer[], context: CallContext = TOP_LEVEL): RedisReply {
    const first = args[0];
    if (first === undefined) return new ReplyError('ERR empty command');
    const name = latin1(first).toLowerCase();
    const spec = this.commands.get(name);
    if (!spec) return unknownCommand(args);
    if (spec.arity > 0 ? args.length !== spec.arity : args.length < -spec.arity) {
      return new ReplyError(`ERR wrong number of arguments for '${name}' command`);
    }
    try {
      return spec.run([...args], context);
    } catch (error) {
      if (error instanceof ReplyError) return error;
      throw error;
    }
  }

  /** MULTI/EXEC: queue-time errors (unknown command, arity) discard the whole transaction like Redis. */
  transaction(commands: readonly (readonly Buffer[])[]): RedisReply[] | ReplyError {
    for (const args of commands) {
      const first = args[0];
      const spec = first === undefined ? undefined : this.commands.get(latin1(first).toLowerCase());
      const arityOk = spec !== undefined && (spec.arity > 0 ? args.length === spec.arity : args.length >= -spec.arity);
      if (
        !arityOk ||
        (spec.noScript === true &&
          ['multi', 'exec', 'discard', 'watch'].includes(latin1(first as Buffer).toLowerCase()))
      ) {
        return new ReplyError('EXECABORT Transaction discarded because of previous errors.');
      }
    }
    return commands.map((args) => this.execute(args));
  }

  close(): void {
    clearInterval(this.sweeper);
    this.lua.close();
    this.data.clear();
    this.volatile.clear();
  }

  private callFromScript(args: Buffer[], readOnly: boolean): RedisReply {
    const first = args[0];
    const spec = first === undefined ? undefined : this.commands.get(latin1(first).toLowerCase());
    if (!spec) return new ReplyError('ERR Unknown Redis command called from script');
    if (spec.arity > 0 ? args.length !== spec.arity : args.length < -spec.arity) {
      return new ReplyError('ERR Wrong number of args calling Redis command from script');
    }
    if (spec.noScript) return new ReplyError('ERR This Redis command is not allowed from script');
    if (spec.write && readOnly) return new ReplyError('ERR Write commands are not allowed from read-only scripts.');
    return this.execute(args, { script: { readOnly } });
  }

  // ---- keyspace ----

  private lookup(key: string): Entry | undefined {
    const entry = this.data.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      this.remove(key);
      return undefined;
    }
    return entry;
  }

  private get<K extends Kind>(key: string, kind: K): DataOf<K> | undefined {
    const entry = this.lookup(key);
    if (entry === undefined) return undefined;
    if (entry.value.kind !== kind) throw new ReplyError(WRONGTYPE);
    const data: unknown = entry.value.data;
    return data as DataOf<K>;
  }

  private getOrCreate<K extends Kind>(key: string, kind: K, create: () => DataOf<K>): DataOf<K> {
    const existing = this.get(key, kind);
    if (existing !== undefined) return existing;
    const data = create();
    this.store(key, { kind, data } as Value, undefined);
    return data;
  }

  private store(key: string, value: Value, expiresAt: number | undefined): void {
    const existing = this.lookup(key);
    if (existing) {
      existing.value = value;
      existing.expiresAt = expiresAt;
    } else {
      this.data.set(key, { value, expiresAt, seq: this.nextSeq++ });
    }
    if (expiresAt === undefined) this.volatile.delete(key);
    else this.volatile.add(key);
  }

  private remove(key: string): boolean {
    this.volatile.delete(key);
    return this.data.delete(key);
  }

  /** Aggregates disappear when they become empty, as in Redis. */
  private dropIfEmpty(key: string, size: number): void {
    if (size === 0) this.remove(key);
  }

  private sweep(): void {
    const now = Date.now();
    let checked = 0;
    for (const key of this.volatile) {
      if (++checked > 200) break;
      const entry = this.data.get(key);
      if (entry === undefined || entry.expiresAt === undefined) this.volatile.delete(key);
      else if (entry.expiresAt <= now) this.remove(key);
    }
  }

  private getString(key: string): Buffer | undefined {
    return this.get(key, 'string');
  }

  private incrBy(key: string, delta: bigint): RedisReply {
    const entry = this.lookup(key);
    let current = 0n;
    if (entry) {
      if (entry.value.kind !== 'string') throw new ReplyError(WRONGTYPE);
      current = parseInt64(entry.value.data);
    }
    const next = checkedAdd(current, delta);
    this.store(key, { kind: 'string', data: Buffer.from(next.toString()) }, entry?.expiresAt);
    return integerReply(next);
  }

  private expire(args: Buffer[], unitMs: number, absolute: boolean): RedisReply {
    const key = latin1(args[1] as Buffer);
    const amount = parseIntArg(args[2]);
    let nx = false;
    let xx = false;
    let gt = false;
    let lt = false;
    for (const option of args.slice(3)) {
      const name = upper(option);
      if (name === 'NX') nx = true;
      else if (name === 'XX') xx = true;
      else if (name === 'GT') gt = true;
      else if (name === 'LT') lt = true;
      else throw new ReplyError(`ERR Unsupported option ${option.toString('utf8')}`);
    }
    if (nx && (xx || gt || lt))
      throw new ReplyError('ERR NX and XX, GT or LT options at the same time are not compatible');
    if (gt && lt) throw new ReplyError('ERR GT and LT options at the same time are not compatible');
    const now = Date.now();
    const when = (absolute ? 0 : now) + amount * unitMs;
    if (Math.abs(amount * unitMs) > MAX_EXPIRE_MS) {
      throw new ReplyError(`ERR invalid expire time in '${latin1(args[0] as Buffer).toLowerCase()}' command`);
    }
    const entry = this.lookup(key);
    if (!entry) return 0;
    const current = entry.expiresAt;
    if (nx && current !== undefined) return 0;
    if (xx && current === undefined) return 0;
    if (gt && (current === undefined || when <= current)) return 0;
    if (lt && current !== undefined && when >= current) return 0;
    if (when <= now) {
      this.remove(key);
      return 1;
    }
    entry.expiresAt = when;
    this.volatile.add(key);
    return 1;
  }

  private ttl(key: string, inMs: boolean): RedisReply {
    const entry = this.lookup(key);
    if (!entry) return -2;
    if (entry.expiresAt === undefined) return -1;
    const remaining = Math.max(0, entry.expiresAt - Date.now());
    return inMs ? remaining : Math.floor((remaining + 500) / 1000);
  }

  private setExpiring(
    key: string,
    value: Buffer,
    amount: Buffer | undefined,
    unitMs: number,
    name: string,
  ): RedisReply {
    const n = parseIntArg(amount);
    if (n <= 0 || n * unitMs > MAX_EXPIRE_MS) throw new ReplyError(`ERR invalid expire time in '${name}' command`);
    this.store(key, { kind: 'string', data: value }, Date.now() + n * unitMs);
    return OK;
  }

  private set(args: Buffer[]): RedisReply {
    const key = latin1(args[1] as Buffer);
    const value = args[2] as Buffer;
    let nx = false;
    let xx = false;
    let get = false;
    let keepTtl = false;
    let expiresAt: number | undefined;
    let hasExpiry = false;
    for (let i = 3; i < args.length; i++) {
      const option = upper(args[i]);
      if (option === 'NX' && !xx) nx = true;
      else if (option === 'XX' && !nx) xx = true;
      else if (option === 'GET') get = true;
      else if (option === 'KEEPTTL' && !hasExpiry) keepTtl = true;
      else if (['EX', 'PX', 'EXAT', 'PXAT'].includes(option) && !hasExpiry && !keepTtl && i + 1 < args.length) {
        const amount = parseIntArg(args[++i]);
        const unit = option === 'EX' || option === 'EXAT' ? 1000 : 1;
        if (amount <= 0 || amount * unit > MAX_EXPIRE_MS)
          throw new ReplyError("ERR invalid expire time in 'set' command");
        expiresAt = (option.endsWith('AT') ? 0 : Date.now()) + amount * unit;
        hasExpiry = true;
      } else {
        throw new ReplyError(SYNTAX);
      }
    }
    const existing = this.lookup(key);
    let previous: RedisReply = null;
    if (get && existing) {
      if (existing.value.kind !== 'string') throw new ReplyError(WRONGTYPE);
      previous = existing.value.data;
    }
    if ((nx && existing) || (xx && !existing)) return get ? previous : null;
    this.store(key, { kind: 'string', data: value }, keepTtl ? existing?.expiresAt : expiresAt);
    return get ? previous : OK;
  }

  private scan(args: Buffer[]): RedisReply {
    const cursorText = latin1(args[1] as Buffer);
    if (!/^\d+$/.test(cursorText)) throw new ReplyError('ERR invalid cursor');
    const cursor = Number(cursorText);
    let pattern: string | undefined;
    let count = 10;
    let type: string | undefined;
    for (let i = 2; i < args.length; i += 2) {
      const option = upper(args[i]);
      const value = args[i + 1];
      if (value === undefined) throw new ReplyError(SYNTAX);
      if (option === 'MATCH') pattern = latin1(value);
      else if (option === 'COUNT') {
        count = parseIntArg(value);
        if (count < 1) throw new ReplyError(SYNTAX);
      } else if (option === 'TYPE') type = latin1(value).toLowerCase();
      else throw new ReplyError(SYNTAX);
    }
    const keys: Buffer[] = [];
    let examined = 0;
    let last = 0;
    let more = false;
    const now = Date.now();
    for (const [key, entry] of this.data) {
      if (entry.seq <= cursor) continue;
      if (examined >= count) {
        more = true;
        break;
      }
      examined++;
      last = entry.seq;
      if (entry.expiresAt !== undefined && entry.expiresAt <= now) {
        this.remove(key);
        continue;
      }
      if (pattern !== undefined && !globMatch(pattern, key)) continue;
      if (type !== undefined && entry.value.kind !== type) continue;
      keys.push(bytes(key));
    }
    return [Buffer.from(more ? String(last) : '0'), keys];
  }

  private pop(args: Buffer[], fromLeft: boolean): RedisReply {
    const key = latin1(args[1] as Buffer);
    let count: number | undefined;
    if (args.length > 3) throw new ReplyError(SYNTAX);
    if (args[2] !== undefined) {
      count = parseIntArg(args[2], 'ERR value is out of range, must be positive');
      if (count < 0) throw new ReplyError('ERR value is out of range, must be positive');
    }
    const list = this.get(key, 'list');
    if (!list) return null;
    const take = Math.min(count ?? 1, list.length);
    const taken = fromLeft ? list.splice(0, take) : list.splice(list.length - take, take).reverse();
    this.dropIfEmpty(key, list.length);
    return count === undefined ? (taken[0] ?? null) : taken;
  }

  private push(args: Buffer[], toLeft: boolean): RedisReply {
    const key = latin1(args[1] as Buffer);
    const list = this.getOrCreate(key, 'list', () => []);
    for (const value of args.slice(2)) {
      if (toLeft) list.unshift(value);
      else list.push(value);
    }
    return list.length;
  }

  private hashIncr(key: string, field: string, delta: bigint): RedisReply {
    const hash = this.getOrCreate(key, 'hash', () => new Map());
    const current = hash.get(field);
    const value = current === undefined ? 0n : parseInt64(current, 'ERR hash value is not an integer');
    const next = checkedAdd(value, delta);
    hash.set(field, Buffer.from(next.toString()));
    return integerReply(next);
  }

  private evalCommand(args: Buffer[], bySha: boolean, readOnly: boolean): RedisReply {
    const numKeys = parseIntArg(args[2]);
    if (numKeys > args.length - 3) throw new ReplyError("ERR Number of keys can't be greater than number of args");
    if (numKeys < 0) throw new ReplyError("ERR Number of keys can't be negative");
    const keys = args.slice(3, 3 + numKeys);
    const argv = args.slice(3 + numKeys);
    const script = bySha
      ? this.lua.lookup(latin1(args[1] as Buffer).toLowerCase())
      : this.lua.compile(args[1] as Buffer);
    if (script === undefined) return new ReplyError('NOSCRIPT No matching script. Please use EVAL.');
    if (script instanceof ReplyError) return script;
    return this.lua.run(script, keys, argv, readOnly);
  }

  private buildCommands(): Map<string, CommandSpec> {
    const key = (args: Buffer[], index = 1): string => latin1(args[index] as Buffer);
    const arg = (args: Buffer[], index: number): Buffer => args[index] as Buffer;
    const table: Record<string, CommandSpec> = {
      // ---- connection / server ----
      ping: {
        arity: -1,
        run: (args) => {
          if (args.length > 2) throw new ReplyError("ERR wrong number of arguments for 'ping' command");
          return args[1] ?? new StatusReply('PONG');
        },
      },
      echo: { arity: 2, run: (args) => arg(args, 1) },
      time: {
        arity: 1,
        run: () => {
          const micros = BigInt(Date.now()) * 1000n + BigInt(Math.floor((performance.now() % 1) * 1000));
          return [Buffer.from(String(micros / 1_000_000n)), Buffer.from(String(micros % 1_000_000n))];
        },
      },
      dbsize: {
        arity: 1,
        run: () => {
          let count = 0;
          for (const name of [...this.data.keys()]) if (this.lookup(name)) count++;
          return count;
        },
      },
      flushdb: { arity: -1, write: true, run: () => this.flush() },
      flushall: { arity: -1, write: true, run: () => this.flush() },

      // ---- generic keys ----
      del: { arity: -2, write: true, run: (args) => this.deleteKeys(args) },
      unlink: { arity: -2, write: true, run: (args) => this.deleteKeys(args) },
      exists: { arity: -2, run: (args) => args.slice(1).filter((k) => this.lookup(latin1(k)) !== undefined).length },
      type: { arity: 2, run: (args) => new StatusReply(this.lookup(key(args))?.value.kind ?? 'none') },
      expire: { arity: -3, write: true, run: (args) => this.expire(args, 1000, false) },
      pexpire: { arity: -3, write: true, run: (args) => this.expire(args, 1, false) },
      expireat: { arity: -3, write: true, run: (args) => this.expire(args, 1000, true) },
      pexpireat: { arity: -3, write: true, run: (args) => this.expire(args, 1, true) },
      ttl: { arity: 2, run: (args) => this.ttl(key(args), false) },
      pttl: { arity: 2, run: (args) => this.ttl(key(args), true) },
      persist: {
        arity: 2,
        write: true,
        run: (args) => {
          const entry = this.lookup(key(args));
          if (!entry || entry.expiresAt === undefined) return 0;
          entry.expiresAt = undefined;
          this.volatile.delete(key(args));
          return 1;
        },
      },
      keys: {
        arity: 2,
        run: (args) => {
          const pattern = key(args);
          const result: Buffer[] = [];
          for (const name of [...this.data.keys()]) {
            if (this.lookup(name) && globMatch(pattern, name)) result.push(bytes(name));
          }
          return result;
        },
      },
      scan: { arity: -2, run: (args) => this.scan(args) },
      rename: {
        arity: 3,
        write: true,
        run: (args) => {
          const entry = this.lookup(key(args));
          if (!entry) throw new ReplyError('ERR no such key');
          const { value, expiresAt } = entry;
          this.remove(key(args));
          this.remove(key(args, 2));
          this.store(key(args, 2), value, expiresAt);
          return OK;
        },
      },

      // ---- strings ----
      get: { arity: 2, run: (args) => this.getString(key(args)) ?? null },
      set: { arity: -3, write: true, run: (args) => this.set(args) },
      setnx: {
        arity: 3,
        write: true,
        run: (args) => {
          if (this.lookup(key(args))) return 0;
          this.store(key(args), { kind: 'string', data: arg(args, 2) }, undefined);
          return 1;
        },
      },
      setex: {
        arity: 4,
        write: true,
        run: (args) => this.setExpiring(key(args), arg(args, 3), args[2], 1000, 'setex'),
      },
      psetex: { arity: 4, write: true, run: (args) => this.setExpiring(key(args), arg(args, 3), args[2], 1, 'psetex') },
      getdel: {
        arity: 2,
        write: true,
        run: (args) => {
          const value = this.getString(key(args));
          if (value !== undefined) this.remove(key(args));
          return value ?? null;
        },
      },
      getset: {
        arity: 3,
        write: true,
        run: (args) => {
          const previous = this.getString(key(args));
          this.store(key(args), { kind: 'string', data: arg(args, 2) }, undefined);
          return previous ?? null;
        },
      },
      mget: {
        arity: -2,
        run: (args) =>
          args.slice(1).map((k) => {
            const entry = this.lookup(latin1(k));
            return entry?.value.kind === 'string' ? entry.value.data : null;
          }),
      },
      mset: {
        arity: -3,
        write: true,
        run: (args) => {
          if (args.length % 2 === 0) throw new ReplyError("ERR wrong number of arguments for 'mset' command");
          for (let i = 1; i < args.length; i += 2)
            this.store(key(args, i), { kind: 'string', data: arg(args, i + 1) }, undefined);
          return OK;
        },
      },
      msetnx: {
        arity: -3,
        write: true,
        run: (args) => {
          if (args.length % 2 === 0) throw new ReplyError("ERR wrong number of arguments for 'msetnx' command");
          for (let i = 1; i < args.length; i += 2) if (this.lookup(key(args, i))) return 0;
          for (let i = 1; i < args.length; i += 2)
            this.store(key(args, i), { kind: 'string', data: arg(args, i + 1) }, undefined);
          return 1;
        },
      },
      append: {
        arity: 3,
        write: true,
        run: (args) => {
          const entry = this.lookup(key(args));
          if (entry && entry.value.kind !== 'string') throw new ReplyError(WRONGTYPE);
          const data = Buffer.concat([
            entry?.value.kind === 'string' ? entry.value.data : Buffer.alloc(0),
            arg(args, 2),
          ]);
          this.store(key(args), { kind: 'string', data }, entry?.expiresAt);
          return data.length;
        },
      },
      strlen: { arity: 2, run: (args) => this.getString(key(args))?.length ?? 0 },
      incr: { arity: 2, write: true, run: (args) => this.incrBy(key(args), 1n) },
      decr: { arity: 2, write: true, run: (args) => this.incrBy(key(args), -1n) },
      incrby: { arity: 3, write: true, run: (args) => this.incrBy(key(args), parseInt64(args[2])) },
      decrby: {
        arity: 3,
        write: true,
        run: (args) => {
          const delta = parseInt64(args[2]);
          if (delta === INT64_MIN) throw new ReplyError('ERR decrement would overflow');
          return this.incrBy(key(args), -delta);
        },
      },
      incrbyfloat: {
        arity: 3,
        write: true,
        run: (args) => {
          const entry = this.lookup(key(args));
          if (entry && entry.value.kind !== 'string') throw new ReplyError(WRONGTYPE);
          const current = entry?.value.kind === 'string' ? parseFloatArg(entry.value.data) : 0;
          const next = current + parseFloatArg(args[2]);
          if (!Number.isFinite(next)) throw new ReplyError('ERR increment would produce NaN or Infinity');
          const data = Buffer.from(formatG17(Number(next.toPrecision(15))));
          this.store(key(args), { kind: 'string', data }, entry?.expiresAt);
          return data;
        },
      },

      // ---- hashes ----
      hset: { arity: -4, write: true, run: (args) => this.hset(args, 'hset') },
      hmset: {
        arity: -4,
        write: true,
        run: (args) => {
          this.hset(args, 'hmset');
          return OK;
        },
      },
      hsetnx: {
        arity: 4,
        write: true,
        run: (args) => {
          const hash = this.getOrCreate(key(args), 'hash', () => new Map());
          if (hash.has(key(args, 2))) return 0;
          hash.set(key(args, 2), arg(args, 3));
          return 1;
        },
      },
      hget: { arity: 3, run: (args) => this.get(key(args), 'hash')?.get(key(args, 2)) ?? null },
      hmget: {
        arity: -3,
        run: (args) => {
          const hash = this.get(key(args), 'hash');
          return args.slice(2).map((field) => hash?.get(latin1(field)) ?? null);
        },
      },
      hgetall: {
        arity: 2,
        run: (args) =>
          [...(this.get(key(args), 'hash') ?? new Map<string, Buffer>())].flatMap(([f, v]) => [bytes(f), v]),
      },
      hkeys: { arity: 2, run: (args) => [...(this.get(key(args), 'hash')?.keys() ?? [])].map(bytes) },
      hvals: { arity: 2, run: (args) => [...(this.get(key(args), 'hash')?.values() ?? [])] },
      hdel: {
        arity: -3,
        write: true,
        run: (args) => {
          const hash = this.get(key(args), 'hash');
          if (!hash) return 0;
          const removed = args.slice(2).filter((field) => hash.delete(latin1(field))).length;
          this.dropIfEmpty(key(args), hash.size);
          return removed;
        },
      },
      hincrby: { arity: 4, write: true, run: (args) => this.hashIncr(key(args), key(args, 2), parseInt64(args[3])) },
      hexists: { arity: 3, run: (args) => (this.get(key(args), 'hash')?.has(key(args, 2)) ? 1 : 0) },
      hlen: { arity: 2, run: (args) => this.get(key(args), 'hash')?.size ?? 0 },
      hstrlen: { arity: 3, run: (args) => this.get(key(args), 'hash')?.get(key(args, 2))?.length ?? 0 },

      // ---- sets ----
      sadd: {
        arity: -3,
        write: true,
        run: (args) => {
          const set = this.getOrCreate(key(args), 'set', () => new Set());
          let added = 0;
          for (const member of args.slice(2)) {
            const name = latin1(member);
            if (!set.has(name)) {
              set.add(name);
              added++;
            }
          }
          return added;
        },
      },
      srem: {
        arity: -3,
        write: true,
        run: (args) => {
          const set = this.get(key(args), 'set');
          if (!set) return 0;
          const removed = args.slice(2).filter((member) => set.delete(latin1(member))).length;
          this.dropIfEmpty(key(args), set.size);
          return removed;
        },
      },
      smembers: { arity: 2, run: (args) => [...(this.get(key(args), 'set') ?? [])].map(bytes) },
      sismember: { arity: 3, run: (args) => (this.get(key(args), 'set')?.has(key(args, 2)) ? 1 : 0) },
      smismember: {
        arity: -3,
        run: (args) => {
          const set = this.get(key(args), 'set');
          return args.slice(2).map((member) => (set?.has(latin1(member)) ? 1 : 0));
        },
      },
      scard: { arity: 2, run: (args) => this.get(key(args), 'set')?.size ?? 0 },

      // ---- lists ----
      lpush: { arity: -3, write: true, run: (args) => this.push(args, true) },
      rpush: { arity: -3, write: true, run: (args) => this.push(args, false) },
      lpop: { arity: -2, write: true, run: (args) => this.pop(args, true) },
      rpop: { arity: -2, write: true, run: (args) => this.pop(args, false) },
      llen: { arity: 2, run: (args) => this.get(key(args), 'list')?.length ?? 0 },
      lrange: {
        arity: 4,
        run: (args) => {
          const list = this.get(key(args), 'list') ?? [];
          let start = parseIntArg(args[2]);
          let stop = parseIntArg(args[3]);
          if (start < 0) start = Math.max(0, list.length + start);
          if (stop < 0) stop = list.length + stop;
          if (stop >= list.length) stop = list.length - 1;
          return start > stop ? [] : list.slice(start, stop + 1);
        },
      },
      lindex: {
        arity: 3,
        run: (args) => {
          const list = this.get(key(args), 'list') ?? [];
          const index = parseIntArg(args[2]);
          return list[index < 0 ? list.length + index : index] ?? null;
        },
      },

      // ---- scripting ----
      eval: { arity: -3, write: true, noScript: true, run: (args) => this.evalCommand(args, false, false) },
      evalsha: { arity: -3, write: true, noScript: true, run: (args) => this.evalCommand(args, true, false) },
      eval_ro: { arity: -3, noScript: true, run: (args) => this.evalCommand(args, false, true) },
      evalsha_ro: { arity: -3, noScript: true, run: (args) => this.evalCommand(args, true, true) },
      script: { arity: -2, noScript: true, run: (args) => this.scriptCommand(args) },

      // Transactions arrive whole through `transaction()`; these exist so scripts and MULTI get Redis' errors.
      multi: { arity: 1, noScript: true, run: () => new ReplyError('ERR MULTI calls can not be nested') },
      exec: { arity: 1, noScript: true, run: () => new ReplyError('ERR EXEC without MULTI') },
      discard: { arity: 1, noScript: true, run: () => new ReplyError('ERR DISCARD without MULTI') },
      watch: { arity: -2, noScript: true, run: () => OK },
      unwatch: { arity: 1, noScript: true, run: () => OK },
    };
    return new Map(Object.entries(table));
  }

  private flush(): RedisReply {
    this.data.clear();
    this.volatile.clear();
    return OK;
  }

  private deleteKeys(args: Buffer[]): RedisReply {
    let removed = 0;
    for (const name of args.slice(1)) {
      const key = latin1(name);
      if (this.lookup(key) && this.remove(key)) removed++;
    }
    return removed;
  }

  private hset(args: Buffer[], name: string): RedisReply {
    if (args.length % 2 !== 0) throw new ReplyError(`ERR wrong number of arguments for '${name}' command`);
    const hash = this.getOrCreate(latin1(args[1] as Buffer), 'hash', () => new Map());
    let added = 0;
    for (let i = 2; i < args.length; i += 2) {
      const field = latin1(args[i] as Buffer);
      if (!hash.has(field)) added++;
      hash.set(field, args[i + 1] as Buffer);
    }
    return added;
  }

  private scriptCommand(args: Buffer[]): RedisReply {
    const sub = upper(args[1]);
    if (sub === 'LOAD') {
      if (args.length !== 3) throw new ReplyError("ERR wrong number of arguments for 'script|load' command");
      const script = this.lua.compile(args[2] as Buffer);
      return script instanceof ReplyError ? script : Buffer.from(script.sha);
    }
    if (sub === 'EXISTS') {
      if (args.length < 3) throw new ReplyError("ERR wrong number of arguments for 'script|exists' command");
      return args.slice(2).map((sha) => (this.lua.lookup(latin1(sha).toLowerCase()) ? 1 : 0));
    }
    if (sub === 'FLUSH') {
      if (args.length > 3) throw new ReplyError("ERR wrong number of arguments for 'script|flush' command");
      this.lua.flush();
      return OK;
    }
    throw new ReplyError(`ERR unknown subcommand '${(args[1] as Buffer).toString('utf8')}'. Try SCRIPT HELP.`);
  }
}

// ---- Lua scripting (fengari) ----

// Explicit types so calls returning `never` (lua_error) narrow control flow.
const lua: Lua = fengari.lua;
const lauxlib: LuaAuxLib = fengari.lauxlib;
const lualib: LuaLib = fengari.lualib;
const to_luastring = fengari.to_luastring;

interface CompiledScript {
  sha: string;
  ref: number;
  noWrites: boolean;
}

// Mirrors Redis 7.0: error handler adding the script position, and a pcall that hands the `err` text of error
// tables to Lua code (so `pcall(redis.call, ...)` yields a string, as in Redis).
const LUA_PRELUDE = `
local dbg = debug
local rawpcall = pcall
local pack, unpackn = table.pack, table.unpack
pcall = function(...)
  local r = pack(rawpcall(...))
  if not r[1] and type(r[2]) == 'table' and type(r[2].err) == 'string' then r[2] = r[2].err end
  return unpackn(r, 1, r.n)
end
unpack = table.unpack
debug = nil
dofile = nil
loadfile = nil
return function(err)
  local i = dbg.getinfo(2, 'nSl')
  if i and i.what ~= 'Lua' and i.what ~= 'main' then i = dbg.getinfo(3, 'nSl') end
  if type(err) ~= 'table' then err = { err = 'ERR ' .. tostring(err) } end
  if i then
    err['source'] = i.source
    err['line'] = i.currentline
  end
  return err
end
`;

type ScriptCall = (args: Buffer[], readOnly: boolean) => RedisReply;

class LuaScripting {
  private readonly L: LuaState;
  private readonly scripts = new Map<string, CompiledScript>();
  private readonly errorHandlerRef: number;
  private readonly call: ScriptCall;
  private running: { readOnly: boolean; deadline: number } | undefined;

  private readonly timeLimitMs: number;

  constructor(call: ScriptCall, timeLimitMs: number) {
    this.call = call;
    this.timeLimitMs = timeLimitMs;
    const L = lauxlib.luaL_newstate();
    this.L = L;
    for (const [name, open] of [
      ['_G', lualib.luaopen_base],
      ['table', lualib.luaopen_table],
      ['string', lualib.luaopen_string],
      ['math', lualib.luaopen_math],
      ['debug', lualib.luaopen_debug],
    ] as const) {
      lauxlib.luaL_requiref(L, name, open, true);
      lua.lua_pop(L, 1);
    }
    lua.lua_atnativeerror(L, (state) => {
      const error = lua.lua_touserdata(state, -1);
      lua.lua_pushstring(state, `internal error: ${error instanceof Error ? error.message : String(error)}`);
      return 1;
    });
    this.installRedisTable();
    this.installCjson();
    const prelude = to_luastring(LUA_PRELUDE);
    if (lauxlib.luaL_loadbuffer(L, prelude, prelude.length, to_luastring('=prelude')) !== lua.LUA_OK) {
      throw new Error(`embedded Redis: Lua prelude failed: ${this.popString()}`);
    }
    if (lua.lua_pcall(L, 0, 1, 0) !== lua.LUA_OK)
      throw new Error(`embedded Redis: Lua prelude failed: ${this.popString()}`);
    this.errorHandlerRef = lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX);
    // Bounds runaway scripts: Redis would answer BUSY to everyone else; the stand-in aborts the script instead.
    lua.lua_sethook(
      L,
      (state) => {
        if (this.running !== undefined && Date.now() > this.running.deadline) {
          lua.lua_pushstring(state, `Script killed: exceeded ${this.timeLimitMs} ms in the embedded Redis stand-in`);
          lua.lua_error(state);
        }
      },
      lua.LUA_MASKCOUNT,
      100_000,
    );
  }

  lookup(sha: string): CompiledScript | undefined {
    return this.scripts.get(sha);
  }

  compile(source: Buffer): CompiledScript | ReplyError {
    const sha = sha1hex(source);
    const cached = this.scripts.get(sha);
    if (cached) return cached;
    let body = source;
    let noWrites = false;
    if (source[0] === 0x23 && source[1] === 0x21) {
      // #!<engine> [flags=a,b]: the line is blanked, not removed, so error line numbers stay those of the source.
      const newline = source.indexOf(0x0a);
      const line = source.toString('utf8', 2, newline < 0 ? source.length : newline);
      const [engine = '', ...options] = line.split(' ').filter((part) => part !== '');
      if (engine !== 'lua') return new ReplyError(`ERR Could not find engine '${engine}'`);
      for (const option of options) {
        if (!option.startsWith('flags=')) return new ReplyError(`ERR Unknown lua shebang option: ${option}`);
        for (const flag of option.slice('flags='.length).split(',')) {
          if (flag === '') continue;
          if (!KNOWN_SCRIPT_FLAGS.has(flag)) return new ReplyError(`ERR Unexpected flag in script shebang: ${flag}`);
          if (flag === 'no-writes') noWrites = true;
        }
      }
      body = newline < 0 ? Buffer.alloc(0) : source.subarray(newline);
    }
    const L = this.L;
    if (lauxlib.luaL_loadbuffer(L, new Uint8Array(body), body.length, to_luastring('@user_script')) !== lua.LUA_OK) {
      return new ReplyError(`ERR Error compiling script (new function): ${this.popString()}`);
    }
    const script = { sha, ref: lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX), noWrites };
    this.scripts.set(sha, script);
    return script;
  }

  run(script: CompiledScript, keys: Buffer[], argv: Buffer[], readOnly: boolean): RedisReply {
    const L = this.L;
    const base = lua.lua_gettop(L);
    this.setStringArray('KEYS', keys);
    this.setStringArray('ARGV', argv);
    lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, this.errorHandlerRef);
    lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, script.ref);
    this.running = { readOnly: readOnly || script.noWrites, deadline: Date.now() + this.timeLimitMs };
    try {
      const status = lua.lua_pcall(L, 0, 1, base + 1);
      if (status !== lua.LUA_OK) return this.scriptError(script.sha);
      return this.toReply(lua.lua_gettop(L), 0);
    } finally {
      this.running = undefined;
      lua.lua_settop(L, base);
    }
  }

  flush(): void {
    for (const script of this.scripts.values()) lauxlib.luaL_unref(this.L, lua.LUA_REGISTRYINDEX, script.ref);
    this.scripts.clear();
  }

  close(): void {
    this.scripts.clear();
    lua.lua_close(this.L);
  }

  private scriptError(sha: string): ReplyError {
    const L = this.L;
    if (lua.lua_type(L, -1) === lua.LUA_TTABLE) {
      const err = this.stringField(-1, 'err');
      const source = this.stringField(-1, 'source');
      lua.lua_getfield(L, -1, 'line');
      const line = lua.lua_type(L, -1) === lua.LUA_TNUMBER ? lua.lua_tonumber(L, -1) : undefined;
      lua.lua_pop(L, 1);
      const message = err ?? 'ERR unknown error';
      return new ReplyError(
        source !== undefined && line !== undefined
          ? `${message} script: ${sha}, on ${source}:${line}.`
          : `${message} script: ${sha}`,
      );
    }
    const text = lua.lua_tolstring(L, -1);
    return new ReplyError(`ERR ${text ? Buffer.from(text).toString('utf8') : 'unknown error'} script: ${sha}`);
  }

  private stringField(index: number, name: string): string | undefined {
    const L = this.L;
    lua.lua_getfield(L, index, name);
    const value = lua.lua_type(L, -1) === lua.LUA_TSTRING ? lua.lua_tolstring(L, -1) : null;
    lua.lua_pop(L, 1);
    return value === null ? undefined : Buffer.from(value).toString('utf8');
  }

  private popString(): string {
    const text = lua.lua_tolstring(this.L, -1);
    lua.lua_pop(this.L, 1);
    return text ? Buffer.from(text).toString('utf8') : '(error object is not a string)';
  }

  private setStringArray(name: string, values: Buffer[]): void {
    const L = this.L;
    lua.lua_createtable(L, values.length, 0);
    values.forEach((value, i) => {
      lua.lua_pushstring(L, new Uint8Array(value));
      lua.lua_rawseti(L, -2, i + 1);
    });
    lua.lua_setglobal(L, name);
  }

  private installRedisTable(): void {
    const L = this.L;
    lua.lua_createtable(L, 0, 16);
    const fn = (name: string, f: (L: LuaState) => number): void => {
      lua.lua_pushjsfunction(L, f);
      lua.lua_setfield(L, -2, name);
    };
    fn('call', (state) => this.redisCall(state, true));
    fn('pcall', (state) => this.redisCall(state, false));
    fn('error_reply', (state) => {
      const text = this.argString(state, 1);
      this.pushStatusTable(state, 'err', /^-?[A-Z]+ /.test(text) ? text.replace(/^-/, '') : `ERR ${text}`);
      return 1;
    });
    fn('status_reply', (state) => {
      this.pushStatusTable(state, 'ok', this.argString(state, 1));
      return 1;
    });
    fn('sha1hex', (state) => {
      const value = lua.lua_tolstring(state, 1);
      lua.lua_pushstring(state, sha1hex(value ? Buffer.from(value) : ''));
      return 1;
    });
    fn('log', () => 0);
    fn('setresp', (state) => {
      if (lua.lua_tonumber(state, 1) !== 2) {
        lua.lua_pushstring(state, 'RESP3 is not supported by the embedded Redis stand-in');
        lua.lua_error(state);
      }
      return 0;
    });
    fn('set_repl', () => 0);
    fn('replicate_commands', (state) => {
      lua.lua_pushboolean(state, true);
      return 1;
    });
    for (const [name, value] of [
      ['LOG_DEBUG', 0],
      ['LOG_VERBOSE', 1],
      ['LOG_NOTICE', 2],
      ['LOG_WARNING', 3],
      ['REPL_NONE', 0],
      ['REPL_AOF', 1],
      ['REPL_SLAVE', 2],
      ['REPL_REPLICA', 2],
      ['REPL_ALL', 3],
    ] as const) {
      lua.lua_pushinteger(L, value);
      lua.lua_setfield(L, -2, name);
    }
    lua.lua_setglobal(L, 'redis');
  }

  private installCjson(): void {
    const L = this.L;
    lua.lua_createtable(L, 0, 2);
    lua.lua_pushjsfunction(L, (state) => {
      let text: string | undefined;
      let problem: string | undefined;
      try {
        text = JSON.stringify(this.toJson(state, 1, 0));
      } catch (error) {
        problem = error instanceof Error ? error.message : String(error);
      }
      if (text === undefined) {
        lua.lua_pushstring(state, `Cannot serialise: ${problem ?? 'unsupported value'}`);
        lua.lua_error(state);
      }
      lua.lua_pushstring(state, text);
      return 1;
    });
    lua.lua_setfield(L, -2, 'encode');
    lua.lua_pushjsfunction(L, (state) => {
      let value: unknown;
      let problem: string | undefined;
      try {
        value = JSON.parse(this.argString(state, 1));
      } catch (error) {
        problem = error instanceof Error ? error.message : String(error);
      }
      if (problem !== undefined) {
        lua.lua_pushstring(state, `Expected value but found invalid JSON: ${problem}`);
        lua.lua_error(state);
      }
      this.pushJson(state, value);
      return 1;
    });
    lua.lua_setfield(L, -2, 'decode');
    lua.lua_setglobal(L, 'cjson');
  }

  private toJson(L: LuaState, index: number, depth: number): unknown {
    if (depth > 1000) throw new Error('excessive nesting');
    const type = lua.lua_type(L, index);
    if (type === lua.LUA_TNIL || type === lua.LUA_TNONE) return null;
    if (type === lua.LUA_TBOOLEAN) return lua.lua_toboolean(L, index);
    if (type === lua.LUA_TNUMBER) return lua.lua_tonumber(L, index);
    if (type === lua.LUA_TSTRING) return Buffer.from(lua.lua_tolstring(L, index) ?? new Uint8Array()).toString('utf8');
    if (type !== lua.LUA_TTABLE) throw new Error('type not supported');
    const absolute = index < 0 ? lua.lua_gettop(L) + index + 1 : index;
    const entries: [unknown, unknown][] = [];
    lua.lua_pushnil(L);
    while (lua.lua_next(L, absolute)) {
      const keyType = lua.lua_type(L, -2);
      const key =
        keyType === lua.LUA_TNUMBER
          ? lua.lua_tonumber(L, -2)
          : Buffer.from(lua.lua_tolstring(L, -2) ?? []).toString('utf8');
      entries.push([key, this.toJson(L, -1, depth + 1)]);
      lua.lua_pop(L, 1);
    }
    const length = entries.length;
    const isArray =
      length > 0 && entries.every(([k]) => typeof k === 'number' && Number.isInteger(k) && k >= 1 && k <= length);
    if (isArray) {
      const array: unknown[] = new Array<unknown>(length);
      for (const [k, v] of entries) array[(k as number) - 1] = v;
      return array;
    }
    return Object.fromEntries(entries.map(([k, v]) => [String(k), v]));
  }

  private pushJson(L: LuaState, value: unknown): void {
    if (value === null || value === undefined) lua.lua_pushnil(L);
    else if (typeof value === 'boolean') lua.lua_pushboolean(L, value);
    else if (typeof value === 'number') this.pushNumber(L, value);
    else if (typeof value === 'string') lua.lua_pushstring(L, value);
    else if (Array.isArray(value)) {
      lua.lua_createtable(L, value.length, 0);
      value.forEach((item: unknown, i) => {
        this.pushJson(L, item);
        lua.lua_rawseti(L, -2, i + 1);
      });
    } else if (typeof value === 'object') {
      lua.lua_createtable(L, 0, 0);
      for (const [k, v] of Object.entries(value)) {
        this.pushJson(L, v);
        lua.lua_setfield(L, -2, k);
      }
    } else lua.lua_pushnil(L);
  }

  private argString(L: LuaState, index: number): string {
    const value =
      lua.lua_type(L, index) === lua.LUA_TSTRING || lua.lua_type(L, index) === lua.LUA_TNUMBER
        ? lua.lua_tolstring(L, index)
        : null;
    return value ? Buffer.from(value).toString('utf8') : '';
  }

  private pushStatusTable(L: LuaState, field: 'ok' | 'err', text: string): void {
    lua.lua_createtable(L, 0, 1);
    lua.lua_pushstring(L, text);
    lua.lua_setfield(L, -2, field);
  }

  private pushNumber(L: LuaState, value: number): void {
    // fengari integers are 32-bit; larger integers travel as floats (Redis' Lua 5.1 has only doubles anyway).
    if (Number.isInteger(value) && value >= -0x80000000 && value <= 0x7fffffff) lua.lua_pushinteger(L, value);
    else lua.lua_pushnumber(L, value);
  }

  private redisCall(L: LuaState, raise: boolean): number {
    const count = lua.lua_gettop(L);
    const args: Buffer[] = [];
    let reply: RedisReply;
    if (count === 0) {
      reply = new ReplyError('ERR Please specify at least one argument for this redis lib call');
    } else {
      let invalid = false;
      for (let i = 1; i <= count; i++) {
        const type = lua.lua_type(L, i);
        if (type === lua.LUA_TSTRING) {
          args.push(Buffer.from(lua.lua_tolstring(L, i) ?? new Uint8Array()));
        } else if (type === lua.LUA_TNUMBER) {
          args.push(
            Buffer.from(lua.lua_isinteger(L, i) ? String(lua.lua_tointeger(L, i)) : formatG17(lua.lua_tonumber(L, i))),
          );
        } else {
          invalid = true;
          break;
        }
      }
      if (invalid) {
        reply = new ReplyError('ERR Lua redis lib command arguments must be strings or integers');
      } else {
        try {
          reply = this.call(args, this.running?.readOnly ?? false);
        } catch (error) {
          reply = new ReplyError(`ERR ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    }
    if (reply instanceof ReplyError) {
      this.pushStatusTable(L, 'err', reply.message);
      if (raise) lua.lua_error(L);
      return 1;
    }
    this.pushReply(L, reply, 0);
    return 1;
  }

  /** Redis -> Lua conversion (RESP2 rules). */
  private pushReply(L: LuaState, reply: RedisReply, depth: number): void {
    if (!lua.lua_checkstack(L, 4) || depth > 1000) throw new Error('reply nested too deeply');
    if (reply === null) lua.lua_pushboolean(L, false);
    else if (typeof reply === 'number') this.pushNumber(L, reply);
    else if (Buffer.isBuffer(reply)) lua.lua_pushstring(L, new Uint8Array(reply));
    else if (reply instanceof StatusReply) this.pushStatusTable(L, 'ok', reply.status);
    else if (reply instanceof ReplyError) this.pushStatusTable(L, 'err', reply.message);
    else {
      lua.lua_createtable(L, reply.length, 0);
      reply.forEach((item, i) => {
        this.pushReply(L, item, depth + 1);
        lua.lua_rawseti(L, -2, i + 1);
      });
    }
  }

  /** Lua -> Redis conversion (RESP2 rules): tables are arrays up to the first nil, {err=} / {ok=} are replies. */
  private toReply(index: number, depth: number): RedisReply {
    const L = this.L;
    switch (lua.lua_type(L, index)) {
      case lua.LUA_TSTRING:
        return Buffer.from(lua.lua_tolstring(L, index) ?? new Uint8Array());
      case lua.LUA_TNUMBER:
        return lua.lua_isinteger(L, index) ? lua.lua_tointeger(L, index) : Math.trunc(lua.lua_tonumber(L, index)) || 0;
      case lua.LUA_TBOOLEAN:
        return lua.lua_toboolean(L, index) ? 1 : null;
      case lua.LUA_TTABLE: {
        const err = this.stringField(index, 'err');
        if (err !== undefined) return new ReplyError(err);
        const ok = this.stringField(index, 'ok');
        if (ok !== undefined) return new StatusReply(ok);
        if (depth > 1000) return new ReplyError('ERR reached lua stack limit');
        const items: RedisReply[] = [];
        for (let i = 1; ; i++) {
          lua.lua_rawgeti(L, index, i);
          if (lua.lua_type(L, -1) === lua.LUA_TNIL) {
            lua.lua_pop(L, 1);
            break;
          }
          items.push(this.toReply(lua.lua_gettop(L), depth + 1));
          lua.lua_pop(L, 1);
        }
        return items;
      }
      default:
        return null;
    }
  }
}
