import net from 'node:net';

/**
 * A small RESP2 client for the local Redis gateway: one pipelined connection, replies as values (error replies are
 * `ReplyError` values, never thrown, so the gateway can pass them through verbatim), bulk strings as Buffers.
 * Promises reject only with `RedisConnectionError` (Redis unreachable, connection lost, handshake refused).
 */

/** An error reply (`-ERR ...`). Extends Error so command implementations may also throw it. */
export class ReplyError extends Error {
  override readonly name = 'ReplyError';
}

/** A simple-string reply (`+OK`). */
export class StatusReply {
  readonly status: string;
  constructor(status: string) {
    this.status = status;
  }
}

export type RedisReply = Buffer | number | null | StatusReply | ReplyError | RedisReply[];
export type RedisArg = string | Buffer | number;
export type RedisCommand = readonly RedisArg[];

/** Redis could not be reached or the connection dropped; the outcome of in-flight commands is unknown. */
export class RedisConnectionError extends Error {
  override readonly name: string = 'RedisConnectionError';
}

/** Connected, but AUTH or SELECT was refused: a configuration problem, not an outage. */
export class RedisHandshakeError extends RedisConnectionError {
  override readonly name = 'RedisHandshakeError';
}

export const OK = new StatusReply('OK');

export function encodeCommand(args: RedisCommand): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const data = Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg), 'utf8');
    parts.push(Buffer.from(`$${data.length}\r\n`), data, CRLF);
  }
  return Buffer.concat(parts);
}

const CRLF = Buffer.from('\r\n');

class ProtocolError extends Error {}

/** Incremental RESP2 reply parser. */
export class RespParser {
  private buffer: Buffer = Buffer.alloc(0);
  private readonly chunks: Buffer[] = [];
  private chunkBytes = 0;
  // Lower bound of bytes the incomplete reply needs, so a large bulk string is not re-parsed on every chunk.
  private needed = 0;

  /** Feeds bytes; returns the replies completed by them. Throws on a protocol violation. */
  push(chunk: Buffer): RedisReply[] {
    this.chunks.push(chunk);
    this.chunkBytes += chunk.length;
    if (this.buffer.length + this.chunkBytes < this.needed) return [];
    this.buffer =
      this.buffer.length === 0 && this.chunks.length === 1 ? chunk : Buffer.concat([this.buffer, ...this.chunks]);
    this.chunks.length = 0;
    this.chunkBytes = 0;
    this.needed = 0;
    const replies: RedisReply[] = [];
    let offset = 0;
    while (offset < this.buffer.length) {
      const parsed = this.parse(offset);
      if (parsed === undefined) break;
      replies.push(parsed.value);
      offset = parsed.end;
    }
    if (this.needed > 0) this.needed -= offset;
    this.buffer = offset >= this.buffer.length ? Buffer.alloc(0) : this.buffer.subarray(offset);
    return replies;
  }

  private line(offset: number): { text: string; end: number } | undefined {
    const index = this.buffer.indexOf(CRLF, offset);
    if (index < 0) {
      this.needed = this.buffer.length + 1;
      return undefined;
    }
    return { text: this.buffer.toString('utf8', offset, index), end: index + 2 };
  }

  private parse(offset: number): { value: RedisReply; end: number } | undefined {
    if (offset >= this.buffer.length) {
      this.needed = offset + 1;
      return undefined;
    }
    const type = this.buffer[offset];
    const header = this.line(offset + 1);
    if (header === undefined) return undefined;
    switch (type) {
      case 0x2b: // +
        return { value: header.text === 'OK' ? OK : new StatusReply(header.text), end: header.end };
      case 0x2d: // -
        return { value: new ReplyError(header.text), end: header.end };
      case 0x3a: // :
        return { value: parseInteger(header.text), end: header.end };
      case 0x24: {
        // $
        const length = parseInteger(header.text);
        if (length < 0) return { value: null, end: header.end };
        const end = header.end + length + 2;
        if (end > this.buffer.length) {
          this.needed = end;
          return undefined;
        }
        return { value: Buffer.from(this.buffer.subarray(header.end, header.end + length)), end };
      }
      case 0x2a: {
        // *
        const count = parseInteger(header.text);
        if (count < 0) return { value: null, end: header.end };
        const items: RedisReply[] = [];
        let end = header.end;
        for (let i = 0; i < count; i++) {
          const item = this.parse(end);
          if (item === undefined) return undefined;
          items.push(item.value);
          end = item.end;
        }
        return { value: items, end };
      }
      default:
        throw new ProtocolError(`unexpected RESP type byte 0x${(type ?? 0).toString(16)}`);
    }
  }
}

function parseInteger(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value)) throw new ProtocolError(`invalid RESP integer ${JSON.stringify(text)}`);
  return value;
}

export interface RedisUrl {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db?: number;
}

export function parseRedisUrl(url: string): RedisUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`invalid Redis URL ${JSON.stringify(redactUrl(url))}`);
  }
  if (parsed.protocol !== 'redis:') {
    throw new Error(`unsupported Redis URL scheme ${parsed.protocol} (only redis:// is supported locally)`);
  }
  const result: RedisUrl = {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 6379,
  };
  if (parsed.username) result.username = decodeURIComponent(parsed.username);
  if (parsed.password) result.password = decodeURIComponent(parsed.password);
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '') {
    if (!/^\d+$/.test(db)) throw new Error(`invalid Redis database ${JSON.stringify(db)} in URL`);
    result.db = Number(db);
  }
  return result;
}

/** Hides the password of a connection URL for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return '<invalid url>';
  }
}

interface Slot {
  resolve(reply: RedisReply): void;
  reject(error: Error): void;
}

/** One socket with its own FIFO of replies awaited, so a dying socket can only fail its own commands. */
class Connection {
  readonly socket: net.Socket;
  private slots: (Slot | undefined)[] = [];
  private head = 0;
  private readonly parser = new RespParser();

  private readonly commandTimeoutMs: number;

  constructor(
    socket: net.Socket,
    commandTimeoutMs: number,
    onLost: (connection: Connection) => void,
    lostError: (reason: string | undefined) => Error,
  ) {
    this.socket = socket;
    this.commandTimeoutMs = commandTimeoutMs;
    socket.on('data', (chunk: Buffer) => {
      let replies: RedisReply[];
      try {
        replies = this.parser.push(chunk);
      } catch (error) {
        socket.destroy(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      for (const reply of replies) this.deliver(reply);
    });
    let reason: string | undefined;
    socket.on('error', (error: Error) => {
      reason = error.message;
    });
    socket.on('close', () => {
      onLost(this);
      this.failAll(lostError(reason));
    });
  }

  /** False as soon as Redis closed its side, before 'close' fires, so no command is written into a dying socket. */
  get usable(): boolean {
    return !this.socket.destroyed && this.socket.writable && !this.socket.readableEnded;
  }

  send(commands: readonly RedisCommand[]): Promise<RedisReply[]> {
    const payload = Buffer.concat(commands.map(encodeCommand));
    const replies = commands.map(
      () =>
        new Promise<RedisReply>((resolve, reject) => {
          this.slots.push({ resolve, reject });
        }),
    );
    this.socket.write(payload);
    const all = Promise.all(replies);
    // A Redis that accepts bytes but never answers (paused, partitioned) must not hang requests: drop the connection,
    // which fails everything pending on it.
    const timer = setTimeout(() => {
      this.socket.destroy(new Error(`no reply within ${this.commandTimeoutMs} ms`));
    }, this.commandTimeoutMs);
    const clear = (): void => clearTimeout(timer);
    all.then(clear, clear);
    return all;
  }

  failAll(error: Error): void {
    const pending = this.slots.slice(this.head);
    this.slots = [];
    this.head = 0;
    for (const slot of pending) slot?.reject(error);
  }

  private deliver(reply: RedisReply): void {
    const slot = this.slots[this.head];
    if (slot === undefined) return; // unsolicited reply: nothing waits for it
    this.slots[this.head] = undefined;
    this.head += 1;
    if (this.head > 1024 && this.head * 2 > this.slots.length) {
      this.slots.splice(0, this.head);
      this.head = 0;
    }
    slot.resolve(reply);
  }
}

export interface RespClientOptions {
  /** Bound for TCP connect plus the AUTH/SELECT/PING handshake. Default 2 s. */
  connectTimeoutMs?: number;
  /** A reply slower than this drops the connection (failing all its pending commands). Default 15 s. */
  commandTimeoutMs?: number;
}

/**
 * Connects lazily and reconnects on demand: after a drop, pending commands reject and the next command dials again,
 * failing within `connectTimeoutMs` while Redis stays unreachable. Commands are never retried (they may have run).
 */
export class RespClient {
  readonly url: string;
  private readonly target: RedisUrl;
  private readonly connectTimeoutMs: number;
  private readonly commandTimeoutMs: number;
  private connection: Connection | null = null;
  private connecting: Promise<Connection> | null = null;
  private closed = false;

  constructor(url: string, options: RespClientOptions = {}) {
    this.url = url;
    this.target = parseRedisUrl(url);
    this.connectTimeoutMs = options.connectTimeoutMs ?? 2_000;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 15_000;
  }

  /** Establishes the connection now (otherwise the first command does). */
  async connect(): Promise<void> {
    await this.ensureConnection();
  }

  async call(args: RedisCommand): Promise<RedisReply> {
    const [reply] = await this.send([args]);
    return reply ?? null;
  }

  /** Sends all commands in one write; replies in order. */
  pipeline(commands: readonly RedisCommand[]): Promise<RedisReply[]> {
    return this.send(commands);
  }

  /**
   * MULTI / commands / EXEC in one write, so nothing else on the shared connection interleaves. Resolves with EXEC's
   * replies, or with EXEC's error (EXECABORT when a command was rejected at queue time).
   */
  async multi(commands: readonly RedisCommand[]): Promise<RedisReply[] | ReplyError> {
    const replies = await this.send([['MULTI'], ...commands, ['EXEC']]);
    const exec = replies[replies.length - 1];
    if (exec instanceof ReplyError) return exec;
    if (Array.isArray(exec)) return exec;
    const multi = replies[0];
    if (multi instanceof ReplyError) return multi;
    return new ReplyError('EXECABORT Transaction discarded');
  }

  async close(): Promise<void> {
    this.closed = true;
    const connection = this.connection;
    this.connection = null;
    if (!connection) return;
    connection.failAll(new RedisConnectionError('Redis client closed'));
    const socket = connection.socket;
    if (socket.destroyed) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.end();
      setTimeout(() => socket.destroy(), 200).unref();
    });
  }

  private async send(commands: readonly RedisCommand[]): Promise<RedisReply[]> {
    if (this.closed) throw new RedisConnectionError('Redis client closed');
    const connection = this.connection?.usable ? this.connection : await this.ensureConnection();
    if (!connection.usable) throw this.lostError();
    return connection.send(commands);
  }

  private ensureConnection(): Promise<Connection> {
    if (this.connection?.usable) return Promise.resolve(this.connection);
    if (this.closed) return Promise.reject(new RedisConnectionError('Redis client closed'));
    this.connecting ??= this.dial().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private dial(): Promise<Connection> {
    const { host, port, username, password, db } = this.target;
    const where = `Redis at ${redactUrl(this.url)}`;
    return new Promise<Connection>((resolve, reject) => {
      const socket = net.connect({ host, port });
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 10_000);
      let settled = false;
      const fail = (error: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      };
      const timer = setTimeout(
        () => fail(new RedisConnectionError(`${where} did not answer within ${this.connectTimeoutMs} ms`)),
        this.connectTimeoutMs,
      );
      const connection = new Connection(
        socket,
        this.commandTimeoutMs,
        (lost) => {
          if (this.connection === lost) this.connection = null;
          fail(new RedisConnectionError(`${where} closed the connection`));
        },
        (reason) => this.lostError(reason),
      );
      socket.on('error', (error: Error) => {
        fail(new RedisConnectionError(`${where} is unreachable: ${error.message}`));
      });
      socket.once('connect', () => {
        const handshake: RedisCommand[] = [];
        if (password !== undefined) handshake.push(username ? ['AUTH', username, password] : ['AUTH', password]);
        if (db !== undefined && db !== 0) handshake.push(['SELECT', db]);
        // PING proves that Redis answers (a port that accepts but never replies is not a Redis).
        handshake.push(['PING']);
        connection.send(handshake).then(
          (results) => {
            const refused = results.find((reply) => reply instanceof ReplyError);
            if (refused instanceof ReplyError) {
              fail(new RedisHandshakeError(`${where} refused the handshake: ${refused.message}`));
              return;
            }
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            if (this.closed) {
              socket.destroy();
              reject(new RedisConnectionError('Redis client closed'));
              return;
            }
            this.connection = connection;
            resolve(connection);
          },
          (error: unknown) => fail(error instanceof Error ? error : new Error(String(error))),
        );
      });
    });
  }

  private lostError(reason?: string): RedisConnectionError {
    return new RedisConnectionError(
      `connection to Redis at ${redactUrl(this.url)} was lost${reason === undefined ? '' : ` (${reason})`}`,
    );
  }
}
