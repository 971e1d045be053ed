import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EmbeddedRedis } from './embedded-redis.ts';
import { RedisConnectionError, RedisHandshakeError, ReplyError, RespClient, StatusReply, redactUrl } from './resp.ts';
import type { RedisArg, RedisCommand, RedisReply, RespClientOptions } from './resp.ts';
import { RoundTripCounter, TRACE_PATTERN, serveRoundTrips } from './round-trips.ts';
import { BodyTooLarge, readBody } from './body.ts';
import { closeServer, keepIdleConnectionsLongerThanClients } from './keep-alive.ts';

export { ReplyError, StatusReply, RedisConnectionError } from './resp.ts';
export type { RedisArg, RedisCommand, RedisReply } from './resp.ts';

/**
 * Local Upstash Redis REST gateway (docs: /work/shared/PROTOCOLS.md section B) in front of a real Redis, or of the
 * embedded stand-in when the machine has none.
 */

export type GatewayLog = (message: string, fields?: Record<string, unknown>) => void;

/**
 * Where commands run. Replies are values: Redis error replies resolve as `ReplyError`. The promises reject only with
 * `RedisConnectionError` when Redis is unreachable or the connection dropped (the gateway answers 503).
 */
export interface RedisBackend {
  readonly kind: 'redis' | 'embedded';
  /** For logs: the redacted Redis URL, or `embedded`. */
  readonly description: string;
  command(args: RedisCommand): Promise<RedisReply>;
  /** Commands back to back on one connection, replies in order; one failing command does not stop the others. */
  pipeline(commands: readonly RedisCommand[]): Promise<RedisReply[]>;
  /** MULTI/EXEC: EXEC's replies, or the error that discarded the transaction (EXECABORT). */
  transaction(commands: readonly RedisCommand[]): Promise<RedisReply[] | ReplyError>;
  close(): Promise<void>;
}

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** A backend on a real Redis; it connects lazily (see `connectRedisBackend` for a checked connection). */
export function createRespBackend(url: string = DEFAULT_REDIS_URL, options: RespClientOptions = {}): RedisBackend {
  const client = new RespClient(url, options);
  return {
    kind: 'redis',
    description: redactUrl(url),
    command: (args) => client.call(args),
    pipeline: (commands) => client.pipeline(commands),
    transaction: (commands) => client.multi(commands),
    close: () => client.close(),
  };
}

export function createEmbeddedBackend(): RedisBackend {
  const redis = new EmbeddedRedis();
  const toBuffers = (args: RedisCommand): Buffer[] => args.map(toBuffer);
  // Runs synchronously; the promise only gives it the backend's shape (a throw becomes a rejection).
  const later = <T>(run: () => T): Promise<T> => new Promise<T>((resolve) => resolve(run()));
  return {
    kind: 'embedded',
    description: 'embedded',
    command: (args) => later(() => redis.execute(toBuffers(args))),
    pipeline: (commands) => later(() => commands.map((args) => redis.execute(toBuffers(args)))),
    transaction: (commands) => later(() => redis.transaction(commands.map(toBuffers))),
    close: () => later(() => redis.close()),
  };
}

/**
 * Connects to the Redis at `url` (default redis://127.0.0.1:6379) and checks it with PING. When it is unreachable,
 * falls back to the embedded stand-in if allowed (with a warning), else rejects. A Redis that answers but refuses
 * AUTH/SELECT/PING always rejects: that is a configuration error, not a missing Redis.
 */
export async function connectRedisBackend(options: {
  url?: string;
  allowEmbedded: boolean;
  log?: GatewayLog;
}): Promise<RedisBackend> {
  const url = options.url ?? DEFAULT_REDIS_URL;
  const backend = createRespBackend(url);
  try {
    const pong = await backend.command(['PING']);
    if (pong instanceof ReplyError) throw new Error(`Redis at ${redactUrl(url)} refused PING: ${pong.message}`);
    return backend;
  } catch (error) {
    await backend.close();
    if (!(error instanceof RedisConnectionError) || error instanceof RedisHandshakeError) throw error;
    if (!options.allowEmbedded) {
      throw new Error(
        `Redis at ${redactUrl(url)} is unreachable (${error.message}) and the embedded stand-in is not allowed`,
        {
          cause: error,
        },
      );
    }
    const warn: GatewayLog = options.log ?? ((message) => console.warn(message));
    warn(`WARNING: Redis at ${redactUrl(url)} is unreachable; using the embedded in-memory Redis stand-in instead`, {
      level: 'warn',
      url: redactUrl(url),
      reason: error.message,
    });
    return createEmbeddedBackend();
  }
}

export interface UpstashGatewayOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 or absent = a random free port. */
  port?: number;
  token: string;
  /** Not closed by the gateway: whoever created it closes it. */
  backend: RedisBackend;
  log?: GatewayLog;
  /** Default 10 MiB; larger bodies get 413. */
  maxBodyBytes?: number;
}

export interface UpstashGateway {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  counter: RoundTripCounter;
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY = 10 * 1024 * 1024;
const KNOWN_SCRIPT_FLAGS = new Set(['no-writes', 'allow-oom', 'allow-stale', 'no-cluster', 'allow-cross-slot-keys']);
const MAX_SCRIPT_TRANSLATIONS = 10_000;

/**
 * One Redis connection is shared by every request, so commands that change connection state or block it are refused.
 */
const UNAVAILABLE_COMMANDS = new Set([
  'multi', 'exec', 'discard', 'watch', 'unwatch', 'select', 'swapdb', 'auth', 'hello', 'quit', 'reset', 'client',
  'subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe', 'sunsubscribe', 'monitor', 'sync', 'psync',
  'replconf', 'blpop', 'brpop', 'brpoplpush', 'blmove', 'blmpop', 'bzpopmin', 'bzpopmax', 'bzmpop', 'wait', 'waitaof',
  'shutdown', 'failover', 'debug',
]); // prettier-ignore

function toBuffer(arg: RedisArg): Buffer {
  return Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg), 'utf8');
}

function sha1hex(data: Buffer): string {
  return createHash('sha1').update(data).digest('hex');
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/**
 * @upstash/ratelimit scripts start with `#!lua flags=allow-key-locking`, which only Upstash understands. Such shebangs
 * are rewritten to the flags Redis knows (or blanked, keeping line numbers), and the client's hashes of the original
 * scripts are translated to the hashes Redis knows.
 */
class ScriptRewriter {
  private readonly translations = new Map<string, string>();

  /** Returns the rewritten script, or undefined when Redis accepts it as it is. */
  rewrite(script: Buffer): Buffer | undefined {
    if (script[0] !== 0x23 || script[1] !== 0x21) return undefined;
    const newline = script.indexOf(0x0a);
    const lineEnd = newline < 0 ? script.length : newline;
    const [engine, ...options] = script.toString('utf8', 2, lineEnd).trim().split(/\s+/);
    if (engine !== 'lua') return undefined;
    const kept: string[] = [];
    let changed = false;
    for (const option of options) {
      if (!option.startsWith('flags=')) {
        changed = true;
        continue;
      }
      for (const flag of option.slice('flags='.length).split(',')) {
        if (KNOWN_SCRIPT_FLAGS.has(flag)) kept.push(flag);
        else if (flag !== '') changed = true;
      }
    }
    if (!changed) return undefined;
    const shebang = kept.length > 0 ? `#!lua flags=${kept.join(',')}` : '';
    const rewritten = Buffer.concat([Buffer.from(shebang), script.subarray(lineEnd)]);
    this.remember(sha1hex(script), sha1hex(rewritten));
    return rewritten;
  }

  translate(sha: Buffer): Buffer {
    const mapped = this.translations.get(sha.toString('latin1').toLowerCase());
    return mapped === undefined ? sha : Buffer.from(mapped);
  }

  private remember(original: string, rewritten: string): void {
    if (this.translations.has(original)) return;
    if (this.translations.size >= MAX_SCRIPT_TRANSLATIONS) {
      const oldest = this.translations.keys().next().value;
      if (oldest !== undefined) this.translations.delete(oldest);
    }
    this.translations.set(original, rewritten);
  }
}

interface PreparedCommand {
  args: Buffer[];
  /** Set when the command must not reach Redis; this is its reply. */
  refused?: ReplyError;
  /** Adjusts the reply (SCRIPT LOAD answers with the hash the client computed). */
  fix?: (reply: RedisReply) => RedisReply;
}

function prepare(args: Buffer[], rewriter: ScriptRewriter): PreparedCommand {
  const name = (args[0] as Buffer).toString('latin1').toLowerCase();
  const sub = args[1]?.toString('latin1').toLowerCase();
  if (
    UNAVAILABLE_COMMANDS.has(name) ||
    ((name === 'xread' || name === 'xreadgroup') &&
      args.some((arg) => arg.toString('latin1').toLowerCase() === 'block'))
  ) {
    return { args, refused: new ReplyError(`ERR Command is not available: '${name}'`) };
  }
  if ((name === 'eval' || name === 'eval_ro') && args[1] !== undefined) {
    const rewritten = rewriter.rewrite(args[1]);
    if (rewritten) return { args: [args[0] as Buffer, rewritten, ...args.slice(2)] };
  } else if ((name === 'evalsha' || name === 'evalsha_ro') && args[1] !== undefined) {
    return { args: [args[0] as Buffer, rewriter.translate(args[1]), ...args.slice(2)] };
  } else if (name === 'script' && sub === 'load' && args[2] !== undefined) {
    const original = args[2];
    const rewritten = rewriter.rewrite(original);
    if (rewritten) {
      const originalSha = sha1hex(original);
      return {
        args: [args[0] as Buffer, args[1] as Buffer, rewritten, ...args.slice(3)],
        fix: (reply) => (Buffer.isBuffer(reply) ? Buffer.from(originalSha) : reply),
      };
    }
  } else if (name === 'script' && sub === 'exists') {
    return { args: [...args.slice(0, 2), ...args.slice(2).map((sha) => rewriter.translate(sha))] };
  }
  return { args };
}

function isScalar(value: unknown): value is string | number | boolean {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

function parseCommand(value: unknown, where: string): Buffer[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new HttpError(400, `ERR ${where} must be a non-empty JSON array of strings, numbers or booleans`);
  }
  return value.map((item: unknown) => {
    if (!isScalar(item)) throw new HttpError(400, `ERR ${where} must contain only strings, numbers or booleans`);
    return Buffer.from(String(item), 'utf8');
  });
}

function parseCommandList(value: unknown): Buffer[][] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new HttpError(400, 'ERR the request body must be a non-empty JSON array of commands');
  }
  return value.map((command: unknown, i) => parseCommand(command, `command ${i + 1}`));
}

/** RESP2 reply -> JSON, without reshaping; every string base64-encoded when the client asked for it. */
function toJson(reply: RedisReply, base64: boolean): unknown {
  if (reply === null || typeof reply === 'number') return reply;
  if (Buffer.isBuffer(reply)) return base64 ? reply.toString('base64') : reply.toString('utf8');
  if (reply instanceof StatusReply) return base64 ? Buffer.from(reply.status).toString('base64') : reply.status;
  // Only reachable inside arrays (Lua scripts can nest error replies): rendered as the error text.
  if (reply instanceof ReplyError) return base64 ? Buffer.from(reply.message).toString('base64') : reply.message;
  return reply.map((item) => toJson(item, base64));
}

function entry(reply: RedisReply, base64: boolean): { result: unknown } | { error: string } {
  return reply instanceof ReplyError ? { error: reply.message } : { result: toJson(reply, base64) };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
}

async function readRequestBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  try {
    return await readBody(req, limit);
  } catch (error) {
    if (error instanceof BodyTooLarge) throw new HttpError(413, `ERR request body exceeds ${limit} bytes`);
    throw error;
  }
}

function tokenMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function requestToken(req: http.IncomingMessage, url: URL): string | undefined {
  const header = req.headers.authorization;
  const match = header === undefined ? null : /^Bearer\s+(.+)$/i.exec(header.trim());
  if (match) return match[1];
  return url.searchParams.get('_token') ?? undefined;
}

export async function startUpstashGateway(options: UpstashGatewayOptions): Promise<UpstashGateway> {
  const { backend, token, log } = options;
  if (!token) throw new Error('startUpstashGateway: a token is required');
  const host = options.host ?? '127.0.0.1';
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const counter = new RoundTripCounter();
  const rewriter = new ScriptRewriter();
  let backendDown = false;

  const backendCall = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      const result = await run();
      if (backendDown) {
        backendDown = false;
        log?.('upstash gateway: Redis is reachable again', { backend: backend.description });
      }
      return result;
    } catch (error) {
      if (error instanceof RedisConnectionError) {
        if (!backendDown) {
          backendDown = true;
          log?.('upstash gateway: Redis is unreachable, answering 503', {
            backend: backend.description,
            reason: error.message,
          });
        }
        throw new HttpError(503, `ERR Redis is unavailable: ${error.message}`);
      }
      throw error;
    }
  };

  const runPipeline = async (commands: Buffer[][]): Promise<RedisReply[]> => {
    const prepared = commands.map((args) => prepare(args, rewriter));
    const sendable = prepared.filter((command) => command.refused === undefined);
    const replies =
      sendable.length === 0
        ? []
        : sendable.length === 1 && prepared.length === 1
          ? [await backendCall(() => backend.command((sendable[0] as PreparedCommand).args))]
          : await backendCall(() => backend.pipeline(sendable.map((command) => command.args)));
    let next = 0;
    return prepared.map((command) => {
      if (command.refused) return command.refused;
      const reply = replies[next++] ?? null;
      return command.fix ? command.fix(reply) : reply;
    });
  };

  const runTransaction = async (commands: Buffer[][]): Promise<RedisReply[] | ReplyError> => {
    const prepared = commands.map((args) => prepare(args, rewriter));
    const refused = prepared.find((command) => command.refused);
    if (refused?.refused) return refused.refused;
    const result = await backendCall(() => backend.transaction(prepared.map((command) => command.args)));
    if (result instanceof ReplyError) return result;
    return result.map((reply, i) => prepared[i]?.fix?.(reply) ?? reply);
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    res.setHeader('access-control-allow-origin', '*');
    if (req.method === 'OPTIONS') {
      res.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS');
      res.setHeader(
        'access-control-allow-headers',
        req.headers['access-control-request-headers'] ??
          'authorization, content-type, upstash-encoding, upstash-sync-token',
      );
      res.setHeader('access-control-max-age', '86400');
      res.statusCode = 204;
      res.end();
      return;
    }
    const rawUrl = req.url ?? '/';
    // A leading '//' would parse as a protocol-relative URL (another host), so it is never handed to URL().
    if (rawUrl.startsWith('//') || !rawUrl.startsWith('/')) throw new HttpError(404, `ERR not found: ${rawUrl}`);
    if (serveRoundTrips(req, res, counter)) return;

    const url = new URL(rawUrl, 'http://gateway.local');
    let path = url.pathname;
    let trace: string | undefined;
    if (path === '/trace' || path.startsWith('/trace/')) {
      const match = /^\/trace\/([^/]+)(\/.*)?$/.exec(path);
      if (!match) throw new HttpError(404, 'ERR not found: a trace id must follow /trace/');
      try {
        trace = decodeURIComponent(match[1] as string);
      } catch {
        throw new HttpError(400, 'ERR invalid trace id');
      }
      if (!TRACE_PATTERN.test(trace)) throw new HttpError(400, 'ERR invalid trace id');
      path = match[2] ?? '/';
    }

    if (!tokenMatches(requestToken(req, url), token)) throw new HttpError(401, 'Unauthorized');

    const base64 = String(req.headers['upstash-encoding'] ?? '').toLowerCase() === 'base64';
    const method = req.method ?? 'GET';

    if (path === '/' || path === '/pipeline' || path === '/multi-exec') {
      if (method !== 'POST') {
        res.setHeader('allow', 'POST');
        throw new HttpError(405, `ERR method ${method} not allowed on ${path}: use POST`);
      }
      const body = await readRequestBody(req, maxBody);
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch (error) {
        throw new HttpError(
          400,
          `ERR failed to parse the JSON body: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      if (path === '/') {
        const command = parseCommand(parsed, 'the request body');
        counter.record(trace, 1);
        const [reply = null] = await runPipeline([command]);
        if (reply instanceof ReplyError) sendJson(res, 400, { error: reply.message });
        else sendJson(res, 200, { result: toJson(reply, base64) });
        return;
      }
      const commands = parseCommandList(parsed);
      counter.record(trace, commands.length);
      if (path === '/pipeline') {
        const replies = await runPipeline(commands);
        sendJson(
          res,
          200,
          replies.map((reply) => entry(reply, base64)),
        );
        return;
      }
      const result = await runTransaction(commands);
      if (result instanceof ReplyError) sendJson(res, 400, { error: result.message });
      else
        sendJson(
          res,
          200,
          result.map((reply) => entry(reply, base64)),
        );
      return;
    }

    // Command-in-path form, as Upstash serves it: GET|POST /set/key/value?EX=10, a POST body is the last argument.
    const segments = path.slice(1).split('/');
    if (
      path.startsWith('/pipeline/') ||
      path.startsWith('/multi-exec/') ||
      !/^[A-Za-z][A-Za-z0-9_-]*$/.test(segments[0] ?? '')
    ) {
      throw new HttpError(404, `ERR not found: ${path}`);
    }
    if (method !== 'GET' && method !== 'POST') {
      res.setHeader('allow', 'GET, POST');
      throw new HttpError(405, `ERR method ${method} not allowed`);
    }
    const args: Buffer[] = [];
    for (const segment of segments) {
      try {
        args.push(Buffer.from(decodeURIComponent(segment), 'utf8'));
      } catch {
        throw new HttpError(400, 'ERR malformed percent-encoding in the path');
      }
    }
    for (const [name, value] of url.searchParams) {
      if (name === '_token') continue;
      args.push(Buffer.from(name, 'utf8'));
      if (value !== '') args.push(Buffer.from(value, 'utf8'));
    }
    if (method === 'POST') {
      const body = await readRequestBody(req, maxBody);
      if (body.length > 0) args.push(body);
    }
    counter.record(trace, 1);
    const [reply = null] = await runPipeline([args]);
    if (reply instanceof ReplyError) sendJson(res, 400, { error: reply.message });
    else sendJson(res, 200, { result: toJson(reply, base64) });
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof HttpError) {
        if (error.status === 413) res.setHeader('connection', 'close');
        sendJson(res, error.status, { error: error.message });
        return;
      }
      const message = error instanceof Error ? error.message : String(error);
      log?.('upstash gateway: internal error', { error: message, url: req.url });
      sendJson(res, 500, { error: `ERR internal gateway error: ${message}` });
    });
  });
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });

  keepIdleConnectionsLongerThanClients(server);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const gatewayUrl = `http://${urlHost}:${port}`;
  log?.('upstash gateway listening', { url: gatewayUrl, backend: backend.kind, target: backend.description });

  return {
    url: gatewayUrl,
    port,
    counter,
    close: () => closeServer(server),
  };
}
