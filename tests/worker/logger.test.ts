import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger, logLevel, redact, REPEAT_WINDOW_MS } from '../../src/lib/logger.ts';

describe('structured logs', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('writes one JSON object per line with the bound fields', () => {
    const sink = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    createLogger({ requestId: 'req-12345678' }).child({ tenant: 'acme' }).info('hello', { status: 200 });
    expect(sink).toHaveBeenCalledTimes(1);
    const entry = JSON.parse(String(sink.mock.calls[0]?.[0])) as Record<string, unknown>;
    expect(entry).toMatchObject({
      level: 'info',
      message: 'hello',
      requestId: 'req-12345678',
      tenant: 'acme',
      status: 200,
    });
  });

  it('replaces values under secret-looking keys, at any depth', () => {
    expect(
      redact({
        password: 'hunter22',
        nested: { refreshToken: 'abc', authorization: 'Bearer x', DATABASE_URL: 'postgres://u:p@h/d' },
        list: [{ apiKey: 'k' }],
        email: 'a@example.com',
      }),
    ).toEqual({
      password: '[redacted]',
      nested: { refreshToken: '[redacted]', authorization: '[redacted]', DATABASE_URL: '[redacted]' },
      list: [{ apiKey: '[redacted]' }],
      email: 'a@example.com',
    });
  });

  it('cuts query parameters out of database error messages and stacks', () => {
    const cause = new Error('duplicate key value');
    const error = new Error('Failed query: insert into users values ($1)\nparams: s3cret-hash', { cause });
    const described = redact(error) as { message: string; stack: string; cause: { message: string } };
    expect(described.message).toBe('Failed query: insert into users values ($1)\nparams: [redacted]');
    expect(described.stack).not.toContain('s3cret-hash');
    expect(described.cause.message).toBe('duplicate key value');
  });

  it("writes an error's identifier-shaped code beside its name, and no code field otherwise", async () => {
    const { errors } = await import('jose');
    const expired = redact(new errors.JWTClaimValidationFailed('"exp" claim check failed', {}, 'exp', 'check_failed'));
    expect(expired).toMatchObject({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', message: '"exp" claim check failed' });
    const numeric = Object.assign(new Error('refused'), { code: 42 });
    expect(redact(numeric)).not.toHaveProperty('code');
    const prose = Object.assign(new Error('refused'), { code: 'not an identifier, but a sentence' });
    expect(redact(prose)).not.toHaveProperty('code');
    expect(redact(new Error('plain'))).not.toHaveProperty('code');
  });
});

describe('log levels', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('drops entries below the configured level, in children too', () => {
    const info = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const logger = createLogger({}, logLevel('warn')).child({ area: 'x' });
    logger.info('hidden');
    logger.warn('shown');
    expect(info).not.toHaveBeenCalled();
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('falls back to info for an unknown or missing level', () => {
    expect(logLevel(undefined)).toBe('info');
    expect(logLevel('verbose')).toBe('info');
    expect(logLevel('error')).toBe('error');
  });
});

describe('repeating failures', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('writes one line per message and window per isolate, and the next says how many were left out', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-12-04T12:00:00.000Z'));
    const sink = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const warnSink = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    // A message of its own: the isolate (and its windows) is shared with the other test files.
    const message = `dependency down ${crypto.randomUUID()}`;
    const lines = () => sink.mock.calls.map((call) => JSON.parse(String(call[0])) as Record<string, unknown>);
    // Two requests' loggers: the window is the isolate's, not the logger's.
    const first = createLogger({ requestId: 'one' });
    const second = createLogger({ requestId: 'two' }).child({ tenant: 'acme' });

    first.repeating('error', message, { rule: 'a' });
    second.repeating('error', message, { rule: 'b' });
    first.repeating('error', message, { rule: 'c' });
    // Another level of the same message, and another message, have windows of their own.
    second.repeating('warn', message);
    expect(warnSink).toHaveBeenCalledTimes(1);
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toMatchObject({ level: 'error', message, requestId: 'one', rule: 'a' });
    expect(lines()[0]).not.toHaveProperty('suppressed');

    vi.setSystemTime(Date.now() + REPEAT_WINDOW_MS - 1);
    second.repeating('error', message, { rule: 'd' });
    expect(lines()).toHaveLength(1);

    vi.setSystemTime(Date.now() + 1);
    second.repeating('error', message, { rule: 'e' });
    expect(lines()).toHaveLength(2);
    expect(lines()[1]).toMatchObject({ requestId: 'two', tenant: 'acme', rule: 'e', suppressed: 3 });

    // After a quiet window, the next line has nothing to report as left out.
    vi.setSystemTime(Date.now() + 5 * REPEAT_WINDOW_MS);
    first.repeating('error', message, { rule: 'f' });
    expect(lines()).toHaveLength(3);
    expect(lines()[2]).not.toHaveProperty('suppressed');
  });

  it('drops a repeating line below the configured level without counting it', () => {
    const sink = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const message = `quiet dependency ${crypto.randomUUID()}`;
    createLogger({}, logLevel('error')).repeating('warn', message);
    expect(sink).not.toHaveBeenCalled();
    createLogger({}, logLevel('warn')).repeating('warn', message);
    expect(JSON.parse(String(sink.mock.calls[0]?.[0]))).not.toHaveProperty('suppressed');
  });
});
